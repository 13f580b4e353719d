package server

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/sqldb"
)

// checkBench is the server and data of BenchmarkCheckAt1000RPS.
type checkBench struct {
	m   *Server
	ids []string
}

const (
	checkDeployments    = 5
	checkOlderErrors    = 10000 // per deployment, older than the windows
	checkMetricsPerName = 100   // per deployment and metric, in the last 5 minutes
)

// setupCheckBench starts the whole server with checkDeployments watched
// deployments (one per environment, each the newest successful one, so the
// monitor evaluates them every second during the run), each with
// windowErrors errors spread over the last five minutes,
// checkOlderErrors older ones and four metrics sampled every three seconds.
// The trigger thresholds are raised so the monitor watches without rolling
// anything back: the data stays the same throughout the run.
func setupCheckBench(t testing.TB, url string, windowErrors int) *checkBench {
	m := startServer(t, url, monitorSettings, map[string]string{
		"ROMAN_ERROR_RATE_THRESHOLD": "1000000", "ROMAN_RECENT_ERRORS_THRESHOLD": "1000000"})
	ctx := context.Background()
	cb := &checkBench{m: m}
	now := time.Now().UTC()
	for e := 0; e < checkDeployments; e++ {
		env := fmt.Sprintf("check-%d", e)
		id := deployPair(t, m, env)
		cb.ids = append(cb.ids, id)
		evs := make([]roman.ErrorEvent, 0, windowErrors+checkOlderErrors)
		for i := 0; i < windowErrors; i++ {
			evs = append(evs, roman.ErrorEvent{DeploymentID: id, Environment: env, Severity: "error",
				OccurredAt: now.Add(-time.Duration(i) * 5 * time.Minute / time.Duration(windowErrors)),
				Message:    "TypeError: cart is undefined", Fingerprint: fmt.Sprintf("cart-%d", i%7)})
		}
		for i := 0; i < checkOlderErrors; i++ {
			evs = append(evs, roman.ErrorEvent{DeploymentID: id, Environment: env, Severity: "error",
				OccurredAt: now.Add(-6*time.Minute - time.Duration(i)*time.Second/4),
				Message:    "TimeoutError: upstream took too long", Fingerprint: fmt.Sprintf("timeout-%d", i%5)})
		}
		if err := m.Store.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		var samples []roman.MetricSample
		for _, name := range []string{roman.MetricDatabaseConnections, roman.MetricActiveQueries, roman.MetricP95ResponseTimeMS, roman.MetricMemoryUsagePercent} {
			for i := 0; i < checkMetricsPerName; i++ {
				samples = append(samples, roman.MetricSample{DeploymentID: id, Environment: env, Name: name,
					Value: float64(10 + i%20), At: now.Add(-time.Duration(i) * 3 * time.Second)})
			}
		}
		if err := m.Store.InsertMetricSamples(ctx, samples); err != nil {
			t.Fatal(err)
		}
	}
	if m.Store.Dialect() == sqldb.DialectPostgres {
		// What autovacuum does soon after a thousand inserts: statistics,
		// and the visibility map that lets the error counts stay in the
		// index instead of visiting every counted row.
		if _, err := m.Store.SQL().ExecContext(ctx, `VACUUM (ANALYZE) error_events, metric_samples`); err != nil {
			t.Fatal(err)
		}
	}
	// The answer must show the data: errors counted in both windows and
	// the metrics' latest values.
	code, raw, err := doRequest(benchClient(), "POST", m.URL()+"/auto-rollback/check", readToken, `{"deployment_id":"`+cb.ids[0]+`"}`)
	if err != nil || code != 200 {
		t.Fatalf("check: %v %v", err, statusErr(code, raw))
	}
	var chk roman.CheckResult
	if err := json.Unmarshal(raw, &chk); err != nil {
		t.Fatal(err)
	}
	if h := chk.Health; h.RecentErrors < int64(windowErrors*9/10) || h.ErrorRatePerMinute < float64(windowErrors/5*8/10) || h.ActiveQueries == nil || chk.ShouldRollback {
		t.Fatalf("the check does not see the seeded data: %s", raw)
	}
	return cb
}

// BenchmarkCheckAt1000RPS measures the target "/auto-rollback/check at
// 1,000 requests/s: p99 < 10 ms" as an open-loop load: b.N requests on a
// fixed schedule of one per millisecond, each sent by its own goroutine at
// its time whatever earlier answers took, against the whole server
// in-process (both stores), the seed's POST with a read key, rotating over
// the watched deployments. Latency runs from each request's scheduled time
// to its answer read in full. A one-second warm-up at the same rate comes
// first, unmeasured. Run with -benchtime=10000x (ten seconds of load).
//
// Two data sets: typical, 20 errors per deployment in the window (4 a
// minute, just under the default trigger), and heavy, 1,000 (200 a minute,
// far over any trigger). The error counts are index range counts, so a
// check's cost grows with the errors in the window.
func BenchmarkCheckAt1000RPS(b *testing.B) {
	for _, data := range []struct {
		name         string
		windowErrors int
	}{{"typical", 20}, {"heavy", 1000}} {
		b.Run(data.name, func(b *testing.B) {
			eachBenchStore(b, func(t testing.TB, url string) *checkBench { return setupCheckBench(t, url, data.windowErrors) }, benchCheckLoad)
		})
	}
}

// benchCheckLoad is one run of BenchmarkCheckAt1000RPS.
func benchCheckLoad(b *testing.B, cb *checkBench) {
	client := benchClient()
	url := cb.m.URL() + "/auto-rollback/check"
	bodies := make([]string, len(cb.ids))
	for i, id := range cb.ids {
		bodies[i] = `{"deployment_id":"` + id + `"}`
	}
	do := func(i int) error {
		code, raw, err := doRequest(client, "POST", url, readToken, bodies[i%len(bodies)])
		if err != nil {
			return err
		}
		if code != 200 {
			return statusErr(code, raw)
		}
		return nil
	}
	if b.N > 1 {
		if warm := openLoop(1000, 1000, do); warm.failed > 0 {
			b.Fatalf("warm-up: %d failed: %v", warm.failed, warm.firstErr)
		}
	}
	b.ResetTimer()
	cpu0, db0 := testkit.ProcessCPU(), testkit.ChildrenCPU()
	res := openLoop(b.N, 1000, do)
	cpu, db := testkit.ProcessCPU()-cpu0, testkit.ChildrenCPU()-db0
	b.StopTimer()
	if res.failed > 0 {
		b.Fatalf("%d of %d requests failed: %v", res.failed, b.N, res.firstErr)
	}
	lat := quantiles(res.latency, 0.5, 0.99, 1)
	svc := quantiles(res.service, 0.99)
	lag := quantiles(res.lag, 0.99)
	b.ReportMetric(lat[0], "p50-ms")
	b.ReportMetric(lat[1], "p99-ms")
	b.ReportMetric(lat[2], "max-ms")
	b.ReportMetric(svc[0], "service-p99-ms")
	b.ReportMetric(lag[0], "send-lag-p99-ms")
	b.ReportMetric(float64(b.N)/res.elapsed.Seconds(), "achieved-req/s")
	// CPU per request: this process (server and load generator) and
	// PostgreSQL's processes.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/req")
	b.ReportMetric(float64(db.Microseconds())/1000/float64(b.N), "db-cpu-ms/req")
	b.ReportMetric(0, "ns/op")
}
