package main

import (
	"encoding/json"
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

// newExplainCmd returns `roman explain DEPLOYMENT_ID` (GET
// /deployments/{deployment_id}/explain).
func newExplainCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "explain DEPLOYMENT_ID",
		Short: "Show why a deployment did or didn't roll back: its decision timeline",
		Long: "Print the decision timeline of one deployment from roman's audit trail, oldest\n" +
			"first, one line per entry: recorded, completed, the watch, readings that crossed a\n" +
			"line, triggers, suppressions, constitutional validations with each rule's verdict,\n" +
			"rollbacks and their steps, snapshots, the end of the watch window, and rollbacks\n" +
			"that went back to this release. Then the verdict: why it did or didn't roll back.\n" +
			"With --output json, the whole explanation with each entry's details.",
		Example: "  roman explain 6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01",
		Args:    exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ex, err := c.Explain(cmd.Context(), args[0])
			if err != nil {
				return o.apiError(err)
			}
			w := cmd.OutOrStdout()
			if o.json() {
				return printJSON(w, ex)
			}
			return printExplanation(w, ex)
		},
	}
}

// printExplanation writes the timeline, one line per entry, then the
// verdict.
func printExplanation(w io.Writer, ex *roman.Explanation) error {
	d := ex.Deployment
	if d != nil {
		if _, err := fmt.Fprintf(w, "Deployment %s: %s to %s (commit %s), status %s\n\n", cell(d.DeploymentID), cell(d.Version),
			cell(d.Environment), cell(roman.ShortCommit(d.GitCommit)), cell(d.Status)); err != nil {
			return err
		}
	}
	t := newTable(w, "TIME", "SEVERITY", "KIND", "WHAT HAPPENED")
	for _, e := range ex.Timeline {
		t.row(formatTime(e.At), e.Severity, e.Kind, e.Summary)
	}
	if err := t.flush(); err != nil {
		return err
	}
	v := ex.Verdict
	_, err := fmt.Fprintf(w, "\nVerdict: %s (status %s, health check passed: %s)\n", cell(v.Why), cell(v.Status), yesNo(v.HealthCheckPassed))
	if err == nil && v.JudgeVerdict != "" {
		_, err = fmt.Fprintf(w, "Judge: %s, %s. %s\n", cell(v.Judge), cell(v.JudgeVerdict), cell(v.JudgeWhy))
	}
	return err
}

// newEventsCmd returns `roman events` (GET /events).
func newEventsCmd(o *clientOptions) *cobra.Command {
	var (
		f     roman.RomanEventFilter
		since string
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List roman's audit trail (roman_events), newest first",
		Long: "List the audit trail: every decision roman recorded (deployments recorded, watches,\n" +
			"health warnings and alerts, triggers, suppressions, validations, rollbacks, chat-ops\n" +
			"approvals, undeliverable alerts), newest first, filtered by the flags.",
		Example: "  roman events --deployment 6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01\n" +
			"  roman events --type rollback_validation --severity error --since 24h",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.Limit < 0 {
				return fmt.Errorf("invalid --limit %d (want a positive number)", f.Limit)
			}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				f.Since = &t
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.Events(cmd.Context(), f)
			if err != nil {
				return o.apiError(err)
			}
			w := cmd.OutOrStdout()
			return printList(w, o, list, func(e *roman.RomanEvent) string { return e.EventID }, "No events.", func() error {
				t := newTable(w, "TIME", "TYPE", "SEVERITY", "DEPLOYMENT ID", "MESSAGE")
				for _, e := range list {
					var md struct {
						DeploymentID string `json:"deployment_id"`
					}
					_ = json.Unmarshal(e.Metadata, &md)
					t.row(formatTime(e.Timestamp), e.EventType, e.Severity, md.DeploymentID, e.Message)
				}
				return t.flush()
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.EventType, "type", "", "only this event type, e.g. auto_rollback_triggered")
	fl.StringVar(&f.Severity, "severity", "", "only this severity (info, warning, error, critical)")
	fl.StringVar(&f.DeploymentID, "deployment", "", "only events about this deployment")
	fl.StringVar(&f.Environment, "environment", "", "only events of this environment")
	fl.StringVar(&f.Service, "service", "", "only events of this service (events that name none belong to \"default\")")
	fl.StringVar(&since, "since", "", "only events since then: RFC 3339 time or a duration ago, e.g. 1h")
	fl.IntVar(&f.Limit, "limit", 0, "at most this many (default: the server's, 100)")
	o.bindQuiet(cmd)
	return cmd
}

// parseSince reads --since: an RFC 3339 time or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q (want RFC 3339, e.g. 2025-12-15T14:00:00Z, or a duration, e.g. 1h)", s)
}

// newErrorsCmd returns `roman errors` and its `send` subcommand.
func newErrorsCmd(o *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "errors",
		Short: "Report application errors to roman (the built-in health source) and list a release's errors",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newErrorsSendCmd(o), newErrorsListCmd(o))
	return cmd
}

// newErrorsSendCmd returns `roman errors send` (POST /errors).
func newErrorsSendCmd(o *clientOptions) *cobra.Command {
	var (
		ev    client.ErrorEvent
		count int
		stdin bool
	)
	cmd := &cobra.Command{
		Use:   "send (--deployment ID | --environment ENV) --message TEXT | send --stdin",
		Short: "Post error events; the monitor evaluates the deployment at once",
		Long: "Post error events to roman (POST /errors). Give the deployment they belong to, or\n" +
			"the environment (they then count for its current deployment), and the message;\n" +
			"--count sends that many identical events in one batch. Without --fingerprint,\n" +
			"roman groups them by its own fingerprint of --type, the message (numbers, ids,\n" +
			"quoted strings and e-mails normalised) and the top frames of --stack. With\n" +
			"--stdin the body is read from standard input as JSON: one event or\n" +
			"{\"events\": [...]}. The batch is stored whole and the deployment's health is\n" +
			"evaluated once; a trigger that fires inside the watch window starts an\n" +
			"automatic rollback.",
		Example: "  roman errors send --environment production --message \"checkout 500\" --count 20\n" +
			"  echo '{\"events\":[{\"environment\":\"production\",\"message\":\"boom\"}]}' | roman errors send --stdin",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			if stdin {
				if ev != (client.ErrorEvent{}) || cmd.Flags().Changed("count") {
					return errors.New("--stdin takes the events from standard input; do not combine it with event flags")
				}
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), api.DefaultMaxIngestBodyBytes+1))
				if err != nil {
					return fmt.Errorf("reading standard input: %w", err)
				}
				if !json.Valid(b) {
					return errors.New("standard input is not JSON (want one event or {\"events\": [...]})")
				}
				body = b
			} else {
				if (ev.DeploymentID == "") == (ev.Environment == "") {
					return errors.New("give one of --deployment and --environment")
				}
				if strings.TrimSpace(ev.Message) == "" {
					return errors.New("--message must not be empty")
				}
				if count < 1 || count > 10000 {
					return fmt.Errorf("invalid --count %d (want 1 to 10000)", count)
				}
				if ev.OccurredAt == "" {
					ev.OccurredAt = time.Now().UTC().Format(time.RFC3339Nano)
				}
				evs := make([]client.ErrorEvent, count)
				for i := range evs {
					evs[i] = ev
				}
				b, err := json.Marshal(map[string]any{"events": evs})
				if err != nil {
					return err
				}
				body = b
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			res, err := c.SendErrorsJSON(cmd.Context(), body)
			if err != nil {
				return o.apiError(err)
			}
			w := cmd.OutOrStdout()
			if o.json() {
				return printJSON(w, res)
			}
			return fields(w, "Accepted", strconv.Itoa(res.Accepted), "Deployments", strings.Join(res.Deployments, ", "))
		},
	}
	f := cmd.Flags()
	f.StringVar(&ev.DeploymentID, "deployment", "", "deployment the errors belong to")
	f.StringVar(&ev.Environment, "environment", "", "environment whose current deployment the errors belong to")
	f.StringVar(&ev.Message, "message", "", "error message")
	f.StringVar(&ev.Severity, "severity", "", "error severity (default error)")
	f.StringVar(&ev.Fingerprint, "fingerprint", "", "fingerprint grouping identical errors (default: roman's own)")
	f.StringVar(&ev.ErrorType, "type", "", "error type or class, e.g. KeyError (feeds roman's fingerprint)")
	f.StringVar(&ev.Stack, "stack", "", "stack trace (its top frames feed roman's fingerprint)")
	f.StringVar(&ev.OccurredAt, "occurred-at", "", "when the errors happened, RFC 3339 (default now)")
	f.IntVar(&count, "count", 1, "how many identical events to send in one batch")
	f.BoolVar(&stdin, "stdin", false, "read the JSON body from standard input")
	return cmd
}
