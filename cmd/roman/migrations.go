package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/client"
)

// newMigrationsCmd returns `roman migrations record|list`.
func newMigrationsCmd(o *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrations",
		Short: "Record and list the database migrations of deployments",
		Long: `CI records each migration a deployment applied, with the SQL that undoes it.
A manual rollback with --with-migrations runs those scripts, newest first, in one
transaction against the application database (ROMAN_APP_DATABASE).`,
	}
	cmd.AddCommand(newMigrationsRecordCmd(o), newMigrationsListCmd(o))
	return cmd
}

func newMigrationsRecordCmd(o *clientOptions) *cobra.Command {
	var name, hash, migrationFile, script, scriptFile, appliedAt, errMsg string
	var ms int64
	cmd := &cobra.Command{
		Use:   "record DEPLOYMENT_ID --name NAME (--hash HASH | --migration-file FILE) [--rollback-file FILE]",
		Short: "Record a migration applied by a deployment",
		Example: `  roman migrations record "$DEPLOYMENT_ID" --name 20251215_0001_orders \
    --migration-file db/migrations/20251215_0001_orders.up.sql \
    --rollback-file db/migrations/20251215_0001_orders.down.sql --execution-time-ms 42`,
		Args: exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := client.RecordMigrationRequest{MigrationName: name, MigrationHash: hash}
			if migrationFile != "" {
				if hash != "" {
					return fmt.Errorf("give --hash or --migration-file, not both")
				}
				b, err := os.ReadFile(migrationFile)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				req.MigrationHash = "sha256:" + hex.EncodeToString(sum[:])
			}
			if req.MigrationHash == "" {
				return fmt.Errorf("give --hash or --migration-file")
			}
			switch {
			case script != "" && scriptFile != "":
				return fmt.Errorf("give --rollback-script or --rollback-file, not both")
			case scriptFile != "":
				b, err := os.ReadFile(scriptFile)
				if err != nil {
					return err
				}
				s := string(b)
				req.RollbackScript = &s
			case script != "":
				req.RollbackScript = &script
			}
			if cmd.Flags().Changed("execution-time-ms") {
				req.ExecutionTimeMS = &ms
			}
			if appliedAt != "" {
				t, err := time.Parse(time.RFC3339Nano, appliedAt)
				if err != nil {
					return fmt.Errorf("invalid --applied-at %q (want RFC 3339, e.g. 2025-12-15T14:00:00Z)", appliedAt)
				}
				req.AppliedAt = &t
			}
			if errMsg != "" {
				req.ErrorMessage = &errMsg
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			m, err := c.RecordMigration(cmd.Context(), args[0], req)
			if err != nil {
				return o.apiError(err)
			}
			return printMigrations(cmd.OutOrStdout(), o, []*roman.Migration{m}, true)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "migration name, unique (required)")
	f.StringVar(&hash, "hash", "", "migration hash (or --migration-file)")
	f.StringVar(&migrationFile, "migration-file", "", "the migration's file; its SHA-256 is the hash")
	f.StringVar(&script, "rollback-script", "", "SQL that undoes the migration")
	f.StringVar(&scriptFile, "rollback-file", "", "file holding the SQL that undoes the migration")
	f.Int64Var(&ms, "execution-time-ms", 0, "how long the migration took")
	f.StringVar(&appliedAt, "applied-at", "", "when it was applied (RFC 3339; default now)")
	f.StringVar(&errMsg, "error", "", "the migration failed with this error (the database is then inconsistent)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newMigrationsListCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list DEPLOYMENT_ID",
		Short: "List a deployment's migrations in applied order, with rollback outcomes",
		Args:  exactArgs("DEPLOYMENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.ListMigrations(cmd.Context(), args[0])
			if err != nil {
				return o.apiError(err)
			}
			return printMigrations(cmd.OutOrStdout(), o, list, false)
		},
	}
}

// printMigrations prints migrations as a table, or JSON (one object when
// single, else a list).
func printMigrations(w io.Writer, o *clientOptions, list []*roman.Migration, single bool) error {
	if o.json() {
		if single && len(list) == 1 {
			return printJSON(w, list[0])
		}
		if list == nil {
			list = []*roman.Migration{}
		}
		return printJSON(w, list)
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "No migrations.")
		return err
	}
	t := newTable(w, "NAME", "HASH", "APPLIED AT", "MS", "ROLLBACK SCRIPT", "ROLLED BACK AT", "ROLLBACK", "ERROR")
	for _, m := range list {
		ms, script, outcome, errText := "-", "no", "-", "-"
		if m.ExecutionTimeMS != nil {
			ms = strconv.FormatInt(*m.ExecutionTimeMS, 10)
		}
		if m.RollbackScript != nil && *m.RollbackScript != "" {
			script = "yes"
		}
		if m.RollbackSuccessful != nil {
			outcome = "failed"
			if *m.RollbackSuccessful {
				outcome = "ok"
			}
		}
		if m.ErrorMessage != nil {
			errText = *m.ErrorMessage
		}
		t.row(m.MigrationName, shortHash(m.MigrationHash), formatTime(m.AppliedAt), ms, script, formatTimePtr(m.RolledBackAt), outcome, errText)
	}
	return t.flush()
}
