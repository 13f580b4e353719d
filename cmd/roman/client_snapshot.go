package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman"
)

// newSnapshotCmd returns `roman snapshot create|get|list|diff`.
func newSnapshotCmd(o *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Take, show and compare system snapshots",
	}
	cmd.AddCommand(newSnapshotCreateCmd(o), newSnapshotGetCmd(o), newSnapshotListCmd(o), newSnapshotDiffCmd(o))
	return cmd
}

func newSnapshotCreateCmd(o *clientOptions) *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:     "create DEPLOYMENT_ID --type TYPE",
		Short:   "Take a snapshot of the system for a deployment",
		Example: "  roman snapshot create 6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01 --type pre_deployment",
		Args:    exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !roman.ValidSnapshotType(typ) {
				return fmt.Errorf("invalid --type %q (want pre_deployment, post_deployment or pre_rollback)", typ)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			s, err := c.CreateSnapshot(cmd.Context(), args[0], typ)
			if err != nil {
				return o.apiError(err)
			}
			if o.quiet {
				return printIDs(cmd.OutOrStdout(), s.SnapshotID)
			}
			return printSnapshot(cmd.OutOrStdout(), o, s)
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "pre_deployment, post_deployment or pre_rollback (required)")
	_ = cmd.MarkFlagRequired("type")
	o.bindQuiet(cmd)
	return cmd
}

func newSnapshotGetCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get SNAPSHOT_ID",
		Short: "Show one snapshot",
		Args:  exactArgs("SNAPSHOT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			s, err := c.GetSnapshot(cmd.Context(), args[0])
			if err != nil {
				return o.apiError(err)
			}
			return printSnapshot(cmd.OutOrStdout(), o, s)
		},
	}
}

func newSnapshotListCmd(o *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list DEPLOYMENT_ID",
		Short: "List a deployment's snapshots, newest first",
		Args:  exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.ListSnapshots(cmd.Context(), args[0])
			if err != nil {
				return o.apiError(err)
			}
			w := cmd.OutOrStdout()
			return printList(w, o, list, func(s *roman.Snapshot) string { return s.SnapshotID }, "No snapshots.", func() error {
				t := newTable(w, "SNAPSHOT ID", "TYPE", "SCHEMA HASH", "TABLES", "ROWS", "CREATED AT")
				for _, s := range list {
					var rows int64
					for _, n := range s.TableCounts {
						rows += n
					}
					t.row(s.SnapshotID, s.SnapshotType, shortHash(s.DatabaseSchemaHash), strconv.Itoa(len(s.TableCounts)),
						strconv.FormatInt(rows, 10), formatTime(s.CreatedAt))
				}
				return t.flush()
			})
		},
	}
	o.bindQuiet(cmd)
	return cmd
}

func newSnapshotDiffCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "diff SNAPSHOT_A SNAPSHOT_B",
		Short: "Show what changed from snapshot A to snapshot B",
		Args:  exactArgs("SNAPSHOT_A", "SNAPSHOT_B"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.DiffSnapshots(cmd.Context(), args[0], args[1])
			if err != nil {
				return o.apiError(err)
			}
			return printDiff(cmd.OutOrStdout(), o, d)
		},
	}
}

// printSnapshot shows a snapshot's fields and its table counts.
func printSnapshot(w io.Writer, o *clientOptions, s *roman.Snapshot) error {
	if o.json() {
		return printJSON(w, s)
	}
	if err := fields(w,
		"Snapshot", s.SnapshotID,
		"Deployment", s.DeploymentID,
		"Type", s.SnapshotType,
		"Schema hash", s.DatabaseSchemaHash,
		"Created at", formatTime(s.CreatedAt),
		"Key metrics", rawJSON(s.KeyMetrics),
		"Config keys", strconv.Itoa(len(s.EnvironmentConfig)),
	); err != nil {
		return err
	}
	if len(s.TableCounts) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := newTable(w, "TABLE", "ROWS")
	for _, name := range sortedKeys(s.TableCounts) {
		t.row(name, strconv.FormatInt(s.TableCounts[name], 10))
	}
	return t.flush()
}

// printDiff shows a snapshot diff: schema, per-table deltas, metric deltas
// and changed configuration keys.
func printDiff(w io.Writer, o *clientOptions, d *roman.SnapshotDiff) error {
	if o.json() {
		return printJSON(w, d)
	}
	if err := fields(w,
		"From", d.From,
		"To", d.To,
		"Schema changed", yesNo(d.SchemaChanged),
	); err != nil {
		return err
	}
	if len(d.TableCounts) > 0 {
		added, removed := map[string]bool{}, map[string]bool{}
		for _, t := range d.AddedTables {
			added[t] = true
		}
		for _, t := range d.RemovedTables {
			removed[t] = true
		}
		fmt.Fprintln(w)
		t := newTable(w, "TABLE", "ROW DELTA", "NOTE")
		for _, name := range sortedKeys(d.TableCounts) {
			note := ""
			switch {
			case added[name]:
				note = "added"
			case removed[name]:
				note = "removed"
			}
			t.row(name, signedInt(d.TableCounts[name]), note)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(d.Metrics) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "METRIC", "DELTA")
		for _, name := range sortedKeys(d.Metrics) {
			t.row(name, signedFloat(d.Metrics[name]))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(d.ConfigChanged) > 0 {
		fmt.Fprintln(w)
		_, err := fmt.Fprintf(w, "Config changed: %s\n", cell(strings.Join(d.ConfigChanged, ", ")))
		return err
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func signedInt(n int64) string {
	if n > 0 {
		return "+" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

func signedFloat(x float64) string {
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if x > 0 {
		return "+" + s
	}
	return s
}

// shortHash abbreviates a SHA-256 hex digest for tables.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
