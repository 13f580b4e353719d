package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/client"
)

// newDeployCmd returns `roman deploy record|complete|get|list`, the commands
// a CI pipeline uses to tell roman about a deployment.
func newDeployCmd(o *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Record, complete and list deployments",
	}
	cmd.AddCommand(newDeployRecordCmd(o), newDeployCompleteCmd(o), newDeployGetCmd(o), newDeployListCmd(o))
	return cmd
}

func newDeployRecordCmd(o *clientOptions) *cobra.Command {
	var (
		req                                        client.RecordDeploymentRequest
		deployedBy, deploymentID, status, meta, at string
		passed                                     bool
	)
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Record a deployment (CI step 2)",
		Example: `  roman deploy record --environment production --version v2.5.3 \
    --git-commit "$GITHUB_SHA" --git-branch "$GITHUB_REF_NAME"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if f.Changed("deployed-by") {
				req.DeployedBy = &deployedBy
			}
			if f.Changed("deployment-id") {
				req.DeploymentID = &deploymentID
			}
			if f.Changed("status") {
				req.Status = &status
			}
			if f.Changed("health-check-passed") {
				req.HealthCheckPassed = &passed
			}
			if f.Changed("deployed-at") {
				t, err := time.Parse(time.RFC3339Nano, at)
				if err != nil {
					return fmt.Errorf("invalid --deployed-at %q (want RFC 3339, e.g. 2025-12-15T14:00:00Z)", at)
				}
				req.DeployedAt = &t
			}
			if f.Changed("metadata") {
				if !json.Valid([]byte(meta)) {
					return fmt.Errorf("invalid --metadata: not JSON")
				}
				req.Metadata = json.RawMessage(meta)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.RecordDeployment(cmd.Context(), req)
			if err != nil {
				return o.apiError(err)
			}
			if o.quiet {
				return printIDs(cmd.OutOrStdout(), d.DeploymentID)
			}
			return printDeployment(cmd.OutOrStdout(), o, d)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Service, "service", "", "service deployed (default \"default\"); every per-environment rule applies per service and environment")
	f.StringVar(&req.Environment, "environment", "", "environment, e.g. staging or production (required)")
	f.StringVar(&req.Version, "version", "", "version being deployed, e.g. v2.5.3 (required)")
	f.StringVar(&req.GitCommit, "git-commit", "", "git commit of the version (required)")
	f.StringVar(&req.GitBranch, "git-branch", "", "git branch of the version (required)")
	f.StringVar(&deployedBy, "deployed-by", "", "uuid of the user who deployed")
	f.StringVar(&deploymentID, "deployment-id", "", "deployment uuid (generated when absent; re-sending the same one is idempotent)")
	f.StringVar(&status, "status", "", "initial status: pending, in_progress (default), success or failed")
	f.StringVar(&meta, "metadata", "", "metadata as a JSON object")
	f.BoolVar(&passed, "health-check-passed", false, "record the deployment as having passed its health check (a known-good baseline)")
	f.StringVar(&at, "deployed-at", "", "when the deployment went live, RFC 3339 (default now)")
	for _, name := range []string{"environment", "version", "git-commit", "git-branch"} {
		_ = cmd.MarkFlagRequired(name)
	}
	o.bindQuiet(cmd)
	return cmd
}

func newDeployCompleteCmd(o *clientOptions) *cobra.Command {
	var (
		status, details string
		passed          bool
	)
	cmd := &cobra.Command{
		Use:   "complete DEPLOYMENT_ID",
		Short: "Mark a deployment success or failed",
		Long: "Mark a deployment success or failed. success takes a post-deployment snapshot and\n" +
			"opens the watch window; --health-check-passed reports CI's own passing smoke test.",
		Example: "  roman deploy complete 6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01 --status success",
		Args:    exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if status != roman.StatusSuccess && status != roman.StatusFailed {
				return fmt.Errorf("invalid --status %q (want success or failed)", status)
			}
			req := client.UpdateDeploymentRequest{Status: &status}
			if cmd.Flags().Changed("health-check-passed") {
				req.HealthCheckPassed = &passed
			}
			if cmd.Flags().Changed("health-check-details") {
				if !json.Valid([]byte(details)) {
					return fmt.Errorf("invalid --health-check-details: not JSON")
				}
				req.HealthCheckDetails = json.RawMessage(details)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.UpdateDeployment(cmd.Context(), args[0], req)
			if err != nil {
				return o.apiError(err)
			}
			return printDeployment(cmd.OutOrStdout(), o, d)
		},
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "success or failed (required)")
	f.BoolVar(&passed, "health-check-passed", false, "CI's own health check passed")
	f.StringVar(&details, "health-check-details", "", "health check details as a JSON object")
	_ = cmd.MarkFlagRequired("status")
	return cmd
}

func newDeployGetCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get DEPLOYMENT_ID",
		Short: "Show one deployment",
		Args:  exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.GetDeployment(cmd.Context(), args[0])
			if err != nil {
				return o.apiError(err)
			}
			return printDeployment(cmd.OutOrStdout(), o, d)
		},
	}
}

func newDeployListCmd(o *clientOptions) *cobra.Command {
	var f roman.DeploymentFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List deployments, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.Limit < 0 {
				return fmt.Errorf("invalid --limit %d (want a positive number)", f.Limit)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.ListDeployments(cmd.Context(), f)
			if err != nil {
				return o.apiError(err)
			}
			w := cmd.OutOrStdout()
			return printList(w, o, list, func(d *roman.Deployment) string { return d.DeploymentID }, "No deployments.", func() error {
				t := newTable(w, "DEPLOYMENT ID", "SERVICE", "ENVIRONMENT", "VERSION", "COMMIT", "BRANCH", "STATUS", "HEALTHY", "DEPLOYED AT")
				for _, d := range list {
					t.row(d.DeploymentID, roman.ServiceOrDefault(d.Service), d.Environment, d.Version, roman.ShortCommit(d.GitCommit), d.GitBranch, d.Status,
						yesNo(d.HealthCheckPassed), formatTime(d.DeployedAt))
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&f.Service, "service", "", "only this service")
	cmd.Flags().StringVar(&f.Environment, "environment", "", "only this environment")
	cmd.Flags().StringVar(&f.Status, "status", "", "only this status")
	cmd.Flags().IntVar(&f.Limit, "limit", 0, "at most this many (default: the server's, 50)")
	o.bindQuiet(cmd)
	return cmd
}

// printDeployment shows one deployment as fields, or as JSON.
func printDeployment(w io.Writer, o *clientOptions, d *roman.Deployment) error {
	if o.json() {
		return printJSON(w, d)
	}
	return fields(w,
		"Deployment", d.DeploymentID,
		"Service", roman.ServiceOrDefault(d.Service),
		"Environment", d.Environment,
		"Version", d.Version,
		"Git commit", d.GitCommit,
		"Git branch", d.GitBranch,
		"Status", d.Status,
		"Health check passed", yesNo(d.HealthCheckPassed),
		"Deployed at", formatTime(d.DeployedAt),
		"Completed at", formatTimePtr(d.CompletedAt),
		"Rolled back at", formatTimePtr(d.RolledBackAt),
		"Rollback from", strPtr(d.RollbackFrom),
		"Deployed by", strPtr(d.DeployedBy),
		"Metadata", rawJSON(d.Metadata),
	)
}
