package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// newErrorsSettings raise the error-rate triggers out of the way, so that
// the new_errors signal is what these tests see.
var newErrorsSettings = map[string]string{
	"ROMAN_ERROR_RATE_THRESHOLD":      "1000",
	"ROMAN_RECENT_ERRORS_THRESHOLD":   "5000",
	"ROMAN_WARN_ERROR_RATE_THRESHOLD": "1000",
}

// newErrorsScenario records v1 (healthy, an hour ago) with errors of type A
// and v2 (current, watched), on a real server with a fake clock. It returns
// the server, the clock and both ids.
func newErrorsScenario(t *testing.T, database string, extra map[string]string) (m *Server, clock *testkit.Clock, v1, v2 string, discord *discordChannel) {
	t.Helper()
	discord = newDiscordChannel(t)
	discord.up.Store(true)
	clock = testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
	env := map[string]string{"ROMAN_DISCORD_WEBHOOK_URL": discord.srv.URL + "/api/webhooks/1/token"}
	for k, v := range newErrorsSettings {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	m = closedAtEnd(t, openServer(t, database, clock.Now, nil, env))
	base := m.URL()
	code, out := testkit.Call(t, "POST", base+"/deployments", deployToken, fmt.Sprintf(
		`{"environment":"production","version":"v1","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":%q}`,
		clock.Now().Add(-time.Hour).Format(time.RFC3339)))
	if code != 201 {
		t.Fatalf("record v1: %d %v", code, out)
	}
	v1 = out["deployment_id"].(string)
	postErrors(t, m, v1, 4, func(i int) string {
		return fmt.Sprintf(`"error_type":"TypeError","message":"cart %d is undefined","stack":"at checkout (/app/cart.js:%d:7)\nat main (/app/main.js:3:1)"`, 100+i, 40+i)
	}, clock.Now().Add(-30*time.Minute))
	code, out = testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2","git_commit":"b81c4d0","git_branch":"main","status":"success"}`)
	if code != 201 {
		t.Fatalf("record v2: %d %v", code, out)
	}
	v2 = out["deployment_id"].(string)
	return m, clock, v1, v2, discord
}

// postErrors posts n events of deployment id, each with the JSON fields
// fields(i) gives, occurred a second apart from at.
func postErrors(t *testing.T, m *Server, id string, n int, fields func(i int) string, at time.Time) {
	t.Helper()
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"deployment_id":%q,"occurred_at":%q,%s}`, id, at.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), fields(i))
	}
	if code, out := testkit.Call(t, "POST", m.URL()+"/errors", deployToken, `{"events":[`+strings.Join(items, ",")+`]}`); code != 200 {
		t.Fatalf("POST /errors: %d %v", code, out)
	}
}

// keyErrors are events of a fingerprint v1 never had: another user id and
// line number each time, one fingerprint.
func keyErrors(i int) string {
	return fmt.Sprintf(`"error_type":"KeyError","message":"user %d not found in 'sessions'","stack":"File \"/app/auth.py\", line %d, in login"`, 7+i, 10+i)
}

// errorGroups reads GET /deployments/{id}/errors.
func errorGroups(t *testing.T, m *Server, id, query string) []roman.ErrorGroup {
	t.Helper()
	code, out := testkit.Call(t, "GET", m.URL()+"/deployments/"+id+"/errors"+query, readToken, "")
	if code != 200 {
		t.Fatalf("GET errors: %d %v", code, out)
	}
	raw, _ := json.Marshal(out["errors"])
	var gs []roman.ErrorGroup
	if err := json.Unmarshal(raw, &gs); err != nil {
		t.Fatal(err)
	}
	return gs
}

// TestNewErrorsWarning: on v2, errors of a type v1 had are known; 9 events
// of a fingerprint v1 never had are not yet enough; the 10th makes a
// health warning (roman_events row, /check warning, a Discord alert that
// lists the new error), and no rollback. GET /deployments/{id}/errors
// groups v2's errors, new first. Both stores.
func TestNewErrorsWarning(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		ctx := context.Background()
		m, clock, v1, v2, discord := newErrorsScenario(t, database, nil)
		clock.Add(30 * time.Second)
		// v1's error again (other numbers, other lines): known.
		postErrors(t, m, v2, 3, func(i int) string {
			return fmt.Sprintf(`"error_type":"TypeError","message":"cart %d is undefined","stack":"at checkout (/app/cart.js:%d:9)\nat main (/app/main.js:5:1)"`, 900+i, 70+i)
		}, clock.Now())
		postErrors(t, m, v2, 9, keyErrors, clock.Now())
		m.Monitor.Tick(ctx)
		if evs := romanEvents(t, m, v2, roman.EventHealthWarning); len(evs) != 0 {
			t.Fatalf("9 new events warned: %v", evs[0].Message)
		}
		postErrors(t, m, v2, 1, func(int) string { return keyErrors(40) }, clock.Now().Add(10*time.Second))
		clock.Add(15 * time.Second)
		m.Monitor.Tick(ctx)
		m.Monitor.Wait()

		const want = "New errors: 10 events of 1 fingerprint not seen before this release"
		evs := romanEvents(t, m, v2, roman.EventHealthWarning)
		if len(evs) != 1 || !strings.Contains(evs[0].Message, want) {
			t.Fatalf("health warnings = %v, want one with %q", evs, want)
		}
		var md struct {
			Signals   []string           `json:"signals"`
			NewErrors []roman.ErrorGroup `json:"new_errors"`
		}
		if err := json.Unmarshal(evs[0].Metadata, &md); err != nil || len(md.Signals) != 1 || md.Signals[0] != roman.SignalNewErrors ||
			len(md.NewErrors) != 1 || md.NewErrors[0].Count != 10 {
			t.Errorf("warning metadata %s", evs[0].Metadata)
		}
		if h := history(t, m, "production"); len(h) != 0 {
			t.Errorf("a warning rolled back: %+v", h[0])
		}
		code, out := testkit.Call(t, "POST", m.URL()+"/auto-rollback/check", readToken, `{"deployment_id":"`+v2+`"}`)
		health, _ := out["health"].(map[string]any)
		if code != 200 || out["should_rollback"] != false || !strings.Contains(fmt.Sprint(health["warnings"]), want) ||
			fmt.Sprint(health["new_errors"]) != "map[events:10 fingerprints:1]" {
			t.Errorf("check: %d %v", code, out)
		}

		// The errors endpoint: the new KeyError first, then v1's TypeError.
		gs := errorGroups(t, m, v2, "")
		if len(gs) != 2 || !gs[0].New || gs[0].Count != 10 || gs[0].ErrorType != "KeyError" || gs[0].Message != "user 7 not found in 'sessions'" ||
			gs[1].New || gs[1].Count != 3 || gs[1].FirstDeploymentID != v1 || gs[0].FirstDeploymentID != v2 {
			t.Fatalf("v2's errors = %+v", gs)
		}
		if !gs[0].FirstSeen.Equal(clock.Now().Add(-15*time.Second)) || !gs[0].LastSeen.Equal(clock.Now().Add(-5*time.Second)) {
			t.Errorf("first/last seen %s %s", gs[0].FirstSeen, gs[0].LastSeen)
		}
		if gs := errorGroups(t, m, v2, "?new=true&limit=5"); len(gs) != 1 || !gs[0].New {
			t.Errorf("new only: %+v", gs)
		}
		if gs := errorGroups(t, m, v1, ""); len(gs) != 1 || !gs[0].New || gs[0].Count != 4 {
			t.Errorf("v1's errors = %+v", gs)
		}
		for _, q := range []string{"?limit=0", "?limit=x", "?new=yes", "?other=1"} {
			if code, out := testkit.Call(t, "GET", m.URL()+"/deployments/"+v2+"/errors"+q, readToken, ""); code != 400 {
				t.Errorf("%s: %d %v", q, code, out)
			}
		}
		if code, _ := testkit.Call(t, "GET", m.URL()+"/deployments/"+roman.NewUUID()+"/errors", readToken, ""); code != 404 {
			t.Errorf("unknown deployment: %d", code)
		}
		if code, _ := testkit.Call(t, "GET", m.URL()+"/deployments/nope/errors", readToken, ""); code != 400 {
			t.Errorf("bad id: %d", code)
		}

		// roman explain shows the warning, with the new error as evidence.
		shown := false
		for _, e := range getExplanation(t, m, v2).Timeline {
			shown = shown || e.Kind == roman.ExplainReading && strings.Contains(e.Summary, want) && strings.Contains(string(e.Details), "user 7 not found")
		}
		if !shown {
			t.Errorf("explain does not show the new-errors warning")
		}

		// The dashboard's card of v2 lists the new error.
		code, out = testkit.Call(t, "GET", m.URL()+"/app/admin/roman-dashboard/summary", readToken, "")
		envs, _ := out["environments"].([]any)
		if code != 200 || len(envs) != 1 {
			t.Fatalf("summary: %d %v", code, out)
		}
		card := envs[0].(map[string]any)
		news, _ := card["new_errors"].([]any)
		if len(news) != 1 || news[0].(map[string]any)["message"] != "user 7 not found in 'sessions'" || news[0].(map[string]any)["count"] != 10.0 {
			t.Errorf("dashboard card new_errors = %v", card["new_errors"])
		}

		// The alert names the new error, in the outbox and in Discord.
		rows, err := m.Store.ListAlerts(ctx, roman.OutboxFilter{DeploymentID: v2})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Kind != roman.AlertHealthWarning || len(rows[0].Alert.NewErrors) != 1 ||
			rows[0].Alert.NewErrors[0].Message != "user 7 not found in 'sessions'" {
			t.Fatalf("alerts = %+v", rows)
		}
		waitUntil(t, "the Discord alert", 10*time.Second, func() bool { return len(discord.received()) >= 1 })
		if e := fmt.Sprint(discord.received()[0].Embeds[0]); !strings.Contains(e, "New error") || !strings.Contains(e, "KeyError: user 7 not found in 'sessions' — 10 events") {
			t.Errorf("Discord embed %s", e)
		}
	})
}

// TestNewErrorsRollback: with new_errors_action rollback, 10 events of a
// new fingerprint roll v2 back automatically with the signal's reason;
// roman explain shows the trigger; the rollback's alert lists the new
// error. Both stores.
func TestNewErrorsRollback(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		ctx := context.Background()
		m, clock, _, v2, _ := newErrorsScenario(t, database, map[string]string{"ROMAN_NEW_ERRORS_ACTION": "rollback"})
		clock.Add(30 * time.Second)
		postErrors(t, m, v2, 10, keyErrors, clock.Now())
		clock.Add(10 * time.Second)
		m.Monitor.Tick(ctx)
		m.Monitor.Wait()

		const reason = "New errors: 10 events of 1 fingerprint not seen before this release"
		h := history(t, m, "production")
		if len(h) != 1 || h[0].TriggerReason != reason || h[0].TriggerType != roman.TriggerAutomatic || h[0].DeploymentID != v2 {
			t.Fatalf("rollbacks = %+v", h)
		}
		awaitMonitor(t, "the rollback to finish", func() bool { return history(t, m, "production")[0].Finished() })

		ex := getExplanation(t, m, v2)
		found := false
		for _, e := range ex.Timeline {
			if e.Kind == roman.ExplainTrigger && strings.Contains(e.Summary, reason) {
				found = true
				if !strings.Contains(string(e.Details), "user 7 not found") {
					t.Errorf("the trigger's evidence does not name the new error: %s", e.Details)
				}
			}
		}
		if !found || !ex.Verdict.RolledBack || !strings.Contains(ex.Verdict.Why, reason) {
			t.Errorf("explain: verdict %+v, trigger found %v", ex.Verdict, found)
		}
		rows, err := m.Store.ListAlerts(ctx, roman.OutboxFilter{DeploymentID: v2})
		if err != nil {
			t.Fatal(err)
		}
		var triggered *roman.Alert
		for _, r := range rows {
			if r.Kind == roman.AlertRollbackTriggered {
				triggered = &r.Alert
			}
		}
		if triggered == nil || triggered.Reason != reason || len(triggered.NewErrors) != 1 || triggered.NewErrors[0].Count != 10 {
			t.Fatalf("rollback alert = %+v", triggered)
		}
	})
}

// TestNewErrorsBadInput: error_type and stack are bounded and must be text
// the stores can keep; a refused batch stores nothing. The client's
// fingerprint wins over roman's own.
func TestNewErrorsBadInput(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		m, clock, _, v2, _ := newErrorsScenario(t, database, nil)
		for _, tc := range []struct{ body, field string }{
			{`{"deployment_id":"` + v2 + `","message":"m","error_type":"` + strings.Repeat("x", 257) + `"}`, "error_type: longer than 256 bytes"},
			{`{"deployment_id":"` + v2 + `","message":"m","stack":"` + strings.Repeat("x", 65537) + `"}`, "stack: longer than 65536 bytes"},
			{`{"deployment_id":"` + v2 + `","message":"m","stack":"a\u0000b"}`, "stack"},
			{`{"events":[{"deployment_id":"` + v2 + `","message":"m"},{"deployment_id":"` + v2 + `","message":"m","error_type":"\ud800"}]}`, `events[1]: invalid value for field "error_type"`},
			{`{"deployment_id":"` + v2 + `","message":"m","stack":7}`, "stack"},
		} {
			code, out := testkit.Call(t, "POST", m.URL()+"/errors", deployToken, tc.body)
			if code != 400 || !strings.Contains(fmt.Sprint(out["error"]), tc.field) {
				t.Errorf("%.80s: %d %v, want 400 naming %q", tc.body, code, out, tc.field)
			}
		}
		if gs := errorGroups(t, m, v2, ""); len(gs) != 0 {
			t.Fatalf("a refused batch was stored: %+v", gs)
		}
		postErrors(t, m, v2, 2, func(i int) string {
			return fmt.Sprintf(`"fingerprint":"client-fp","error_type":"E%d","message":"other %d"`, i, i)
		}, clock.Now())
		if gs := errorGroups(t, m, v2, ""); len(gs) != 1 || gs[0].Fingerprint != "client-fp" || gs[0].Count != 2 {
			t.Errorf("client fingerprint: %+v", gs)
		}
	})
}
