package server

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/odyssey-1/roman/retention"
	"github.com/odyssey-1/roman/sqldb"
)

// pruneBacklog is how many error events older than the retention
// BenchmarkPrune seeds: ROMAN_BENCH_PRUNE_EVENTS, else three million.
func pruneBacklog() int {
	if n, err := strconv.Atoi(os.Getenv("ROMAN_BENCH_PRUNE_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 3_000_000
}

// seedPruneBacklog writes n error events of 1000 deployments that are not
// in the store, 40 days old (older than the default retention of 30
// days), in one INSERT … SELECT through the store's SQL().
func seedPruneBacklog(t testing.TB, st *sqldb.DB, n int) {
	ctx := context.Background()
	base := time.Now().UTC().Add(-40 * 24 * time.Hour).Truncate(time.Second)
	q := `INSERT INTO error_events (deployment_id, environment, occurred_at, message, severity, fingerprint)
		WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
		SELECT printf('30000000-0000-4000-8000-%012x', i % 1000), 'env-' || (i % 20),
			strftime('%Y-%m-%dT%H:%M:%f000Z', ?2 + i / 100, 'unixepoch'),
			'TypeError: undefined is not a function', 'error', 'fp-' || (i % 97) FROM n`
	args := []any{n, base.Unix()}
	if st.Dialect() == sqldb.DialectPostgres {
		q = `INSERT INTO error_events (deployment_id, environment, occurred_at, message, severity, fingerprint)
			SELECT ('30000000-0000-4000-8000-' || lpad(to_hex(i % 1000), 12, '0'))::uuid, 'env-' || (i % 20),
				$2::timestamptz + (i / 100) * interval '1 second',
				'TypeError: undefined is not a function', 'error', 'fp-' || (i % 97)
			FROM generate_series(0, $1 - 1) i`
		args = []any{n, base}
	}
	if _, err := st.SQL().ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("seed the backlog: %v", err)
	}
	if st.Dialect() == sqldb.DialectPostgres {
		if _, err := st.SQL().ExecContext(ctx, `VACUUM (ANALYZE) error_events`); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkPrune measures the target "pruning never pauses ingest": the
// latency of single-event ingest (POST /errors of one event, one every
// 10 ms, one after another) with no prune running (idle, 1,000
// requests), and while a retention pass (the leader's Pruner with its
// default batch and pause) deletes a backlog of three million old error
// events (pruning, every request sent until the pass ends). Each reports
// p50-ms and p99-ms; pruning also the backlog's rows deleted per second.
// Both are measured once per store, before the sub-benchmarks report
// them. Seeding takes a minute or two, so it only runs when asked for:
//
//	go test -run '^$' -bench BenchmarkPrune -benchtime 100x -timeout 30m ./server/
func BenchmarkPrune(b *testing.B) {
	eachBenchStore(b, func(t testing.TB, url string) *Server {
		m := startServer(t, url, monitorSettings, map[string]string{"ROMAN_LOG_LEVEL": "error"})
		n, start := pruneBacklog(), time.Now()
		seedPruneBacklog(t, m.Store, n)
		t.Logf("seeded %d old error events in %s", n, time.Since(start).Round(time.Second))
		return m
	}, func(b *testing.B, m *Server) {
		id := deployPair(b, m, "prune-ingest")
		body := []byte(`{"deployment_id":"` + id + `","message":"TypeError: one more"}`)
		ingest := func(b testing.TB, more func(i int) bool) []time.Duration {
			var lat []time.Duration
			for i := 0; more(i); i++ {
				start := time.Now()
				if code := post(m.URL()+"/errors", deployToken, body); code != 200 {
					b.Fatalf("ingest: %d", code)
				}
				lat = append(lat, time.Since(start))
				time.Sleep(10*time.Millisecond - time.Since(start))
			}
			return lat
		}
		report := func(b *testing.B, lat []time.Duration) {
			b.ReportMetric(float64(len(lat)), "requests")
			b.ReportMetric(percentile(lat, 0.5), "p50-ms")
			b.ReportMetric(percentile(lat, 0.99), "p99-ms")
			b.ReportMetric(0, "ns/op")
		}
		idle := ingest(b, func(i int) bool { return i < 1000 })
		// The pass deletes the backlog once; ingest runs until it ends.
		p := &retention.Pruner{Store: m.Store, Events: m.Store}
		type result struct {
			c   retention.Counts
			err error
			d   time.Duration
		}
		done := make(chan result, 1)
		go func() {
			start := time.Now()
			c, err := p.Pass(context.Background())
			done <- result{c, err, time.Since(start)}
		}()
		var res result
		pruning := ingest(b, func(int) bool {
			select {
			case res = <-done:
				return false
			default:
				return true
			}
		})
		if res.err != nil || res.c.ErrorEvents < int64(pruneBacklog()) {
			b.Fatalf("the pass deleted %d of %d: %v", res.c.ErrorEvents, pruneBacklog(), res.err)
		}
		b.Run("idle", func(b *testing.B) { report(b, idle) })
		b.Run("pruning", func(b *testing.B) {
			report(b, pruning)
			b.ReportMetric(float64(res.c.ErrorEvents)/res.d.Seconds(), "pruned-rows/s")
		})
	})
}
