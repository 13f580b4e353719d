package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// postErrorsOf posts n errors of a deployment spread evenly over
// [now-from, now-to].
func postErrorsOf(t *testing.T, base, deploymentID string, n int, from, to time.Duration) {
	t.Helper()
	now := time.Now().UTC()
	items := make([]string, n)
	for i := range items {
		at := now.Add(-from + time.Duration(i)*(from-to)/time.Duration(n))
		items[i] = fmt.Sprintf(`{"deployment_id":%q,"occurred_at":%q,"message":"boom"}`, deploymentID, at.Format(time.RFC3339Nano))
	}
	if code, out := testkit.Call(t, "POST", base+"/errors", deployToken, `{"events":[`+strings.Join(items, ",")+`]}`); code != 200 {
		t.Fatalf("ingest: %d %v", code, out)
	}
}

// TestBaselineJudgeOverHTTP runs the baseline judge through the real server
// on both stores: a busy service (20 errors/minute before and after the
// deploy) is not rolled back, the check response says inconclusive; a
// regression to 200 errors/minute is, with the regression reason, and
// GET /deployments/{id}/judgements shows the evidence.
func TestBaselineJudgeOverHTTP(t *testing.T) {
	settings := map[string]string{"ROMAN_VERIFY_WINDOW": "0s", "ROMAN_JUDGE": "baseline", "ROMAN_JUDGE_SHADOW": "true"}
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, settings)
		base := m.URL()
		now := time.Now().UTC()
		code, prev := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29",
			"git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"`+now.Add(-time.Hour).Format(time.RFC3339)+`"}`)
		if code != 201 {
			t.Fatalf("record previous: %d %v", code, prev)
		}
		prevID := prev["deployment_id"].(string)
		// Its errors over the baseline window, none in its last five
		// minutes (so its own health fires no trigger while it is current).
		postErrorsOf(t, base, prevID, 600, 32*time.Minute, 7*time.Minute)
		code, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.3","git_commit":"b81c4d0",
			"git_branch":"main","status":"success","deployed_at":"`+now.Add(-2*time.Minute).Format(time.RFC3339Nano)+`"}`)
		if code != 201 {
			t.Fatalf("record new: %d %v", code, bad)
		}
		id := bad["deployment_id"].(string)

		// 20/minute, as before: above the absolute trigger, no regression.
		postErrorsOf(t, base, id, 20, time.Minute, 0)
		awaitMonitor(t, "the inconclusive alert", func() bool { return len(romanEvents(t, m, id, roman.EventHealthAlert)) > 0 })
		time.Sleep(50 * time.Millisecond)
		if n := len(history(t, m, "production")); n != 0 {
			t.Fatalf("busy service rolled back under baseline (%d events): %+v", n, history(t, m, "production")[0])
		}
		code, chk := testkit.Call(t, "POST", base+"/auto-rollback/check", readToken, `{"deployment_id":"`+id+`"}`)
		j, _ := chk["judgement"].(map[string]any)
		if code != 200 || chk["should_rollback"] != false || j == nil || j["verdict"] != "inconclusive" || j["judge"] != "baseline" {
			t.Fatalf("check: %d %v", code, chk)
		}

		// The dashboard card shows the verdict and its why line.
		code, sum := testkit.Call(t, "GET", base+"/app/admin/roman-dashboard/summary", readToken, "")
		var card map[string]any
		for _, e := range sum["environments"].([]any) {
			if e := e.(map[string]any); e["deployment"].(map[string]any)["deployment_id"] == id {
				card = e
			}
		}
		if code != 200 || card == nil || card["judgement"] == nil || card["judgement"].(map[string]any)["verdict"] != "inconclusive" ||
			!strings.HasPrefix(card["judgement"].(map[string]any)["why"].(string), "Why: ") {
			t.Fatalf("dashboard card: %d %v", code, card)
		}

		// 200/minute: a regression.
		postErrorsOf(t, base, id, 100, 30*time.Second, 0)
		awaitMonitor(t, "the automatic rollback", func() bool {
			h := history(t, m, "production")
			return len(h) == 1 && h[0].Finished()
		})
		ev := history(t, m, "production")[0]
		if ev.DeploymentID != id || !strings.HasPrefix(ev.TriggerReason, "Error rate regression: ") || !strings.Contains(ev.TriggerReason, "on v2.5.2") {
			t.Fatalf("rollback event: %+v", ev)
		}
		code, list := testkit.Call(t, "GET", base+"/deployments/"+id+"/judgements", readToken, "")
		if code != 200 {
			t.Fatalf("judgements: %d %v", code, list)
		}
		var trigger, shadow bool
		for _, r := range list["judgements"].([]any) {
			r := r.(map[string]any)
			if r["record"] == "trigger" && r["verdict"] == "fail" && strings.Contains(r["why"].(string), "on v2.5.2") {
				trigger = true
				if b := r["baseline"].(map[string]any); b["deployment_id"] != prevID || b["errors"] != 600.0 {
					t.Errorf("baseline evidence %v", b)
				}
			}
			if r["shadow"] == true && r["judge"] == "threshold" && r["verdict"] == "fail" {
				shadow = true
			}
		}
		if !trigger || !shadow {
			t.Fatalf("judgements (trigger %v, shadow threshold fail %v): %v", trigger, shadow, list)
		}
		// roman explain's verdict carries the judge's.
		code, ex := testkit.Call(t, "GET", base+"/deployments/"+id+"/explain", readToken, "")
		if v := ex["verdict"].(map[string]any); code != 200 || v["judge"] != "baseline" || v["judge_verdict"] != "fail" || !strings.Contains(v["judge_why"].(string), "on v2.5.2") {
			t.Fatalf("explain: %d %v", code, ex["verdict"])
		}
		if code, out := testkit.Call(t, "GET", base+"/deployments/"+roman.NewUUID()+"/judgements", readToken, ""); code != 404 {
			t.Errorf("unknown deployment: %d %v", code, out)
		}
	})
}
