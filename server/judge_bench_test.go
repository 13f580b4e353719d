package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/sqldb"
)

// BenchmarkDetectionLatencyJudge measures detection latency as
// BenchmarkDetectionLatency does, under each judge, on the same stream:
// the new release was deployed a minute ago (so its errors count for the
// baseline judge, which measures from deployed_at), five errors arrive,
// then the sixth crosses the trigger — under threshold the error rate
// above 5/minute, under baseline a significant regression against the
// error-free previous release once min_errors (set to 6 here) is reached.
// Reports p50-ms and p99-ms per judge and store. Run with -benchtime=200x.
func BenchmarkDetectionLatencyJudge(b *testing.B) {
	for _, judge := range []string{roman.JudgeThreshold, roman.JudgeBaseline} {
		b.Run(judge, func(b *testing.B) {
			for _, s := range testkit.Stores {
				b.Run(s.Name, func(b *testing.B) {
					m := startServer(b, s.URL(b), monitorSettings, map[string]string{"ROMAN_JUDGE": judge, "ROMAN_MIN_ERRORS": "6"})
					measureDetection(b, m, m, deployPairLive)
				})
			}
		})
	}
}

// deployPairLive is deployPair with the new release deployed a minute ago
// (completed now, so its watch window starts now).
func deployPairLive(t testing.TB, m *Server, env string) string {
	t.Helper()
	base := m.URL()
	now := time.Now().UTC()
	if code, out := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"`+env+`","version":"v2.5.2","git_commit":"a7f3b29",
		"git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"`+now.Add(-time.Hour).Format(time.RFC3339)+`"}`); code != 201 {
		t.Fatalf("record good: %d %v", code, out)
	}
	code, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"`+env+`","version":"v2.5.3","git_commit":"b81c4d0",
		"git_branch":"main","deployed_at":"`+now.Add(-time.Minute).Format(time.RFC3339Nano)+`"}`)
	if code != 201 {
		t.Fatalf("record bad: %d %v", code, bad)
	}
	id := bad["deployment_id"].(string)
	if code, out := testkit.Call(t, "PATCH", base+"/deployments/"+id, deployToken, `{"status":"success"}`); code != 200 {
		t.Fatalf("complete: %d %v", code, out)
	}
	return id
}

// seedPrevious gives each of the watched10k environments of seedWatched a
// previous successful release, deployed an hour before, with ten errors
// spread over the baseline window (the 30 minutes before the watched
// release's deployed_at): what the baseline judge compares with.
func seedPrevious(t testing.TB, st *sqldb.DB) {
	ctx := context.Background()
	now := time.Now().Unix()
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
	// Error k = 0..9 of a previous release: 1800 - 170k seconds before
	// the watched release's deployed_at (now - 60).
	if st.Dialect() == sqldb.DialectPostgres {
		id := `('30000000-0000-4000-8000-' || lpad(to_hex(%s), 12, '0'))::uuid`
		exec(`INSERT INTO deployments (deployment_id, environment, version, git_commit, git_branch, deployed_at, status, completed_at, health_check_passed)
			SELECT `+strings.ReplaceAll(id, "%s", "i")+`, 'env-' || i, 'v1.' || i, lpad(to_hex(i), 7, '0'), 'main',
				to_timestamp($1 - 3600), 'success', to_timestamp($1 - 3590), true
			FROM generate_series(0, $2 - 1) i`, now, watched10k)
		exec(`INSERT INTO error_events (deployment_id, environment, occurred_at, message, severity, fingerprint)
			SELECT `+strings.ReplaceAll(id, "%s", "i / 10")+`, 'env-' || (i / 10), to_timestamp($1 - 60 - 1800 + 170 * (i % 10)),
				'TypeError: cart is undefined', 'error', 'cart'
			FROM generate_series(0, $2 * 10 - 1) i`, now, watched10k)
	} else {
		id := `printf('30000000-0000-4000-8000-%012x', %s)`
		ts := func(expr string) string { return `strftime('%Y-%m-%dT%H:%M:%f000Z', ` + expr + `, 'unixepoch')` }
		series := func(n string) string {
			return `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ` + n + ` - 1) `
		}
		exec(`INSERT INTO deployments (deployment_id, environment, version, git_commit, git_branch, deployed_at, status, completed_at, health_check_passed)
			`+series("?2")+`SELECT `+strings.ReplaceAll(id, "%s", "i")+`, 'env-' || i, 'v1.' || i, printf('%07x', i), 'main',
				`+ts("?1 - 3600")+`, 'success', `+ts("?1 - 3590")+`, 1 FROM n`, now, watched10k)
		exec(`INSERT INTO error_events (deployment_id, environment, occurred_at, message, severity, fingerprint)
			`+series("?2 * 10")+`SELECT `+strings.ReplaceAll(id, "%s", "i / 10")+`, 'env-' || (i / 10), `+ts("?1 - 60 - 1800 + 170 * (i % 10)")+`,
				'TypeError: cart is undefined', 'error', 'cart' FROM n`, now, watched10k)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if st.Dialect() == sqldb.DialectPostgres {
		if _, err := st.SQL().ExecContext(ctx, `ANALYZE deployments, error_events`); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkMonitor10kBaseline is BenchmarkMonitor10k's pass and serve
// under judge: baseline, each of the 10,000 watched releases with a
// previous release that had ten errors in its baseline window
// (seedPrevious): every pass also runs the baseline judge on every watch
// (its counts since deployed_at; the baseline is read once per watch).
// Reports the same metrics; run with -cpu 1 -benchtime=20x.
func BenchmarkMonitor10kBaseline(b *testing.B) {
	setup := func(t testing.TB, url string) *monitor10k {
		s := setupMonitor10k(t, url)
		start := time.Now()
		seedPrevious(t, s.st)
		t.Logf("seeded %d previous releases in %s", watched10k, time.Since(start).Round(time.Millisecond))
		return s
	}
	eachBenchStore(b, setup, func(b *testing.B, s *monitor10k) {
		ctx := context.Background()
		b.Run("pass", func(b *testing.B) {
			cs := &countingStore{DB: s.st}
			mon := newBenchMonitor(s.st, cs)
			js := roman.DefaultJudgeSettings()
			js.Judge = roman.JudgeBaseline
			mon.Judge = func(string) roman.JudgeSettings { return js }
			mon.JudgeStore = s.st
			if err := mon.Rebuild(ctx); err != nil {
				b.Fatal(err)
			}
			mon.Tick(ctx) // the first pass reads every watch's history and baseline
			cs.evaluated.Store(0)
			cpu0, db0 := testkit.ProcessCPU(), testkit.ChildrenCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				mon.Tick(ctx)
			}
			b.StopTimer()
			cpu, db := testkit.ProcessCPU()-cpu0, testkit.ChildrenCPU()-db0
			if got := cs.evaluated.Load(); got != int64(b.N)*watched10k {
				b.Fatalf("%d passes evaluated %d deployments, want %d each", b.N, got, watched10k)
			}
			perPass := float64(cpu.Microseconds()) / 1000 / float64(b.N)
			b.ReportMetric(perPass, "cpu-ms/pass")
			b.ReportMetric(float64(db.Microseconds())/1000/float64(b.N), "db-cpu-ms/pass")
			b.ReportMetric(perPass/10, "core-%")
			judged, err := s.st.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventHealthJudgement, Limit: 1})
			if err != nil || len(judged) == 0 {
				b.Fatalf("no health_judgement rows: the baseline judge did not run (%v)", err)
			}
		})
		b.Run("serve", func(b *testing.B) {
			m := startServer(b, s.url, map[string]string{"ROMAN_WATCH_WINDOW": "30m", "ROMAN_JUDGE": "baseline"})
			deadline := time.Now().Add(time.Minute)
			for leaderGauge(b, m.URL()) != "1" {
				if time.Now().After(deadline) {
					b.Fatal("the server did not take the monitor's leadership")
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(3 * time.Second) // the rebuild and its first passes
			cpu0, db0, start := testkit.ProcessCPU(), testkit.ChildrenCPU(), time.Now()
			b.ResetTimer()
			time.Sleep(time.Duration(b.N) * time.Second)
			b.StopTimer()
			wall := time.Since(start)
			cpu, db := testkit.ProcessCPU()-cpu0, testkit.ChildrenCPU()-db0
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "core-%")
			b.ReportMetric(100*db.Seconds()/wall.Seconds(), "db-core-%")
			b.ReportMetric(rssMB("VmRSS"), "rss-MB")
			b.ReportMetric(0, "ns/op")
		})
	})
}
