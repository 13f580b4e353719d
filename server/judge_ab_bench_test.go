package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// BenchmarkDetectionJudgeAB measures detection latency under both judges in
// the same server on the same store, so that the machine's noise hits both
// alike: the configuration sets the environment ab-threshold to judge:
// threshold and ab-baseline to judge: baseline (both with min_errors 6),
// and every iteration deploys a fresh service (svc-i) in each of them and
// times its detection as BenchmarkDetectionLatencyJudge does — the new
// release deployed a minute ago, five errors, then the sixth crosses the
// trigger — alternating which judge goes first. b.N iterations measure each
// judge b.N times. Two cases: cached, every previous release deployed an
// hour before and error-free (so every release shares one bounded-horizon
// boundary, computed once), and fresh, every previous release deployed
// 20-30 minutes before with 0-3 errors (a baseline window, hence a
// boundary, of its own: computed for each release, as in a fleet of
// services). Reports p50-ms and p99-ms per judge and the ratios
// baseline/threshold. Run with -benchtime=300x.
func BenchmarkDetectionJudgeAB(b *testing.B) {
	for _, s := range testkit.Stores {
		for _, fresh := range []bool{false, true} {
			name := s.Name + "/cached"
			if fresh {
				name = s.Name + "/fresh"
			}
			b.Run(name, func(b *testing.B) { measureJudgeAB(b, s.URL(b), fresh) })
		}
	}
}

// measureJudgeAB is one case of BenchmarkDetectionJudgeAB on the store at
// url.
func measureJudgeAB(b *testing.B, url string, fresh bool) {
	judges := []string{roman.JudgeThreshold, roman.JudgeBaseline}
	cfg := "environments:\n"
	for _, j := range judges {
		cfg += "  ab-" + j + ":\n    judge: " + j + "\n    min_errors: 6\n"
	}
	path := filepath.Join(b.TempDir(), "roman.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	m := startServer(b, url, monitorSettings, map[string]string{
		"ROMAN_CONFIG": path, "ROMAN_MAX_SERVICES": "1000000", "ROMAN_LOG_LEVEL": "error"})
	ch, cancel := m.Hub.Subscribe(1 << 12)
	defer cancel()
	lat := map[string][]time.Duration{}
	for i := 0; i < b.N; i++ {
		for k := range judges {
			judge := judges[(i+k)%2] // alternate which judge goes first
			b.StopTimer()
			env, svc := "ab-"+judge, fmt.Sprintf("svc-%d", i)
			prevAge, prevErrors := time.Hour, 0
			if fresh {
				prevAge, prevErrors = 20*time.Minute+time.Duration(i*7919%600000)*time.Millisecond, i%4
			}
			id := deployServiceLive(b, m, svc, env, prevAge, prevErrors)
			if code := post(m.URL()+"/errors", deployToken, []byte(deploymentErrors(id, 5, time.Second))); code != 200 {
				b.Fatalf("ingest: %d", code)
			}
			body := []byte(`{"deployment_id":"` + id + `","message":"the sixth"}`)
			lat[judge] = append(lat[judge], timeToServiceRollback(b, ch, m, svc, env, id, func() int {
				return post(m.URL()+"/errors", deployToken, body)
			}))
		}
	}
	// Each judge decided its environment's rollbacks.
	for j, reason := range map[string]string{roman.JudgeThreshold: "High error rate", roman.JudgeBaseline: "Error rate regression"} {
		evs, err := m.Store.ListRollbackEvents(context.Background(), roman.RollbackFilter{Environment: "ab-" + j, Limit: 1})
		if err != nil || len(evs) != 1 {
			b.Fatalf("judge %s: no rollback (%v)", j, err)
		}
		if !strings.HasPrefix(evs[0].TriggerReason, reason) {
			b.Fatalf("judge %s: rolled back for %q, want %q", j, evs[0].TriggerReason, reason)
		}
	}
	p := map[string][2]float64{}
	for _, j := range judges {
		p[j] = [2]float64{percentile(lat[j], 0.5), percentile(lat[j], 0.99)}
		b.ReportMetric(p[j][0], j+"-p50-ms")
		b.ReportMetric(p[j][1], j+"-p99-ms")
	}
	b.ReportMetric(p[roman.JudgeBaseline][0]/p[roman.JudgeThreshold][0], "p50-ratio")
	b.ReportMetric(p[roman.JudgeBaseline][1]/p[roman.JudgeThreshold][1], "p99-ratio")
	b.ReportMetric(0, "ns/op")
}

// deployServiceLive records a healthy previous release of service in env,
// deployed prevAge before the new one with prevErrors errors a minute before
// it, and the new one deployed a minute ago and completed now (so its watch
// window starts now), returning the new one's id.
func deployServiceLive(t testing.TB, m *Server, service, env string, prevAge time.Duration, prevErrors int) string {
	t.Helper()
	base := m.URL()
	now := time.Now().UTC()
	code, good := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"service":"`+service+`","environment":"`+env+`",
		"version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,
		"deployed_at":"`+now.Add(-time.Minute-prevAge).Format(time.RFC3339Nano)+`"}`)
	if code != 201 {
		t.Fatalf("record good: %d %v", code, good)
	}
	if prevErrors > 0 {
		if code := post(base+"/errors", deployToken, []byte(deploymentErrors(good["deployment_id"].(string), prevErrors, 2*time.Minute))); code != 200 {
			t.Fatalf("ingest the previous release's errors: %d", code)
		}
	}
	code, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"service":"`+service+`","environment":"`+env+`",
		"version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main","deployed_at":"`+now.Add(-time.Minute).Format(time.RFC3339Nano)+`"}`)
	if code != 201 {
		t.Fatalf("record bad: %d %v", code, bad)
	}
	id := bad["deployment_id"].(string)
	if code, out := testkit.Call(t, "PATCH", base+"/deployments/"+id, deployToken, `{"status":"success"}`); code != 200 {
		t.Fatalf("complete: %d %v", code, out)
	}
	return id
}

// deploymentErrors is a POST /errors body of n events of deployment id that
// occurred age ago.
func deploymentErrors(id string, n int, age time.Duration) string {
	at := time.Now().UTC().Add(-age).Format(time.RFC3339Nano)
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"deployment_id":%q,"occurred_at":%q,"message":"TypeError: cart is undefined","fingerprint":"cart-%d"}`, id, at, i%3)
	}
	return `{"events":[` + strings.Join(items, ",") + `]}`
}

// timeToServiceRollback is timeToRollback for a service: it runs send with
// the timer on until the hub shows the automatic rollback of deployment id,
// then, timer off, waits for that rollback of service in env to finish.
func timeToServiceRollback(b *testing.B, ch <-chan roman.Change, m *Server, service, env, id string, send func() int) time.Duration {
	drain(ch)
	b.StartTimer()
	start := time.Now()
	if code := send(); code != 200 {
		b.Fatalf("ingest: %d", code)
	}
	for c := range ch {
		if c.Kind == roman.ChangeRollback && c.DeploymentID == id {
			break
		}
	}
	d := time.Since(start)
	b.StopTimer()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, _ := m.Store.ListRollbackEvents(context.Background(), roman.RollbackFilter{Service: service, Environment: env})
		if len(evs) == 1 && evs[0].Finished() {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the rollback of %s in %s did not finish: %d rollback events", service, env, len(evs))
		}
		time.Sleep(time.Millisecond)
	}
	return d
}
