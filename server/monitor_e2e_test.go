package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
)

// monitorSettings skip the verify window so an automatic rollback finishes
// at once; everything else is the default (5-minute window, 10-minute
// cooldown, auto_rollback window).
var monitorSettings = map[string]string{"ROMAN_VERIFY_WINDOW": "0s"}

func eachStoreMonitored(t *testing.T, fn func(t *testing.T, m *Server)) {
	t.Helper()
	testkit.EachStore(t, func(t *testing.T, url string) { fn(t, startServer(t, url, monitorSettings)) })
}

// awaitMonitor polls cond (every 5 ms, up to 10 s): the monitor acts
// asynchronously, within milliseconds of an ingested batch.
func awaitMonitor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// romanEvents reads the decision rows of a deployment of one type.
func romanEvents(t *testing.T, m *Server, deploymentID, typ string) []*roman.RomanEvent {
	t.Helper()
	evs, err := m.Store.ListRomanEvents(context.Background(), roman.RomanEventFilter{DeploymentID: deploymentID, EventType: typ})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// history returns the rollback events of an environment.
func history(t *testing.T, m *Server, env string) []*roman.RollbackEvent {
	t.Helper()
	evs, err := m.Store.ListRollbackEvents(context.Background(), roman.RollbackFilter{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// deployPair records a healthy previous release and a new one completed now
// (watched by the monitor) in env, returning the new one's id.
func deployPair(t testing.TB, m *Server, env string) string {
	t.Helper()
	base := m.URL()
	prev := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	if code, out := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"`+env+`","version":"v2.5.2","git_commit":"a7f3b29",
		"git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"`+prev+`"}`); code != 201 {
		t.Fatalf("record good: %d %v", code, out)
	}
	code, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"`+env+`","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main"}`)
	if code != 201 {
		t.Fatalf("record bad: %d %v", code, bad)
	}
	id := bad["deployment_id"].(string)
	if code, out := testkit.Call(t, "PATCH", base+"/deployments/"+id, deployToken, `{"status":"success"}`); code != 200 {
		t.Fatalf("complete: %d %v", code, out)
	}
	return id
}

// errorBatch is a POST /errors body of n events of env at the given ages.
func errorBatch(env string, n int, age func(i int) time.Duration) string {
	now := time.Now().UTC()
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"environment":%q,"occurred_at":%q,"message":"TypeError: cart is undefined","fingerprint":"cart-%d"}`,
			env, now.Add(-age(i)).Format(time.RFC3339Nano), i%3)
	}
	return `{"events":[` + strings.Join(items, ",") + `]}`
}

func ago(d time.Duration) func(int) time.Duration { return func(int) time.Duration { return d } }

// TestAutomaticRollbackOverHTTP plays the seed's auto-rollback scenario
// through the real server: 3 errors/minute is degraded and rolls nothing
// back; 9 errors/minute rolls back exactly once; more errors after the
// rollback roll back nothing more.
func TestAutomaticRollbackOverHTTP(t *testing.T) {
	eachStoreMonitored(t, func(t *testing.T, m *Server) {
		base := m.URL()
		badID := deployPair(t, m, "production")

		code, out := testkit.Call(t, "POST", base+"/errors", deployToken, errorBatch("production", 3, ago(10*time.Second)))
		if code != 200 || out["accepted"] != 3.0 || out["deployment_ids"].([]any)[0] != badID {
			t.Fatalf("ingest: %d %v", code, out)
		}
		// The evaluation of that batch writes the warning; a trigger would
		// have been decided in the same evaluation.
		awaitMonitor(t, "the degraded warning", func() bool { return len(romanEvents(t, m, badID, roman.EventHealthWarning)) > 0 })
		if w := romanEvents(t, m, badID, roman.EventHealthWarning)[0]; !strings.Contains(w.Message, "Elevated error rate: 3 errors/minute") {
			t.Fatalf("warning: %s", w.Message)
		}
		code, chk := testkit.Call(t, "POST", base+"/auto-rollback/check", readToken, `{"deployment_id":"`+badID+`"}`)
		if h := chk["health"].(map[string]any); code != 200 || chk["should_rollback"] != false || h["status"] != "degraded" {
			t.Fatalf("check at 3 errors/minute: %d %v", code, chk)
		}
		if n := len(history(t, m, "production")); n != 0 {
			t.Fatalf("3 errors/minute rolled back (%d events)", n)
		}

		// Six more: 9 in the last minute crosses the trigger.
		if code, out := testkit.Call(t, "POST", base+"/errors", deployToken, errorBatch("production", 6, ago(5*time.Second))); code != 200 {
			t.Fatalf("ingest: %d %v", code, out)
		}
		awaitMonitor(t, "the automatic rollback to finish", func() bool {
			h := history(t, m, "production")
			return len(h) == 1 && h[0].Finished()
		})
		ev := history(t, m, "production")[0]
		if ev.DeploymentID != badID || ev.TriggerType != "automatic" || ev.TriggerReason != "High error rate: 9 errors/minute" || ev.Status != roman.RollbackSuccess {
			t.Fatalf("rollback event: %+v", ev)
		}
		if trig := romanEvents(t, m, badID, roman.EventAutoRollbackTriggered); len(trig) != 1 {
			t.Fatalf("trigger rows: %d", len(trig))
		}

		// More errors after the rollback: they land on the environment's
		// current deployment (the rollback's), which is never rolled back
		// automatically.
		code, out = testkit.Call(t, "POST", base+"/errors", deployToken, errorBatch("production", 20, ago(time.Second)))
		if code != 200 {
			t.Fatalf("ingest after rollback: %d %v", code, out)
		}
		current := out["deployment_ids"].([]any)[0].(string)
		if current == badID {
			t.Fatal("errors after the rollback were attributed to the rolled-back deployment")
		}
		awaitMonitor(t, "the suppression", func() bool {
			return len(romanEvents(t, m, current, roman.EventAutoRollbackSuppressed))+len(romanEvents(t, m, current, roman.EventHealthAlert)) > 0
		})
		if n := len(history(t, m, "production")); n != 1 {
			t.Fatalf("a second automatic rollback ran: %d events", n)
		}
	})
}

// TestRecentErrorsTriggerOverHTTP: 51 errors spread over five minutes, no
// more than 5 in the last one, roll back for the five-minute count.
func TestRecentErrorsTriggerOverHTTP(t *testing.T) {
	eachStoreMonitored(t, func(t *testing.T, m *Server) {
		badID := deployPair(t, m, "production")
		body := errorBatch("production", 51, func(i int) time.Duration {
			if i < 5 {
				return 20 * time.Second
			}
			return time.Duration(70+i*4) * time.Second
		})
		if code, out := testkit.Call(t, "POST", m.URL()+"/errors", deployToken, body); code != 200 {
			t.Fatalf("ingest: %d %v", code, out)
		}
		awaitMonitor(t, "the automatic rollback", func() bool { return len(history(t, m, "production")) == 1 })
		ev := history(t, m, "production")[0]
		if ev.DeploymentID != badID || ev.TriggerType != "automatic" || ev.TriggerReason != "Too many recent errors: 51 in 5 minutes" {
			t.Fatalf("rollback event: %+v", ev)
		}
	})
}

// TestDirectInsertsCountOnPostgres: rows an application inserts straight
// into ops.error_events count, and wake the monitor through NOTIFY; the
// seed's monitoring query works verbatim.
func TestDirectInsertsCountOnPostgres(t *testing.T) {
	m := startServer(t, testpg.URL(t), monitorSettings)
	badID := deployPair(t, m, "production")
	db := m.Store.SQL()
	if _, err := db.Exec(`INSERT INTO ops.error_events (deployment_id, message) SELECT $1, 'boom' FROM generate_series(1, 7)`, badID); err != nil {
		t.Fatal(err)
	}
	awaitMonitor(t, "the automatic rollback to finish", func() bool {
		h := history(t, m, "production")
		return len(h) == 1 && h[0].Finished()
	})
	if ev := history(t, m, "production")[0]; ev.TriggerReason != "High error rate: 7 errors/minute" || ev.TriggerType != "automatic" || ev.Status != roman.RollbackSuccess {
		t.Fatalf("rollback event: %+v", ev)
	}
	// The seed's "Real-Time Health Monitoring" query, verbatim.
	var id, version, env string
	var deployedAt time.Time
	var health []byte
	err := db.QueryRow(`SELECT 
  d.deployment_id,
  d.version,
  d.environment,
  d.deployed_at,
  ops.get_deployment_health(d.deployment_id) as health
FROM ops.deployments d
WHERE d.status = 'success'
  AND d.environment = 'production'
ORDER BY d.deployed_at DESC
LIMIT 1;`).Scan(&id, &version, &env, &deployedAt, &health)
	if err != nil {
		t.Fatal(err)
	}
	// The newest successful deployment is now the rollback's, with no
	// errors of its own.
	if version != "v2.5.2" || !strings.Contains(string(health), `"status": "healthy"`) || !strings.Contains(string(health), `"error_rate_per_minute": 0`) {
		t.Fatalf("health of %s %s: %s", version, id, health)
	}
	// The seed's diagnosis query finds the monitor's decisions.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ops.roman_events WHERE metadata->>'deployment_id' = $1`, badID).Scan(&n); err != nil || n == 0 {
		t.Fatalf("roman_events of the deployment: %d %v", n, err)
	}
}
