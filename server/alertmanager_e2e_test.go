package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// The reference payloads, captured from a real Alertmanager 0.25.0: one
// firing alert HighErrorRate of checkout-api 1.4.2 in production
// (fingerprint 15620aa453614b8b), then the same alert resolved.
const (
	amFiringFile   = "../alertmanager/testdata/webhook_firing.json"
	amResolvedFile = "../alertmanager/testdata/webhook_resolved.json"
	amFingerprint  = "15620aa453614b8b"
	amReason       = "Alert firing: HighErrorRate: Error rate above 5% on checkout-api"
)

// amPayload reads a reference payload; edit, when set, changes the decoded
// message before it is encoded again.
func amPayload(t testing.TB, file string, edit func(m map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return string(b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// amAlert returns the i-th alert of a decoded payload.
func amAlert(m map[string]any, i int) map[string]any {
	return m["alerts"].([]any)[i].(map[string]any)
}

// startingAt sets the first alert's startsAt.
func startingAt(at time.Time) func(m map[string]any) {
	return func(m map[string]any) { amAlert(m, 0)["startsAt"] = at.UTC().Format(time.RFC3339Nano) }
}

// postAM posts an Alertmanager webhook body as Alertmanager does.
func postAM(t testing.TB, base, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/integrations/alertmanager", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/0.25.0")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// deployCheckout records checkout-api 1.4.1 (healthy, an hour ago) and
// 1.4.2 (completed now, watched) in env and returns 1.4.2's id.
func deployCheckout(t testing.TB, m *Server, env string) string {
	t.Helper()
	base := m.URL()
	prev := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	if code, out := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"service":"checkout-api","environment":"`+env+`","version":"1.4.1",
		"git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"`+prev+`"}`); code != 201 {
		t.Fatalf("record good: %d %v", code, out)
	}
	code, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"service":"checkout-api","environment":"`+env+`","version":"1.4.2","git_commit":"b81c4d0","git_branch":"main"}`)
	if code != 201 {
		t.Fatalf("record bad: %d %v", code, bad)
	}
	id := bad["deployment_id"].(string)
	if code, out := testkit.Call(t, "PATCH", base+"/deployments/"+id, deployToken, `{"status":"success"}`); code != 200 {
		t.Fatalf("complete: %d %v", code, out)
	}
	return id
}

var amTriggers = map[string]string{"ROMAN_VERIFY_WINDOW": "0s", "ROMAN_ALERT_TRIGGERS": "HighErrorRate"}

// TestAlertmanagerTriggerRollsBack: the reference firing alert, started
// after 1.4.2 was deployed and named in alert_triggers, rolls 1.4.2 back
// with the alert as the reason and its identity and attribution in the
// evidence; the re-sent group is a duplicate; the resolved message marks it
// resolved.
func TestAlertmanagerTriggerRollsBack(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, amTriggers)
		base := m.URL()
		badID := deployCheckout(t, m, "production")
		startsAt := time.Now().UTC().Add(time.Second)
		firing := amPayload(t, amFiringFile, startingAt(startsAt))

		code, out := postAM(t, base, deployToken, firing)
		if code != 200 || out["recorded"] != 1.0 || out["unattributed"] != 0.0 {
			t.Fatalf("firing: %d %v", code, out)
		}
		a := out["alerts"].([]any)[0].(map[string]any)
		if a["deployment_id"] != badID || a["attribution_rule"] != roman.AttributedByVersion || a["trigger"] != true || a["outcome"] != "recorded" {
			t.Fatalf("alert result: %v", a)
		}
		awaitMonitor(t, "the automatic rollback to finish", func() bool {
			h := history(t, m, "production")
			return len(h) == 1 && h[0].Finished()
		})
		ev := history(t, m, "production")[0]
		if ev.DeploymentID != badID || ev.TriggerType != roman.TriggerAutomatic || ev.TriggerReason != amReason || ev.Status != roman.RollbackSuccess {
			t.Fatalf("rollback event: %+v", ev)
		}
		trig := romanEvents(t, m, badID, roman.EventAutoRollbackTriggered)
		if len(trig) != 1 {
			t.Fatalf("trigger rows: %d", len(trig))
		}
		var md struct {
			Alert roman.FiringAlert `json:"alert"`
		}
		if err := json.Unmarshal(trig[0].Metadata, &md); err != nil {
			t.Fatal(err)
		}
		if md.Alert.Fingerprint != amFingerprint || md.Alert.AlertName != "HighErrorRate" || md.Alert.Rule != roman.AttributedByVersion ||
			!md.Alert.StartsAt.Equal(startsAt.Truncate(time.Microsecond)) {
			t.Fatalf("trigger evidence: %s", trig[0].Metadata)
		}
		if rows := romanEvents(t, m, badID, roman.EventIntegrationAlert); len(rows) != 1 || !strings.Contains(rows[0].Message, "attributed by version") {
			t.Fatalf("integration_alert rows: %+v", rows)
		}
		// The constitution approved it: a firing trigger alert is not
		// "already stable" at 0 errors/minute.
		var val roman.Validation
		if err := json.Unmarshal(ev.ConstitutionalValidation, &val); err != nil || !val.Compliant {
			t.Fatalf("validation: %s", ev.ConstitutionalValidation)
		}

		// roman explain shows the alert and the trigger it became.
		code, ex := testkit.Call(t, "GET", base+"/deployments/"+badID+"/explain", readToken, "")
		raw, _ := json.Marshal(ex)
		if code != 200 || !strings.Contains(string(raw), roman.EventIntegrationAlert) || !strings.Contains(string(raw), amReason) ||
			!strings.Contains(string(raw), amFingerprint) {
			t.Fatalf("explain: %d %s", code, raw)
		}

		// Alertmanager re-sends the group (retries, group_interval,
		// repeat_interval): nothing new is written.
		code, out = postAM(t, base, deployToken, firing)
		if code != 200 || out["duplicates"] != 1.0 || out["recorded"] != 0.0 {
			t.Fatalf("re-sent: %d %v", code, out)
		}
		if rows := romanEvents(t, m, badID, roman.EventIntegrationAlert); len(rows) != 1 {
			t.Fatalf("a duplicate wrote %d integration_alert rows", len(rows))
		}

		// Resolved: recorded, and it stops counting.
		resolved := amPayload(t, amResolvedFile, startingAt(startsAt))
		code, out = postAM(t, base, deployToken, resolved)
		if code != 200 || out["resolved"] != 1.0 {
			t.Fatalf("resolved: %d %v", code, out)
		}
		if rows := romanEvents(t, m, badID, roman.EventIntegrationAlert); len(rows) != 2 || !strings.Contains(rows[0].Message, "resolved") {
			t.Fatalf("integration_alert rows after resolve: %+v", rows)
		}
		firingNow, err := m.Store.FiringAlerts(context.Background(), []string{badID}, nil)
		if err != nil || len(firingNow[badID]) != 0 {
			t.Fatalf("firing after resolve: %v %v", firingNow, err)
		}
		if code, out = postAM(t, base, deployToken, resolved); code != 200 || out["duplicates"] != 1.0 {
			t.Fatalf("resolved again: %d %v", code, out)
		}
		if n := len(history(t, m, "production")); n != 1 {
			t.Fatalf("rollbacks: %d", n)
		}
	})
}

// TestAlertmanagerCheckAndStability: with auto_rollback never, a firing
// trigger alert is the /check reason and the constitution's stability rule
// does not call the release stable; resolved, it is stable again at 0
// errors/minute. Another firing alert is a warning.
func TestAlertmanagerCheckAndStability(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, amTriggers, map[string]string{"ROMAN_AUTO_ROLLBACK": "never"})
		base := m.URL()
		badID := deployCheckout(t, m, "production")
		startsAt := time.Now().UTC().Add(time.Second)

		// A firing alert that is no trigger: a warning only.
		other := amPayload(t, amFiringFile, func(p map[string]any) {
			startingAt(startsAt)(p)
			a := amAlert(p, 0)
			a["labels"].(map[string]any)["alertname"] = "DiskFilling"
			a["annotations"].(map[string]any)["summary"] = "Disk 91% full"
			a["fingerprint"] = "00000000000000d1"
		})
		if code, out := postAM(t, base, deployToken, other); code != 200 || out["alerts"].([]any)[0].(map[string]any)["trigger"] != false {
			t.Fatalf("other alert: %d %v", code, out)
		}
		code, chk := testkit.Call(t, "POST", base+"/auto-rollback/check", readToken, `{"deployment_id":"`+badID+`"}`)
		h := chk["health"].(map[string]any)
		if code != 200 || chk["should_rollback"] != false || h["status"] != "degraded" || !containsText(h["warnings"], "Alert firing: DiskFilling: Disk 91% full") {
			t.Fatalf("check with a warning alert: %d %v", code, chk)
		}

		if code, out := postAM(t, base, deployToken, amPayload(t, amFiringFile, startingAt(startsAt))); code != 200 {
			t.Fatalf("firing: %d %v", code, out)
		}
		code, chk = testkit.Call(t, "POST", base+"/auto-rollback/check", readToken, `{"deployment_id":"`+badID+`"}`)
		h = chk["health"].(map[string]any)
		if code != 200 || chk["should_rollback"] != true || chk["reason"] != amReason || h["reason"] != amReason || h["error_rate_per_minute"] != 0.0 {
			t.Fatalf("check with a trigger alert: %d %v", code, chk)
		}
		validate := `{"deployment_id":"` + badID + `","trigger_reason":"alert","trigger_type":"automatic"}`
		code, v := testkit.Call(t, "POST", base+"/auto-rollback/validate", readToken, validate)
		if code != 200 || containsText(v["violations"], "System already stable") {
			t.Fatalf("validation with a firing trigger alert: %d %v", code, v)
		}

		if code, out := postAM(t, base, deployToken, amPayload(t, amResolvedFile, startingAt(startsAt))); code != 200 || out["resolved"] != 1.0 {
			t.Fatalf("resolved: %d %v", code, out)
		}
		code, v = testkit.Call(t, "POST", base+"/auto-rollback/validate", readToken, validate)
		if code != 200 || !containsText(v["violations"], "System already stable: error rate 0/minute") {
			t.Fatalf("validation after the alert resolved: %d %v", code, v)
		}
		if n := len(history(t, m, "production")); n != 0 {
			t.Fatalf("auto_rollback never rolled back: %d", n)
		}
	})
}

// containsText reports whether a decoded JSON list of strings has one
// containing text.
func containsText(list any, text string) bool {
	l, _ := list.([]any)
	for _, s := range l {
		if str, ok := s.(string); ok && strings.Contains(str, text) {
			return true
		}
	}
	return false
}

// TestAlertmanagerPreexistingAlert: the reference alert started (16:25)
// before 1.4.2 was recorded: it never rolls 1.4.2 back, and a suppression
// row says why.
func TestAlertmanagerPreexistingAlert(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, amTriggers)
		base := m.URL()
		badID := deployCheckout(t, m, "production")
		// Before the deployment, whatever today's date is.
		firing := amPayload(t, amFiringFile, startingAt(time.Now().Add(-time.Minute)))
		code, out := postAM(t, base, deployToken, firing)
		a := out["alerts"].([]any)[0].(map[string]any)
		if code != 200 || a["trigger"] != true || a["pre_existing"] != true {
			t.Fatalf("firing: %d %v", code, out)
		}
		sup := romanEvents(t, m, badID, roman.EventAlertPreexisting)
		if len(sup) != 1 || !strings.Contains(sup[0].Message, "pre-existing, it does not roll 1.4.2 back") {
			t.Fatalf("suppression rows: %+v", sup)
		}
		// The monitor evaluates the release at once and warns.
		awaitMonitor(t, "the health warning", func() bool { return len(romanEvents(t, m, badID, roman.EventHealthWarning)) > 0 })
		if w := romanEvents(t, m, badID, roman.EventHealthWarning)[0]; !strings.Contains(w.Message, "Alert firing since before this release: HighErrorRate") {
			t.Fatalf("warning: %s", w.Message)
		}
		code, chk := testkit.Call(t, "POST", base+"/auto-rollback/check", readToken, `{"deployment_id":"`+badID+`"}`)
		if code != 200 || chk["should_rollback"] != false {
			t.Fatalf("check: %d %v", code, chk)
		}
		if n := len(history(t, m, "production")); n != 0 {
			t.Fatalf("a pre-existing alert rolled back: %d", n)
		}
	})
}

// TestAlertmanagerUnattributedAndTruncated: an alert without an environment
// label is a warning naming what was missing (never a 500), counted on
// /metrics and visible in the events; a truncated group is noted.
func TestAlertmanagerUnattributedAndTruncated(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, amTriggers)
		base := m.URL()
		badID := deployCheckout(t, m, "production")
		startsAt := time.Now().UTC().Add(time.Second)

		noEnv := amPayload(t, amFiringFile, func(p map[string]any) {
			startingAt(startsAt)(p)
			delete(amAlert(p, 0)["labels"].(map[string]any), "environment")
		})
		code, out := postAM(t, base, deployToken, noEnv)
		if code != 200 || out["unattributed"] != 1.0 || !containsText(out["warnings"], "no environment label (environment or env)") {
			t.Fatalf("no environment: %d %v", code, out)
		}
		code, evs := testkit.Call(t, "GET", base+"/events?type="+roman.EventIntegrationUnattributed, readToken, "")
		list := evs["events"].([]any)
		if code != 200 || len(list) != 1 || !strings.Contains(list[0].(map[string]any)["message"].(string), "no environment label") {
			t.Fatalf("events: %d %v", code, evs)
		}
		if code, raw := testkit.CallRaw(t, "GET", base+"/metrics", "", ""); code != 200 ||
			!strings.Contains(string(raw), `roman_integration_unattributed_total{source="alertmanager"} 1`) {
			t.Fatalf("metrics: %d %s", code, raw)
		}
		// Re-sent: a duplicate, not a second warning row.
		if code, out = postAM(t, base, deployToken, noEnv); code != 200 || out["duplicates"] != 1.0 {
			t.Fatalf("re-sent: %d %v", code, out)
		}
		if rows := romanEvents(t, m, "", roman.EventIntegrationUnattributed); len(rows) != 1 {
			t.Fatalf("unattributed rows: %d", len(rows))
		}

		// An environment with no deployment of the service names it.
		code, out = postAM(t, base, deployToken, amPayload(t, amFiringFile, func(p map[string]any) {
			startingAt(startsAt.Add(time.Second))(p)
			amAlert(p, 0)["labels"].(map[string]any)["environment"] = "staging"
		}))
		if code != 200 || !containsText(out["warnings"], "no deployment of service checkout-api in environment staging") {
			t.Fatalf("unknown environment: %d %v", code, out)
		}

		// A truncated group: what arrived is recorded, the truncation noted.
		code, out = postAM(t, base, deployToken, amPayload(t, amFiringFile, func(p map[string]any) {
			startingAt(startsAt.Add(2 * time.Second))(p)
			amAlert(p, 0)["labels"].(map[string]any)["alertname"] = "SlowCheckout"
			amAlert(p, 0)["fingerprint"] = "00000000000000aa"
			p["truncatedAlerts"] = 3
		}))
		if code != 200 || out["truncated_alerts"] != 3.0 || out["recorded"] != 1.0 || !containsText(out["warnings"], "truncated") {
			t.Fatalf("truncated: %d %v", code, out)
		}
		if rows := romanEvents(t, m, badID, roman.EventIntegrationTruncated); len(rows) != 1 || !strings.Contains(rows[0].Message, "3 alert(s) left out") {
			t.Fatalf("truncated rows: %+v", rows)
		}
	})
}

// TestAlertmanagerBadInput: every malformed message gets a 4xx naming the
// problem, and nothing is written.
func TestAlertmanagerBadInput(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, amTriggers, map[string]string{"ROMAN_MAX_INGEST_BODY_BYTES": "8KiB"})
		base := m.URL()
		deployCheckout(t, m, "production")
		good := amPayload(t, amFiringFile, startingAt(time.Now().Add(time.Second)))
		edit := func(f func(p map[string]any)) string { return amPayload(t, amFiringFile, f) }
		cases := []struct {
			name, body, token, ctype string
			status                   int
			want                     string
		}{
			{"invalid JSON", `{"version":"4","alerts":[`, deployToken, "application/json", 400, "invalid JSON"},
			{"not an object", `[1,2]`, deployToken, "application/json", 400, "want a JSON object"},
			{"empty body", ``, deployToken, "application/json", 400, "request body is required"},
			{"wrong version", edit(func(p map[string]any) { p["version"] = "3" }), deployToken, "application/json", 400, `version: "3" is not supported`},
			{"no version", edit(func(p map[string]any) { delete(p, "version") }), deployToken, "application/json", 400, "version: missing"},
			{"no alerts", edit(func(p map[string]any) { delete(p, "alerts") }), deployToken, "application/json", 400, "alerts: missing"},
			{"empty alerts", edit(func(p map[string]any) { p["alerts"] = []any{} }), deployToken, "application/json", 400, "alerts: empty"},
			{"alerts not a list", edit(func(p map[string]any) { p["alerts"] = "x" }), deployToken, "application/json", 400, "alerts"},
			{"bad status", edit(func(p map[string]any) { amAlert(p, 0)["status"] = "pending" }), deployToken, "application/json", 400, `alerts[0].status: "pending"`},
			{"no fingerprint", edit(func(p map[string]any) { delete(amAlert(p, 0), "fingerprint") }), deployToken, "application/json", 400, "alerts[0].fingerprint: missing"},
			{"bad startsAt", edit(func(p map[string]any) { amAlert(p, 0)["startsAt"] = "yesterday" }), deployToken, "application/json", 400, "alerts[0].startsAt"},
			{"label not a string", edit(func(p map[string]any) { amAlert(p, 0)["labels"].(map[string]any)["severity"] = 2 }), deployToken, "application/json", 400, "labels"},
			{"NUL in a label", edit(func(p map[string]any) { amAlert(p, 0)["labels"].(map[string]any)["team"] = "a\x00b" }), deployToken, "application/json", 400, "NUL"},
			{"wrong content type", good, deployToken, "text/plain", 415, "Content-Type"},
			{"no content type", good, deployToken, "", 415, "Content-Type: missing"},
			{"oversize", `{"version":"4","alerts":[],"pad":"` + strings.Repeat("x", 9000) + `"}`, deployToken, "application/json", 413, "exceeds"},
			{"no key", good, "", "application/json", 401, ""},
			{"read key", good, readToken, "application/json", 403, ""},
		}
		for _, tc := range cases {
			req, _ := http.NewRequest("POST", base+"/integrations/alertmanager", strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			msg, _ := out["error"].(string)
			if resp.StatusCode != tc.status || !strings.Contains(msg, tc.want) {
				t.Errorf("%s: %d %q, want %d naming %q", tc.name, resp.StatusCode, msg, tc.status, tc.want)
			}
		}
		for _, typ := range []string{roman.EventIntegrationAlert, roman.EventIntegrationUnattributed, roman.EventIntegrationTruncated} {
			if rows := romanEvents(t, m, "", typ); len(rows) != 0 {
				t.Errorf("bad input wrote %s rows: %+v", typ, rows)
			}
		}
		var n int
		if err := m.Store.SQL().QueryRow(`SELECT count(*) FROM integration_alerts`).Scan(&n); err != nil || n != 0 {
			t.Errorf("bad input stored %d alerts (%v)", n, err)
		}
	})
}

// TestAlertmanagerLabelledTrigger: an alert labelled roman_trigger="true" is
// a trigger in an environment whose alert_triggers do not name it.
func TestAlertmanagerLabelledTrigger(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, map[string]string{"ROMAN_AUTO_ROLLBACK": "never"})
		base := m.URL()
		badID := deployCheckout(t, m, "production")
		body := amPayload(t, amFiringFile, func(p map[string]any) {
			startingAt(time.Now().Add(time.Second))(p)
			a := amAlert(p, 0)
			a["labels"].(map[string]any)["alertname"] = "CheckoutBroken"
			a["labels"].(map[string]any)[roman.AlertTriggerLabel] = "true"
		})
		if code, out := postAM(t, base, deployToken, body); code != 200 || out["alerts"].([]any)[0].(map[string]any)["trigger"] != true {
			t.Fatalf("labelled: %d %v", code, out)
		}
		code, chk := testkit.Call(t, "POST", base+"/auto-rollback/check", readToken, `{"deployment_id":"`+badID+`"}`)
		if code != 200 || chk["should_rollback"] != true || chk["reason"] != "Alert firing: CheckoutBroken: Error rate above 5% on checkout-api" {
			t.Fatalf("check: %d %v", code, chk)
		}
	})
}

// TestAlertmanagerStateSurvivesRestart: a firing trigger alert is still a
// trigger after roman restarts, and the re-sent group is still a duplicate.
func TestAlertmanagerStateSurvivesRestart(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		never := map[string]string{"ROMAN_AUTO_ROLLBACK": "never"}
		m := openServer(t, url, nil, nil, amTriggers, never)
		badID := deployCheckout(t, m, "production")
		firing := amPayload(t, amFiringFile, startingAt(time.Now().Add(time.Second)))
		if code, out := postAM(t, m.URL(), deployToken, firing); code != 200 || out["recorded"] != 1.0 {
			t.Fatalf("firing: %d %v", code, out)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		m = startServer(t, url, amTriggers, never)
		code, chk := testkit.Call(t, "POST", m.URL()+"/auto-rollback/check", readToken, `{"deployment_id":"`+badID+`"}`)
		if code != 200 || chk["should_rollback"] != true || chk["reason"] != amReason {
			t.Fatalf("check after restart: %d %v", code, chk)
		}
		if code, out := postAM(t, m.URL(), deployToken, firing); code != 200 || out["duplicates"] != 1.0 {
			t.Fatalf("re-sent after restart: %d %v", code, out)
		}
	})
}
