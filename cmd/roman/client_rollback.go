package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/client"
)

// newRollbackCmd returns `roman rollback DEPLOYMENT_ID --reason TEXT`, a
// manual rollback (seed: POST /auto-rollback).
func newRollbackCmd(o *clientOptions) *cobra.Command {
	var (
		req            roman.RollbackRequest
		wait           bool
		timeout, every time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rollback DEPLOYMENT_ID --reason TEXT",
		Short: "Roll a deployment back to the last good version",
		Long: "Roll a deployment back to the newest earlier deployment of the same service and\n" +
			"environment that succeeded, passed its health check and has another git commit.\n" +
			"The constitution validates the rollback first; a rejection prints its violations\n" +
			"and exits non-zero. Without --wait the command returns once the server answers:\n" +
			"status success when the redeploy and its verification finished quickly, or\n" +
			"in_progress while the executor runs or the rolled-back system is being verified\n" +
			"(the rollback goes on on the server). With --wait it then polls the rollback\n" +
			"event until it has finished, and exits non-zero when the rollback failed, was\n" +
			"aborted, or did not finish within --timeout.",
		Example: `  roman rollback 6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01 --reason "Critical bug in payment flow"
  roman rollback 6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01 --reason "Checkout 500s" --wait --timeout 15m`,
		Args: exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.DeploymentID = args[0]
			if strings.TrimSpace(req.TriggerReason) == "" {
				return errors.New("--reason must not be empty")
			}
			if wait && (timeout <= 0 || every <= 0) {
				return errors.New("--timeout and --wait-interval must be positive")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			res, err := c.Rollback(cmd.Context(), req)
			var rej *roman.RejectedError
			if errors.As(err, &rej) {
				if perr := printRejection(w, o, rej); perr != nil {
					return perr
				}
				// The event id is in the printed rejection; the error is
				// the seed's text alone.
				return errors.New(rej.Error())
			}
			if err != nil {
				return o.apiError(err)
			}
			if wait && res.Status != roman.RollbackSuccess && res.Status != roman.RollbackFailed && res.Status != roman.RollbackAborted {
				return waitRollback(cmd, o, c, req.DeploymentID, res.EventID, timeout, every)
			}
			if err := printRollbackResult(w, o, res); err != nil {
				return err
			}
			if !res.Success {
				msg := "rollback " + res.Status
				if res.Error != "" {
					msg += ": " + res.Error
				}
				return errors.New(msg)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.TriggerReason, "reason", "", "why the deployment is rolled back (required)")
	f.StringVar(&req.InitiatedBy, "initiated-by", "", "uuid of the person asking, for the audit trail")
	f.BoolVar(&req.WithMigrations, "with-migrations", false, "also run the deployment's migration rollback scripts")
	f.BoolVar(&req.Override, "override", false, "admin only: turn constitutional violations into warnings")
	f.BoolVar(&wait, "wait", false, "poll until the rollback event has finished; exit non-zero when it failed or was aborted")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait: give up (exit non-zero) after this long")
	f.DurationVar(&every, "wait-interval", 2*time.Second, "with --wait: how often to poll")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// waitRollback polls a rollback event (through the history of its
// deployment) until it has finished, prints it, and returns an error when
// it did not succeed or did not finish in time.
func waitRollback(cmd *cobra.Command, o *clientOptions, c *client.Client, deploymentID, eventID string, timeout, every time.Duration) error {
	w := cmd.OutOrStdout()
	if !o.json() {
		if _, err := fmt.Fprintf(w, "Rollback %s is in progress; waiting up to %s for it to finish.\n", cell(eventID), timeout); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		list, err := c.History(cmd.Context(), roman.RollbackFilter{DeploymentID: deploymentID, Limit: 100})
		if err != nil {
			return o.apiError(err)
		}
		var ev *roman.RollbackEvent
		for _, e := range list {
			if e.EventID == eventID {
				ev = e
			}
		}
		if ev != nil && ev.Finished() {
			if err := printRollbackEvent(w, o, ev); err != nil {
				return err
			}
			if ev.Status != roman.RollbackSuccess {
				return fmt.Errorf("rollback %s %s", eventID, ev.Status)
			}
			return nil
		}
		if time.Now().Add(every).After(deadline) {
			status := "not found"
			if ev != nil {
				status = ev.Status
			}
			return fmt.Errorf("rollback %s did not finish within %s (status %s)", eventID, timeout, status)
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(every):
		}
	}
}

// printRollbackEvent shows a finished rollback event and its steps.
func printRollbackEvent(w io.Writer, o *clientOptions, ev *roman.RollbackEvent) error {
	if o.json() {
		return printJSON(w, ev)
	}
	if err := fields(w,
		"Rollback", ev.Status,
		"Event", ev.EventID,
		"Deployment", ev.DeploymentID,
		"Trigger", ev.TriggerType+": "+ev.TriggerReason,
		"Initiated at", formatTime(ev.InitiatedAt),
		"Completed at", formatTimePtr(ev.CompletedAt),
	); err != nil {
		return err
	}
	t := newTable(w, "STEP", "STATUS", "FINISHED AT")
	for _, st := range ev.RollbackSteps {
		t.row(st.Name, st.Status, formatTime(st.FinishedAt))
	}
	return t.flush()
}

// printRejection shows a constitutional rejection: the seed's body as JSON,
// or the violations and warnings as a list.
func printRejection(w io.Writer, o *clientOptions, rej *roman.RejectedError) error {
	v := rej.Validation
	if o.json() {
		if v.Violations == nil {
			v.Violations = []string{}
		}
		if v.Warnings == nil {
			v.Warnings = []string{}
		}
		return printJSON(w, api.ErrorResponse{Error: rej.Error(), Validation: &v, EventID: rej.EventID})
	}
	var b strings.Builder
	b.WriteString("Rollback rejected by the constitution")
	if rej.EventID != "" {
		b.WriteString(" (event " + rej.EventID + ")")
	}
	b.WriteString(".\n")
	writeList(&b, "Violations", v.Violations)
	writeList(&b, "Warnings", v.Warnings)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeList(b *strings.Builder, title string, items []string) {
	if len(items) == 0 {
		return
	}
	b.WriteString(title + ":\n")
	for _, it := range items {
		b.WriteString("  - " + cell(it) + "\n")
	}
}

// printRollbackResult shows the outcome of a rollback.
func printRollbackResult(w io.Writer, o *clientOptions, res *roman.RollbackResult) error {
	if o.json() {
		return printJSON(w, res)
	}
	target := "-"
	if t := res.TargetDeployment; t != nil {
		target = fmt.Sprintf("%s (commit %s, deployed %s, deployment %s)", t.Version, roman.ShortCommit(t.GitCommit), formatTime(t.DeployedAt), t.DeploymentID)
	}
	validation := "PASSED"
	if res.Validation.Override {
		validation = "PASSED (admin override)"
	} else if !res.Validation.Compliant {
		validation = "FAILED"
	}
	pairs := []string{
		"Rollback", res.Status,
		"Event", res.EventID,
		"Target", target,
		"New deployment", res.NewDeploymentID,
		"Snapshot", res.SnapshotID,
		"Constitutional validation", validation,
		"Duration", formatDuration(time.Duration(res.DurationMS * float64(time.Millisecond))),
	}
	if res.Error != "" {
		pairs = append(pairs, "Error", res.Error)
	}
	if err := fields(w, pairs...); err != nil {
		return err
	}
	var b strings.Builder
	writeList(&b, "Warnings", res.Validation.Warnings)
	_, err := io.WriteString(w, b.String())
	return err
}

// newCheckCmd returns `roman check DEPLOYMENT_ID` (seed: POST
// /auto-rollback/check).
func newCheckCmd(o *clientOptions) *cobra.Command {
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "check DEPLOYMENT_ID",
		Short: "Show a deployment's health and whether it should roll back",
		Args:  exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			res, err := c.Check(cmd.Context(), args[0])
			if err != nil {
				return o.apiError(err)
			}
			if err := printCheck(cmd.OutOrStdout(), o, res); err != nil {
				return err
			}
			if exitCode && res.ShouldRollback {
				return fmt.Errorf("deployment should roll back: %s", res.Reason)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit non-zero when the deployment should roll back")
	return cmd
}

func printCheck(w io.Writer, o *clientOptions, res *roman.CheckResult) error {
	if o.json() {
		return printJSON(w, res)
	}
	h := res.Health
	pairs := []string{
		"Deployment", res.DeploymentID,
		"Should roll back", yesNo(res.ShouldRollback),
		"Reason", res.Reason,
		"Status", h.Status,
		"Healthy", yesNo(h.Healthy),
		"Error rate", roman.FormatErrorRate(h.ErrorRatePerMinute),
		"Recent errors", strconv.FormatInt(h.RecentErrors, 10) + " in 5 minutes",
		"DB connections", optNumber(h.DatabaseConnections, ""),
		"DB connection utilization", optNumber(h.DatabaseConnectionUtilization, "%"),
		"Active queries", optNumber(h.ActiveQueries, ""),
		"p95 response time", optNumber(h.P95ResponseTimeMS, " ms"),
		"Memory usage", optNumber(h.MemoryUsagePercent, "%"),
		"Measured at", formatTime(h.Timestamp),
	}
	if err := fields(w, pairs...); err != nil {
		return err
	}
	var b strings.Builder
	writeList(&b, "Warnings", h.Warnings)
	if len(h.Unknown) > 0 {
		var unknown []string
		for _, k := range sortedKeys(h.Unknown) {
			unknown = append(unknown, k+": "+h.Unknown[k])
		}
		writeList(&b, "Unknown signals", unknown)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// optNumber prints a signal that may be unknown (null).
func optNumber(v *float64, unit string) string {
	if v == nil {
		return "unknown"
	}
	return roman.FormatRate(*v) + unit
}

// newHistoryCmd returns `roman history` (seed: GET
// /auto-rollback/history?limit=10).
func newHistoryCmd(o *clientOptions) *cobra.Command {
	f := roman.RollbackFilter{Limit: 10}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List rollback events, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.Limit <= 0 {
				return fmt.Errorf("invalid --limit %d (want a positive number)", f.Limit)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.History(cmd.Context(), f)
			if err != nil {
				return o.apiError(err)
			}
			w := cmd.OutOrStdout()
			return printList(w, o, list, func(e *roman.RollbackEvent) string { return e.EventID }, "No rollbacks.", func() error {
				t := newTable(w, "EVENT ID", "DEPLOYMENT ID", "SERVICE", "ENVIRONMENT", "TRIGGER", "STATUS", "INITIATED AT", "DURATION", "REASON")
				for _, e := range list {
					dur := "-"
					if e.CompletedAt != nil {
						dur = formatDuration(e.CompletedAt.Sub(e.InitiatedAt))
					}
					t.row(e.EventID, e.DeploymentID, roman.ServiceOrDefault(e.Service), e.Environment, e.TriggerType, e.Status, formatTime(e.InitiatedAt), dur, e.TriggerReason)
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().IntVar(&f.Limit, "limit", 10, "at most this many")
	cmd.Flags().StringVar(&f.Service, "service", "", "only this service")
	cmd.Flags().StringVar(&f.Environment, "environment", "", "only this environment")
	cmd.Flags().StringVar(&f.DeploymentID, "deployment", "", "only rollbacks of this deployment")
	cmd.Flags().StringVar(&f.Status, "status", "", "only this status (pending, in_progress, success, failed, aborted)")
	o.bindQuiet(cmd)
	return cmd
}
