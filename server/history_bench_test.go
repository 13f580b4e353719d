package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman/sqldb"
)

const (
	historyEvents       = 1_000_000
	historyDeployments  = 1000
	historyEnvironments = 20
)

// historySteps is the rollback_steps of every seeded event: the eight steps
// of a rollback with the none executor, as the runner writes them.
var historySteps = func() string {
	var steps []string
	at := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	for _, name := range []string{"validate", "pre_rollback", "identify_target", "mark_rolled_back", "record_deployment", "execute", "verify", "complete"} {
		steps = append(steps, fmt.Sprintf(`{"name":%q,"status":"success","started_at":%q,"finished_at":%q}`,
			name, at.Format(time.RFC3339Nano), at.Add(time.Millisecond).Format(time.RFC3339Nano)))
		at = at.Add(time.Millisecond)
	}
	return "[" + strings.Join(steps, ",") + "]"
}()

// seedHistory writes historyDeployments deployments over historyEnvironments
// environments and historyEvents finished rollback events, one every 30
// seconds up to now (about a year), each naming one of the deployments,
// with one SQL statement per table through the store's SQL(): a recursive
// CTE on SQLite, generate_series on PostgreSQL (where the change-notify
// triggers are off for the seeding transaction, as for a restore, so it
// does not queue a million notifications). Every 20th event failed and
// every 50th was aborted; a third are manual.
func seedHistory(t testing.TB, st *sqldb.DB) {
	ctx := context.Background()
	base := time.Now().UTC().Add(-historyEvents * 30 * time.Second).Truncate(time.Second)
	tx, err := st.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	cols := `(event_id, deployment_id, trigger_type, trigger_reason, initiated_at, status, rollback_plan,
		rollback_steps, constitutional_validation, completed_at, metadata, environment)`
	if st.Dialect() == sqldb.DialectPostgres {
		exec(`SET LOCAL session_replication_role = replica`)
		exec(`INSERT INTO deployments (deployment_id, environment, version, git_commit, git_branch, deployed_at,
			status, health_check_passed, completed_at)
			SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'env-' || (i % $1), 'v1.' || i,
				lpad(to_hex(i), 7, '0'), 'main', $2::timestamptz - (($3 - i) * interval '1 hour'), 'success', true,
				$2::timestamptz - (($3 - i) * interval '1 hour') + interval '1 minute'
			FROM generate_series(0, $3 - 1) i`, historyEnvironments, base, historyDeployments)
		exec(`INSERT INTO rollback_events `+cols+`
			SELECT ('10000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
				('00000000-0000-4000-8000-' || lpad(to_hex(i % $1), 12, '0'))::uuid,
				CASE WHEN i % 3 = 0 THEN 'manual' ELSE 'automatic' END, 'High error rate: 9 errors/minute',
				$2::timestamptz + i * interval '30 seconds',
				CASE WHEN i % 50 = 0 THEN 'aborted' WHEN i % 20 = 0 THEN 'failed' ELSE 'success' END,
				'{"strategy":"redeploy"}', (SELECT array_agg(e) FROM jsonb_array_elements($3::jsonb) e),
				'{"compliant":true,"violations":[],"warnings":[]}', $2::timestamptz + i * interval '30 seconds' + interval '2 seconds',
				'{}', 'env-' || (i % $1 % $4)
			FROM generate_series(0, $5 - 1) i`, historyDeployments, base, historySteps, historyEnvironments, historyEvents)
	} else {
		ts := func(expr string) string { return `strftime('%Y-%m-%dT%H:%M:%f000Z', ` + expr + `, 'unixepoch')` }
		exec(`INSERT INTO deployments (deployment_id, environment, version, git_commit, git_branch, deployed_at,
			status, health_check_passed, completed_at)
			WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?3 - 1)
			SELECT printf('00000000-0000-4000-8000-%012x', i), 'env-' || (i % ?1), 'v1.' || i, printf('%07x', i), 'main',
				`+ts(`?2 - (?3 - i) * 3600`)+`, 'success', 1, `+ts(`?2 - (?3 - i) * 3600 + 60`)+` FROM n`,
			historyEnvironments, base.Unix(), historyDeployments)
		exec(`INSERT INTO rollback_events `+cols+`
			WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?5 - 1)
			SELECT printf('10000000-0000-4000-8000-%012x', i), printf('00000000-0000-4000-8000-%012x', i % ?1),
				CASE WHEN i % 3 = 0 THEN 'manual' ELSE 'automatic' END, 'High error rate: 9 errors/minute',
				`+ts(`?2 + i * 30`)+`,
				CASE WHEN i % 50 = 0 THEN 'aborted' WHEN i % 20 = 0 THEN 'failed' ELSE 'success' END,
				'{"strategy":"redeploy"}', ?3, '{"compliant":true,"violations":[],"warnings":[]}',
				`+ts(`?2 + i * 30 + 2`)+`, '{}', 'env-' || (i % ?1 % ?4)
			FROM n`, historyDeployments, base.Unix(), historySteps, historyEnvironments, historyEvents)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if st.Dialect() == sqldb.DialectPostgres {
		// What autovacuum does after a bulk load.
		if _, err := st.SQL().ExecContext(ctx, `ANALYZE deployments, rollback_events`); err != nil {
			t.Fatal(err)
		}
	}
}

// historyQueries are the history requests timed, with the SQL the store
// runs for each (the select list shortened: the plan is the same).
// want is how many events the answer holds.
var historyQueries = []struct {
	name, query, sql string
	want             int
}{
	{"limit10", "limit=10", `SELECT id FROM rollback_events ORDER BY initiated_at DESC, id DESC LIMIT 10`, 10},
	{"environment", "limit=10&environment=env-7", `SELECT id FROM rollback_events WHERE environment = 'env-7' ORDER BY initiated_at DESC, id DESC LIMIT 10`, 10},
	{"deployment", "limit=10&deployment_id=00000000-0000-4000-8000-000000000007",
		`SELECT id FROM rollback_events WHERE deployment_id = '00000000-0000-4000-8000-000000000007' ORDER BY initiated_at DESC, id DESC LIMIT 10`, 10},
	{"status_failed", "limit=10&status=failed", `SELECT id FROM rollback_events WHERE status = 'failed' ORDER BY initiated_at DESC, id DESC LIMIT 10`, 10},
	// No event is in progress: without an index on status this walked
	// all million rows to answer nothing.
	{"status_in_progress", "limit=10&status=in_progress", `SELECT id FROM rollback_events WHERE status = 'in_progress' ORDER BY initiated_at DESC, id DESC LIMIT 10`, 0},
}

// explain returns the query plan of q as text.
func explain(t testing.TB, st *sqldb.DB, q string) string {
	prefix := "EXPLAIN QUERY PLAN "
	if st.Dialect() == sqldb.DialectPostgres {
		prefix = "EXPLAIN "
	}
	rows, err := st.SQL().Query(prefix + q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, vals[len(vals)-1].String)
	}
	return strings.Join(lines, "\n")
}

// setupHistoryBench starts the server, seeds the history and checks that
// every timed query walks an index in the requested order: no full scan,
// no sort of the table.
func setupHistoryBench(t testing.TB, url string) *Server {
	m := startServer(t, url)
	start := time.Now()
	seedHistory(t, m.Store)
	t.Logf("seeded %d rollback events in %s", historyEvents, time.Since(start).Round(time.Second))
	for _, q := range historyQueries {
		plan := explain(t, m.Store, q.sql)
		t.Logf("%s plan:\n%s", q.name, plan)
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort") ||
			strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN rollback_events") && !strings.Contains(plan, "INDEX") {
			t.Fatalf("%s: the history query does not walk an index in order:\n%s", q.name, plan)
		}
	}
	return m
}

// BenchmarkHistory1M measures the target "History with 1,000,000 events:
// < 10 ms": GET /auto-rollback/history over HTTP against the whole server
// in-process, on a store holding 1,000,000 rollback events (seedHistory),
// one request at a time, from sending it to reading the answer in full;
// sub-benchmarks add the environment, deployment_id and status filters.
// Reports p50-ms and p99-ms. Seeding takes minutes, so the benchmark only
// runs when asked for with -bench. Run with -benchtime=1000x.
func BenchmarkHistory1M(b *testing.B) {
	eachBenchStore(b, setupHistoryBench, func(b *testing.B, m *Server) {
		client := benchClient()
		for _, q := range historyQueries {
			b.Run(q.name, func(b *testing.B) {
				url := m.URL() + "/auto-rollback/history?" + q.query
				lat := make([]time.Duration, 0, b.N)
				for i := 0; i < b.N; i++ {
					start := time.Now()
					code, raw, err := doRequest(client, "GET", url, readToken, "")
					lat = append(lat, time.Since(start))
					if err != nil || code != 200 {
						b.Fatalf("%s: %v %v", q.name, err, statusErr(code, raw))
					}
					if i == 0 {
						var h struct {
							Rollbacks []struct {
								Steps []json.RawMessage `json:"rollback_steps"`
							} `json:"rollbacks"`
						}
						if err := json.Unmarshal(raw, &h); err != nil || len(h.Rollbacks) != q.want || q.want > 0 && len(h.Rollbacks[0].Steps) != 8 {
							b.Fatalf("%s: want %d rollbacks of 8 steps: %v %.300s", q.name, q.want, err, raw)
						}
					}
				}
				ps := quantiles(lat, 0.5, 0.99)
				b.ReportMetric(ps[0], "p50-ms")
				b.ReportMetric(ps[1], "p99-ms")
			})
		}
	})
}
