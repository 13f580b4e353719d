package sqldb_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

// TestReopen checks that opening an existing database applies no migration
// and keeps the data, on both dialects.
func TestReopen(t *testing.T) {
	for _, s := range testkit.Stores {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			url := s.URL(t)
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			db, err := sqldb.Open(ctx, url, logger)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "applied database migration") {
				t.Errorf("first open logged no migration: %s", logs.String())
			}
			if db.Dialect() != s.Name {
				t.Errorf("Dialect() = %q", db.Dialect())
			}
			d := newDeployment("production", "v1", t0, roman.StatusSuccess)
			mustCreate(t, db, d)
			db.Close()

			logs.Reset()
			db, err = sqldb.Open(ctx, url, logger)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer db.Close()
			if logs.Len() != 0 {
				t.Errorf("reopen was not a no-op: %s", logs.String())
			}
			if _, err := db.GetDeployment(ctx, d.DeploymentID); err != nil {
				t.Errorf("data lost on reopen: %v", err)
			}
			if err := db.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

// TestPostgresConcurrentOpen starts several stores on one fresh database at
// once, as replicas do: the advisory lock makes them take turns.
func TestPostgresConcurrentOpen(t *testing.T) {
	url := testpg.URL(t)
	const n = 4
	errs := make([]error, n)
	dbs := make([]*sqldb.DB, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = sqldb.Open(ctx, url, nil) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		defer dbs[i].Close()
	}
	if t.Failed() {
		return
	}
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, dbs[0], d)
	if _, err := dbs[n-1].GetDeployment(ctx, d.DeploymentID); err != nil {
		t.Fatal(err)
	}
}

// seedColumns is the seed's "Database Schema" section, column for column
// (name, udt type, nullable, default), plus rollback_events.environment.
var seedColumns = map[string][]string{
	"deployments": {
		"id int8 NO nextval", "deployment_id uuid NO", "environment text NO", "version text NO",
		"git_commit text NO", "git_branch text NO", "deployed_by uuid YES", "deployed_at timestamptz YES now()",
		"status text NO", "rollback_from uuid YES", "health_check_passed bool YES false",
		"health_check_details jsonb YES", "constitutional_validation jsonb YES", "metadata jsonb YES",
		"completed_at timestamptz YES", "rolled_back_at timestamptz YES",
		// roman's addition (services); its default keeps the seed's INSERTs working.
		"service text NO 'default'::text",
	},
	"rollback_events": {
		"id int8 NO nextval", "event_id uuid NO", "deployment_id uuid YES", "trigger_type text NO",
		"trigger_reason text NO", "initiated_by uuid YES", "initiated_at timestamptz YES now()",
		"status text NO", "rollback_plan jsonb YES", "rollback_steps _jsonb YES",
		"constitutional_validation jsonb YES", "completed_at timestamptz YES", "metadata jsonb YES",
		"environment text NO", "service text NO 'default'::text",
	},
	"system_snapshots": {
		"id int8 NO nextval", "snapshot_id uuid NO", "deployment_id uuid YES", "snapshot_type text NO",
		"database_schema_hash text YES", "table_counts jsonb YES", "key_metrics jsonb YES",
		"environment_config jsonb YES", "created_at timestamptz YES now()", "table_count_methods jsonb YES",
	},
	"migration_history": {
		"id int8 NO nextval", "deployment_id uuid YES", "migration_name text NO", "migration_hash text NO",
		"applied_at timestamptz YES now()", "rolled_back_at timestamptz YES", "rollback_successful bool YES",
		"execution_time_ms int4 YES", "error_message text YES", "rollback_script text YES", "metadata jsonb YES",
	},
}

// seedConstraints are the seed's keys, as pg_get_constraintdef prints them.
var seedConstraints = map[string][]string{
	"deployments": {"PRIMARY KEY (id)", "UNIQUE (deployment_id)",
		"FOREIGN KEY (rollback_from) REFERENCES ops.deployments(deployment_id)"},
	"rollback_events": {"PRIMARY KEY (id)", "UNIQUE (event_id)",
		"FOREIGN KEY (deployment_id) REFERENCES ops.deployments(deployment_id)"},
	"system_snapshots": {"PRIMARY KEY (id)", "UNIQUE (snapshot_id)",
		"FOREIGN KEY (deployment_id) REFERENCES ops.deployments(deployment_id)"},
	"migration_history": {"PRIMARY KEY (id)", "UNIQUE (migration_name)",
		"FOREIGN KEY (deployment_id) REFERENCES ops.deployments(deployment_id)"},
}

// TestPostgresSchema compares schema ops with the seed's CREATE TABLEs.
func TestPostgresSchema(t *testing.T) {
	url := testpg.URL(t)
	openURL(t, url)
	// A plain connection (default search_path), as the seed's SQL would use.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for table, want := range seedColumns {
		rows, err := conn.Query(ctx, `SELECT column_name, udt_name, is_nullable, coalesce(column_default, '')
			FROM information_schema.columns WHERE table_schema = 'ops' AND table_name = $1
			ORDER BY ordinal_position`, table)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var name, typ, null, def string
			if err := rows.Scan(&name, &typ, &null, &def); err != nil {
				t.Fatal(err)
			}
			col := fmt.Sprintf("%s %s %s", name, typ, null)
			switch {
			case strings.HasPrefix(def, "nextval("):
				col += " nextval"
			case def != "":
				col += " " + def
			}
			got = append(got, col)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("ops.%s columns:\n got %q\nwant %q", table, got, want)
		}

		rows, err = conn.Query(ctx, `SELECT pg_get_constraintdef(oid) FROM pg_constraint
			WHERE conrelid = ('ops.' || $1)::regclass ORDER BY 1`, table)
		if err != nil {
			t.Fatal(err)
		}
		cons, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range seedConstraints[table] {
			if !contains(cons, c) {
				t.Errorf("ops.%s lacks %q (has %q)", table, c, cons)
			}
		}
	}
	// The seed's query works verbatim.
	if _, err := conn.Exec(ctx, `SELECT * FROM ops.rollback_events ORDER BY initiated_at DESC LIMIT 10`); err != nil {
		t.Errorf("seed query: %v", err)
	}
	var idx string
	err = conn.QueryRow(ctx, `SELECT indexdef FROM pg_indexes
		WHERE schemaname = 'ops' AND indexname = 'rollback_events_one_unfinished_idx'`).Scan(&idx)
	if err != nil || !strings.Contains(idx, "UNIQUE") || !strings.Contains(idx, "WHERE") {
		t.Errorf("exactly-once index: %q, %v", idx, err)
	}
	// Every table of schema ops: the seed's four, roman's own, goose's.
	want := []string{"alert_outbox", "api_keys", "deployment_fingerprints", "deployments", "discord_interactions",
		"error_events", "error_fingerprints", "error_seconds", "github_deployments", "goose_db_version", "health_settings",
		"integration_alerts", "metric_samples", "migration_history", "roman_events", "rollback_events", "system_snapshots"}
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'ops' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	rows.Close()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ops has tables %q, want %q", got, want)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestOpenErrors checks bad URLs are EINVALID.
func TestOpenErrors(t *testing.T) {
	for _, url := range []string{"", "mysql://x", "sqlite://", "postgres://%zz"} {
		_, err := sqldb.Open(ctx, url, nil)
		if roman.ErrorCode(err) != roman.EINVALID {
			t.Errorf("Open(%q) = %v, want EINVALID", url, err)
		}
	}
}
