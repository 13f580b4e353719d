package server

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// seedErrorHistory writes n error events of deployments that are not in
// the store, all older than a day (older than every watch window), in one
// INSERT … SELECT through the store's SQL(): a recursive CTE on SQLite,
// generate_series on PostgreSQL. They are spread over 1000 old
// deployments and 20 environments. PostgreSQL's statistics are refreshed
// afterwards, as autovacuum does after a bulk load.
func seedErrorHistory(t testing.TB, st *sqldb.DB, n int) {
	ctx := context.Background()
	base := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	q := `INSERT INTO error_events (deployment_id, environment, occurred_at, message, severity, fingerprint)
		WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
		SELECT printf('20000000-0000-4000-8000-%012x', i % 1000), 'env-' || (i % 20),
			strftime('%Y-%m-%dT%H:%M:%f000Z', ?2 - (?1 - i) / 100, 'unixepoch'),
			'TypeError: undefined is not a function', 'error', 'fp-' || (i % 97) FROM n`
	args := []any{n, base.Unix()}
	if st.Dialect() == sqldb.DialectPostgres {
		q = `INSERT INTO error_events (deployment_id, environment, occurred_at, message, severity, fingerprint)
			SELECT ('20000000-0000-4000-8000-' || lpad(to_hex(i % 1000), 12, '0'))::uuid, 'env-' || (i % 20),
				$2::timestamptz - (($1 - i) / 100) * interval '1 second',
				'TypeError: undefined is not a function', 'error', 'fp-' || (i % 97)
			FROM generate_series(0, $1 - 1) i`
		args = []any{n, base}
	}
	if _, err := st.SQL().ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("seed error events: %v", err)
	}
	if st.Dialect() == sqldb.DialectPostgres {
		if _, err := st.SQL().ExecContext(ctx, `ANALYZE error_events`); err != nil {
			t.Fatal(err)
		}
	}
}

// errorHistoryEvents is how many old error events BenchmarkErrorHistory
// seeds: ROMAN_BENCH_ERROR_EVENTS, else ten million.
func errorHistoryEvents() int {
	if n, err := strconv.Atoi(os.Getenv("ROMAN_BENCH_ERROR_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}

// setupErrorHistoryBench starts the server and seeds the old error events.
func setupErrorHistoryBench(t testing.TB, url string) *Server {
	m := startServer(t, url, map[string]string{"ROMAN_LOG_LEVEL": "error"})
	n, start := errorHistoryEvents(), time.Now()
	seedErrorHistory(t, m.Store, n)
	t.Logf("seeded %d error events in %s", n, time.Since(start).Round(time.Second))
	return m
}

// BenchmarkErrorHistory measures the target "cost does not grow with
// history": with millions of old error events of other deployments in the
// store, a manual rollback with the none executor (request to its success
// answer, pre_rollback snapshot included) and the detection of a bad
// deployment (the error over the trigger posted until the automatic
// rollback is recorded). Each reports p50-ms and p99-ms. Seeding takes
// minutes, so it only runs when asked for:
//
//	go test -run '^$' -bench BenchmarkErrorHistory -benchtime 40x -timeout 60m ./server/
func BenchmarkErrorHistory(b *testing.B) {
	eachBenchStore(b, setupErrorHistoryBench, func(b *testing.B, m *Server) {
		b.Run("rollback", func(b *testing.B) { measureRollbackNone(b, m) })
		b.Run("detection", func(b *testing.B) { measureDetection(b, m, m, deployPair) })
	})
}

// measureRollbackNone times b.N manual rollbacks of a fresh bad deployment
// with the none executor through the HTTP API and reports p50-ms and
// p99-ms.
func measureRollbackNone(b *testing.B, m *Server) {
	ctx := context.Background()
	env := "history-" + roman.NewUUID()[:8]
	good := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: env, Version: "v1", GitCommit: "a7f3b29",
		GitBranch: "main", Status: roman.StatusSuccess, HealthCheckPassed: true, DeployedAt: roman.UTC(time.Now().Add(-time.Hour))}
	if err := m.Store.CreateDeployment(ctx, good); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Timeout: time.Minute}
	lat := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		bad := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: env, Version: "v2", GitCommit: "b81c4d0",
			GitBranch: "main", Status: roman.StatusSuccess, DeployedAt: roman.UTC(time.Now())}
		if err := m.Store.CreateDeployment(ctx, bad); err != nil {
			b.Fatal(err)
		}
		body := `{"deployment_id":"` + bad.DeploymentID + `","trigger_reason":"bench"}`
		start := time.Now()
		code, raw, err := doRequest(client, "POST", m.URL()+"/auto-rollback", adminToken, body)
		lat = append(lat, time.Since(start))
		if err != nil || code != 200 || !strings.Contains(string(raw), `"status":"success"`) {
			b.Fatalf("rollback %d: %v %d %s", i, err, code, raw)
		}
	}
	b.ReportMetric(percentile(lat, 0.5), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
	reportStepTimes(b, m, env, b.N)
}

// reportStepTimes reports, for the newest n rollbacks of env, the p99 of
// each step's own time (finished_at − started_at, as the steps record
// them) as <step>-p99-ms, and of the time outside the steps (request to
// the first step, between steps) as outside-p99-ms: where a slow rollback
// spent its time.
func reportStepTimes(b *testing.B, m *Server, env string, n int) {
	evs, err := m.Store.ListRollbackEvents(context.Background(), roman.RollbackFilter{Environment: env, Limit: n})
	if err != nil {
		b.Fatal(err)
	}
	steps := map[string][]time.Duration{}
	var outside []time.Duration
	for _, ev := range evs {
		var inSteps time.Duration
		for _, st := range ev.RollbackSteps {
			d := st.FinishedAt.Sub(st.StartedAt)
			steps[st.Name] = append(steps[st.Name], d)
			inSteps += d
		}
		if ev.CompletedAt != nil {
			outside = append(outside, ev.CompletedAt.Sub(ev.InitiatedAt)-inSteps)
		}
	}
	for name, ds := range steps {
		b.ReportMetric(percentile(ds, 0.99), name+"-p99-ms")
	}
	if len(outside) > 0 {
		b.ReportMetric(percentile(outside, 0.99), "outside-p99-ms")
	}
}
