package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman/sqldb"
)

// stormEnvironments are the environments of an error storm; their
// thresholds are raised so the storm is watched, charted and checked but
// rolls nothing back, and the data stays the same during the run.
const stormEnvironments = 4

// stormEvents is how many error events BenchmarkStorm seeds in the last
// hour: ROMAN_BENCH_STORM_EVENTS, else 1.5 million.
func stormEvents() int {
	if n, err := strconv.Atoi(os.Getenv("ROMAN_BENCH_STORM_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1_500_000
}

// stormBench is the server and data of BenchmarkStorm.
type stormBench struct {
	m   *Server
	ids []string // the storm's deployments, one per storm environment
}

// setupStormBench starts the whole server with stormEnvironments watched
// deployments that had stormEvents errors between them, evenly over the
// last hour (a quarter of a million errors in the last five minutes), seeded in one
// INSERT … SELECT through the store's SQL() (a recursive CTE on SQLite,
// generate_series on PostgreSQL, followed by VACUUM ANALYZE as autovacuum
// would run during such an hour).
func setupStormBench(t testing.TB, url string) *stormBench {
	dir := t.TempDir()
	cfg := "environments:\n"
	for e := 0; e < stormEnvironments; e++ {
		cfg += fmt.Sprintf("  storm-%d:\n    thresholds:\n      error_rate: 1000000000\n      recent_errors: 1000000000\n", e)
	}
	path := filepath.Join(dir, "roman.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	m := startServer(t, url, monitorSettings, map[string]string{"ROMAN_CONFIG": path, "ROMAN_LOG_LEVEL": "error"})
	sb := &stormBench{m: m}
	for e := 0; e < stormEnvironments; e++ {
		sb.ids = append(sb.ids, deployPair(t, m, fmt.Sprintf("storm-%d", e)))
	}
	n, start := stormEvents(), time.Now()
	seedStorm(t, m.Store, sb.ids, n, time.Now().UTC().Add(-time.Hour))
	t.Logf("seeded %d error events in the last hour in %s", n, time.Since(start).Round(time.Second))
	return sb
}

// seedStorm inserts n error events of the deployments ids (in turn), one
// every hour/n from base.
func seedStorm(t testing.TB, st *sqldb.DB, ids []string, n int, base time.Time) {
	ctx := context.Background()
	if len(ids) != 4 {
		t.Fatalf("seedStorm takes 4 deployments, got %d", len(ids))
	}
	q := `INSERT INTO error_events (deployment_id, environment, occurred_at, message, severity, fingerprint)
		WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
		SELECT CASE i % 4 WHEN 0 THEN ?3 WHEN 1 THEN ?4 WHEN 2 THEN ?5 ELSE ?6 END, 'storm-' || (i % 4),
			strftime('%Y-%m-%dT%H:%M:%f000Z', ?2 + i * 3600.0 / ?1, 'unixepoch'),
			'TypeError: undefined is not a function', 'error', 'fp-' || (i % 97) FROM n`
	args := []any{n, float64(base.UnixMicro()) / 1e6, ids[0], ids[1], ids[2], ids[3]}
	if st.Dialect() == sqldb.DialectPostgres {
		q = `INSERT INTO error_events (deployment_id, environment, occurred_at, message, severity, fingerprint)
			SELECT ($3::uuid[])[i % 4 + 1], 'storm-' || (i % 4),
				$2::timestamptz + (i * 3600.0 / $1) * interval '1 second',
				'TypeError: undefined is not a function', 'error', 'fp-' || (i % 97)
			FROM generate_series(0, $1 - 1) i`
		args = []any{n, base, "{" + ids[0] + "," + ids[1] + "," + ids[2] + "," + ids[3] + "}"}
	}
	if _, err := st.SQL().ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("seed the storm: %v", err)
	}
	// What an hour of ingest would have left behind: on PostgreSQL,
	// autovacuum's statistics and visibility map; on SQLite, a WAL that
	// the commits' automatic checkpoints kept short (the one INSERT of
	// the seed wrote it all at once).
	if st.Dialect() == sqldb.DialectPostgres {
		if _, err := st.SQL().ExecContext(ctx, `VACUUM (ANALYZE) error_events`); err != nil {
			t.Fatal(err)
		}
	} else if _, err := st.SQL().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
}

// stormDashboards is how many dashboards BenchmarkStorm refreshes:
// ROMAN_BENCH_STORM_DASHBOARDS (0 measures the same without them), else 4.
func stormDashboards() int {
	if n, err := strconv.Atoi(os.Getenv("ROMAN_BENCH_STORM_DASHBOARDS")); err == nil && n >= 0 {
		return n
	}
	return 4
}

// dashboards refreshes the dashboard summary from k goroutines, each
// fetching it again 120 ms (the page's debounce of live changes) after
// the previous answer, until stop is closed; it returns the latencies.
func dashboards(t testing.TB, m *Server, k int, stop <-chan struct{}) func() []time.Duration {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	client := benchClient()
	for g := 0; g < k; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				code, raw, err := doRequest(client, "GET", m.URL()+"/app/admin/roman-dashboard/summary", readToken, "")
				d := time.Since(start)
				if err != nil || code != 200 {
					t.Errorf("summary: %v %v", err, statusErr(code, raw))
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				select {
				case <-stop:
					return
				case <-time.After(120 * time.Millisecond):
				}
			}
		}()
	}
	return func() []time.Duration {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return lat
	}
}

// BenchmarkStorm measures the target "reads never starve decisions": with
// 1.5 million errors in the last hour (of four watched deployments whose
// thresholds are raised) and four dashboards refreshing the summary
// during the whole run, single-event ingest (POST /errors of one event
// of another deployment, 10×b.N requests one after another), detection (as
// BenchmarkDetectionLatency, b.N fresh environments) and the summaries the
// dashboards fetched meanwhile. Each reports p50-ms and p99-ms (summary
// also max-ms). ROMAN_BENCH_STORM_DASHBOARDS=0 runs the same without
// dashboards, for comparison. Seeding takes a minute, so it only runs when
// asked for:
//
//	go test -run '^$' -bench BenchmarkStorm -benchtime 100x -timeout 30m ./server/
func BenchmarkStorm(b *testing.B) {
	eachBenchStore(b, setupStormBench, func(b *testing.B, sb *stormBench) {
		m := sb.m
		stop := make(chan struct{})
		wait := dashboards(b, m, stormDashboards(), stop)
		time.Sleep(time.Second) // the dashboards are refreshing
		b.Run("ingest", func(b *testing.B) {
			env := "storm-ingest"
			id := deployPair(b, m, env)
			body := []byte(`{"deployment_id":"` + id + `","message":"TypeError: one more"}`)
			lat := make([]time.Duration, 0, 10*b.N)
			for i := 0; i < 10*b.N; i++ {
				start := time.Now()
				if code := post(m.URL()+"/errors", deployToken, body); code != 200 {
					b.Fatalf("ingest: %d", code)
				}
				lat = append(lat, time.Since(start))
			}
			b.ReportMetric(percentile(lat, 0.5), "p50-ms")
			b.ReportMetric(percentile(lat, 0.99), "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
		b.Run("detection", func(b *testing.B) { measureDetection(b, m, m, deployPair) })
		close(stop)
		lat := wait()
		b.Run("summary", func(b *testing.B) {
			if stormDashboards() == 0 {
				b.Skip("no dashboards")
			}
			if len(lat) == 0 {
				b.Fatal("no summary was answered")
			}
			b.ReportMetric(float64(len(lat)), "summaries")
			b.ReportMetric(percentile(lat, 0.5), "p50-ms")
			b.ReportMetric(percentile(lat, 0.99), "p99-ms")
			b.ReportMetric(percentile(lat, 1), "max-ms")
			b.ReportMetric(0, "ns/op")
		})
	})
}
