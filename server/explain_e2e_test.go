package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// getExplanation reads GET /deployments/{id}/explain as the typed answer.
func getExplanation(t *testing.T, m *Server, id string) *roman.Explanation {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, m.URL()+"/deployments/"+id+"/explain", nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("explain %s: %d %s", id, res.StatusCode, raw)
	}
	var ex roman.Explanation
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return &ex
}

// TestExplainSeedScenarioOverHTTP plays the seed's scenario (a good
// release, a bad one, errors, an automatic rollback) and reads the bad
// release's explanation back through the real route: recorded, watch,
// trigger, validation, rollback steps, verdict, in that order.
func TestExplainSeedScenarioOverHTTP(t *testing.T) {
	eachStoreMonitored(t, func(t *testing.T, m *Server) {
		base := m.URL()
		badID := deployPair(t, m, "production")
		if code, out := testkit.Call(t, "POST", base+"/errors", deployToken, errorBatch("production", 3, ago(10*time.Second))); code != 200 {
			t.Fatalf("ingest: %d %v", code, out)
		}
		awaitMonitor(t, "the degraded warning", func() bool { return len(romanEvents(t, m, badID, roman.EventHealthWarning)) > 0 })
		if code, out := testkit.Call(t, "POST", base+"/errors", deployToken, errorBatch("production", 6, ago(5*time.Second))); code != 200 {
			t.Fatalf("ingest: %d %v", code, out)
		}
		awaitMonitor(t, "the automatic rollback to finish", func() bool {
			h := history(t, m, "production")
			return len(h) == 1 && h[0].Finished()
		})

		ex := getExplanation(t, m, badID)
		first := func(kind string, match func(e *roman.ExplainEntry) bool) int {
			for i, e := range ex.Timeline {
				if e.Kind == kind && (match == nil || match(e)) {
					return i
				}
			}
			var got []string
			for _, e := range ex.Timeline {
				got = append(got, e.Kind+": "+e.Summary)
			}
			t.Fatalf("no %s entry in the timeline:\n%s", kind, strings.Join(got, "\n"))
			return -1
		}
		recorded := first(roman.ExplainRecorded, nil)
		watch := first(roman.ExplainWatch, nil)
		reading := first(roman.ExplainReading, func(e *roman.ExplainEntry) bool { return strings.Contains(e.Summary, "3 errors/minute") })
		trigger := first(roman.ExplainTrigger, func(e *roman.ExplainEntry) bool {
			return strings.Contains(e.Summary, "High error rate: 9 errors/minute")
		})
		validation := first(roman.ExplainValidation, func(e *roman.ExplainEntry) bool {
			var d struct {
				Metadata struct {
					Verdict *roman.Validation `json:"verdict"`
					Trigger string            `json:"trigger"`
				} `json:"metadata"`
			}
			return json.Unmarshal(e.Details, &d) == nil && d.Metadata.Verdict != nil && d.Metadata.Verdict.Compliant &&
				d.Metadata.Trigger == roman.TriggerAutomatic && strings.Contains(e.Summary, "approved")
		})
		execute := first(roman.ExplainRollbackStep, func(e *roman.ExplainEntry) bool {
			return strings.HasPrefix(e.Summary, "Rollback step execute: success")
		})
		complete := first(roman.ExplainRollbackStep, func(e *roman.ExplainEntry) bool { return strings.HasPrefix(e.Summary, "Rollback step complete") })
		verdict := first(roman.ExplainVerdictKind, nil)
		order := []int{recorded, watch, reading, trigger, validation, execute, complete, verdict}
		for i := 1; i < len(order); i++ {
			if order[i-1] >= order[i] {
				t.Fatalf("timeline out of order (recorded, watch, reading, trigger, validation, execute, complete, verdict at %v)", order)
			}
		}
		if verdict != len(ex.Timeline)-1 {
			t.Errorf("the verdict is entry %d of %d", verdict, len(ex.Timeline))
		}
		for i := 1; i < len(ex.Timeline); i++ {
			if ex.Timeline[i].At.Before(ex.Timeline[i-1].At) {
				t.Errorf("entry %d (%s) is older than entry %d", i, ex.Timeline[i].Kind, i-1)
			}
		}
		if v := ex.Verdict; !v.RolledBack || v.Status != roman.StatusRolledBack || v.HealthCheckPassed ||
			!strings.Contains(v.Why, "automatic") || !strings.Contains(v.Why, "High error rate: 9 errors/minute") {
			t.Errorf("verdict %+v", v)
		}

		// The release it went back to shows the rollback that targeted it.
		ev := history(t, m, "production")[0]
		var plan struct {
			Target string `json:"target_deployment_id"`
		}
		if err := json.Unmarshal(ev.RollbackPlan, &plan); err != nil || plan.Target == "" {
			t.Fatalf("rollback plan %s", ev.RollbackPlan)
		}
		good := getExplanation(t, m, plan.Target)
		found := false
		for _, e := range good.Timeline {
			found = found || e.Kind == roman.ExplainTargeted && strings.Contains(e.Summary, ev.EventID)
		}
		if !found || good.Verdict.RolledBack {
			t.Errorf("the target's explanation does not show the rollback that went back to it: %+v", good)
		}

		// The audit trail lists the trigger by deployment and type.
		code, out := testkit.Call(t, "GET", base+"/events?deployment_id="+badID+"&type="+roman.EventAutoRollbackTriggered+"&environment=production", readToken, "")
		if evs, _ := out["events"].([]any); code != 200 || len(evs) != 1 {
			t.Fatalf("GET /events: %d %v", code, out)
		}
		if code, out := testkit.Call(t, "GET", base+"/deployments/"+roman.NewUUID()+"/explain", readToken, ""); code != 404 {
			t.Errorf("unknown deployment: %d %v", code, out)
		}
	})
}
