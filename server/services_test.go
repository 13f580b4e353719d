package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// deployServicePair records a healthy previous release and a new one
// completed now (watched by the monitor) of a service in env, returning the
// new one's id.
func deployServicePair(t *testing.T, m *Server, service, env string) string {
	t.Helper()
	base := m.URL()
	prev := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	if code, out := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"service":"`+service+`","environment":"`+env+`",
		"version":"`+service+`-1","git_commit":"`+service+`-good","git_branch":"main","status":"success",
		"health_check_passed":true,"deployed_at":"`+prev+`"}`); code != 201 || out["service"] != service {
		t.Fatalf("record good %s: %d %v", service, code, out)
	}
	code, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"service":"`+service+`","environment":"`+env+`",
		"version":"`+service+`-2","git_commit":"`+service+`-bad","git_branch":"main"}`)
	if code != 201 || bad["service"] != service {
		t.Fatalf("record bad %s: %d %v", service, code, bad)
	}
	id := bad["deployment_id"].(string)
	if code, out := testkit.Call(t, "PATCH", base+"/deployments/"+id, deployToken, `{"status":"success"}`); code != 200 {
		t.Fatalf("complete: %d %v", code, out)
	}
	return id
}

// serviceErrors is a POST /errors body of n events of a service in env,
// without deployment_id.
func serviceErrors(service, env string, n int) string {
	now := time.Now().UTC()
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"service":%q,"environment":%q,"occurred_at":%q,"message":"TypeError: cart is undefined"}`,
			service, env, now.Add(-5*time.Second).Format(time.RFC3339Nano))
	}
	return `{"events":[` + strings.Join(items, ",") + `]}`
}

// serviceHistory returns the rollback events of a service in env.
func serviceHistory(t *testing.T, m *Server, service, env string) []*roman.RollbackEvent {
	t.Helper()
	evs, err := m.Store.ListRollbackEvents(context.Background(), roman.RollbackFilter{Service: service, Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestServicesAreIndependentOverHTTP: two services deploy to production.
// Errors reported for one (by service and environment, no deployment_id)
// roll back that service only; the other keeps its watch, is not in the
// first one's cooldown and rolls back automatically in turn when its own
// errors cross the trigger.
func TestServicesAreIndependentOverHTTP(t *testing.T) {
	eachStoreMonitored(t, func(t *testing.T, m *Server) {
		base := m.URL()
		apiBad := deployServicePair(t, m, "api", "production")
		webBad := deployServicePair(t, m, "web", "production")

		// Errors of api are attributed to api's current deployment.
		code, out := testkit.Call(t, "POST", base+"/errors", deployToken, serviceErrors("api", "production", 9))
		if code != 200 || out["deployment_ids"].([]any)[0] != apiBad {
			t.Fatalf("ingest api: %d %v", code, out)
		}
		awaitMonitor(t, "api's automatic rollback to finish", func() bool {
			h := serviceHistory(t, m, "api", "production")
			return len(h) == 1 && h[0].Finished()
		})
		ev := serviceHistory(t, m, "api", "production")[0]
		if ev.DeploymentID != apiBad || ev.Service != "api" || ev.TriggerType != roman.TriggerAutomatic || ev.Status != roman.RollbackSuccess {
			t.Fatalf("api rollback event: %+v", ev)
		}
		// The rollback went back to api's own good release.
		cur, err := m.Store.CurrentDeployment(context.Background(), "api", "production")
		if err != nil || cur == nil || cur.GitCommit != "api-good" || cur.RollbackFrom == nil || *cur.RollbackFrom != apiBad {
			t.Fatalf("api's current deployment after the rollback: %+v, %v", cur, err)
		}

		// web is untouched: still live, still watched, no rollback, and
		// nothing suppressed or alerted for it.
		code, web := testkit.Call(t, "GET", base+"/deployments/"+webBad, readToken, "")
		if code != 200 || web["status"] != roman.StatusSuccess || web["service"] != "web" {
			t.Fatalf("web after api's rollback: %d %v", code, web)
		}
		if h := serviceHistory(t, m, "web", "production"); len(h) != 0 {
			t.Fatalf("web was rolled back with api: %+v", h)
		}
		if n := len(romanEvents(t, m, webBad, roman.EventAutoRollbackSuppressed)); n != 0 {
			t.Fatalf("web has %d suppression rows", n)
		}

		// web's own errors roll web back at once: api's cooldown and its
		// count of automatic rollbacks are not web's.
		code, out = testkit.Call(t, "POST", base+"/errors", deployToken, serviceErrors("web", "production", 9))
		if code != 200 || out["deployment_ids"].([]any)[0] != webBad {
			t.Fatalf("ingest web: %d %v", code, out)
		}
		awaitMonitor(t, "web's automatic rollback to finish", func() bool {
			h := serviceHistory(t, m, "web", "production")
			return len(h) == 1 && h[0].Finished()
		})
		if ev := serviceHistory(t, m, "web", "production")[0]; ev.DeploymentID != webBad || ev.Status != roman.RollbackSuccess || ev.TriggerType != roman.TriggerAutomatic {
			t.Fatalf("web rollback event: %+v", ev)
		}
		if n := len(romanEvents(t, m, webBad, roman.EventAutoRollbackSuppressed)); n != 0 {
			t.Fatalf("web's rollback was suppressed (%d rows)", n)
		}

		// api is in its cooldown: errors on its rollback's deployment roll
		// nothing back.
		code, out = testkit.Call(t, "POST", base+"/errors", deployToken, serviceErrors("api", "production", 20))
		if code != 200 {
			t.Fatalf("ingest api after rollback: %d %v", code, out)
		}
		apiNow := out["deployment_ids"].([]any)[0].(string)
		awaitMonitor(t, "api's suppression", func() bool {
			return len(romanEvents(t, m, apiNow, roman.EventAutoRollbackSuppressed))+len(romanEvents(t, m, apiNow, roman.EventHealthAlert)) > 0
		})
		if n := len(serviceHistory(t, m, "api", "production")); n != 1 {
			t.Fatalf("api rolled back again: %d events", n)
		}

		// The API filters by service and shows it on every row.
		code, hist := testkit.Call(t, "GET", base+"/auto-rollback/history?service=web", readToken, "")
		if evs, _ := hist["rollbacks"].([]any); code != 200 || len(evs) != 1 || evs[0].(map[string]any)["service"] != "web" {
			t.Fatalf("history?service=web: %d %v", code, hist)
		}
		code, list := testkit.Call(t, "GET", base+"/deployments?service=api&environment=production", readToken, "")
		if ds, _ := list["deployments"].([]any); code != 200 || len(ds) != 3 {
			t.Fatalf("deployments?service=api: %d %v", code, list)
		}
		if code, out := testkit.Call(t, "GET", base+"/deployments?service=Bad!", readToken, ""); code != 400 {
			t.Fatalf("bad service filter: %d %v", code, out)
		}
		// A deployment without service is the default one's.
		code, def := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v1","git_commit":"c1","git_branch":"main"}`)
		if code != 201 || def["service"] != roman.DefaultService {
			t.Fatalf("default service: %d %v", code, def)
		}
		if code, out := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"service":"No Way","environment":"production","version":"v1","git_commit":"c1","git_branch":"main"}`); code != 400 {
			t.Fatalf("bad service: %d %v", code, out)
		}
	})
}
