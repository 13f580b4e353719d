package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/sentry"
)

// sentrySecret is the client secret of the test servers' Sentry
// integration (generated for the tests, never a real one).
const sentrySecret = "test-sentry-client-secret-5f2c9a"

var sentrySettings = map[string]string{"ROMAN_SENTRY_CLIENT_SECRET": sentrySecret}

func sentryFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../sentry/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postSentry posts a webhook as Sentry does, with the given signature
// header ("" leaves it out), and returns the status and decoded answer.
func postSentry(t testing.TB, url, resource, signature string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Request-ID", "8f2b4c6d1e3a4f5b9c7d0e1f2a3b4c5d")
	req.Header.Set(sentry.HeaderResource, resource)
	req.Header.Set(sentry.HeaderTimestamp, "1566248318")
	if signature != "" {
		req.Header.Set(sentry.HeaderSignature, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func signed(body []byte) string { return sentry.Sign([]byte(sentrySecret), body) }

// recordRelease records a successful deployment of a service's version in
// env, deployed age ago, and returns its id.
func recordRelease(t testing.TB, m *Server, service, env, version, commit string, age time.Duration, passed bool) string {
	t.Helper()
	at := time.Now().UTC().Add(-age).Format(time.RFC3339Nano)
	pass := ""
	if passed {
		pass = `,"health_check_passed":true`
	}
	code, d := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken, `{"service":"`+service+`","environment":"`+env+`","version":"`+version+
		`","git_commit":"`+commit+`","git_branch":"main","status":"success","deployed_at":"`+at+`"`+pass+`}`)
	if code != 201 {
		t.Fatalf("record %s %s: %d %v", service, version, code, d)
	}
	return d["deployment_id"].(string)
}

// sqlCount counts rows of a query (the tables have no schema prefix, so
// the query runs on both stores).
func sqlCount(t testing.TB, m *Server, query string, args ...any) int {
	t.Helper()
	var n int
	if err := m.Store.SQL().QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// integrationEvents returns the integration_events rows, newest first.
func integrationEvents(t testing.TB, m *Server) []*roman.RomanEvent {
	t.Helper()
	evs, err := m.Store.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: roman.EventIntegrationEvents, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// scrapeMetric returns the value of one series of GET /metrics, or -1.
func scrapeMetric(t testing.TB, m *Server, series string) string {
	t.Helper()
	resp, err := http.Get(m.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return "-1"
}

// TestSentryWebhookOverHTTP sends the reference Sentry payloads, signed
// with the test secret, to a real server on both stores: the error event
// is stored for the release its `release` names (by version), the issue
// marks its fingerprint, every webhook leaves an integration_events row
// naming the release and the rule, and missing, malformed or wrong
// signatures are refused with nothing written.
func TestSentryWebhookOverHTTP(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, sentrySettings)
		hook := m.URL() + "/integrations/sentry"
		recordRelease(t, m, "front-end", "production", "1.4.1", "c1", 2*time.Hour, true)
		newID := recordRelease(t, m, "front-end", "production", "1.4.2", "c2", time.Hour, false)
		recordRelease(t, m, "front-end", "production", "1.4.3", "c3", time.Minute, false)
		errBody := sentryFixture(t, "sentry_webhook_error.json")

		// Refused: nothing stored, no row.
		tampered := bytes.Replace(errBody, []byte("blooopy"), []byte("bloopy"), 1)
		for _, tc := range []struct {
			name, sig string
			body      []byte
		}{
			{"missing signature", "", errBody},
			{"malformed signature", "sha256=" + signed(errBody), errBody},
			{"not hex", strings.Repeat("g", 64), errBody},
			{"signed with another secret", sentry.Sign([]byte("another-secret"), errBody), errBody},
			{"tampered body", signed(errBody), tampered},
		} {
			code, out := postSentry(t, hook, "error", tc.sig, tc.body)
			if code != 401 || out["error"] != "invalid Sentry-Hook-Signature" {
				t.Fatalf("%s: %d %v", tc.name, code, out)
			}
		}
		if n := sqlCount(t, m, "SELECT count(*) FROM error_events"); n != 0 {
			t.Fatalf("refused webhooks stored %d error events", n)
		}
		if evs := integrationEvents(t, m); len(evs) != 0 {
			t.Fatalf("refused webhooks left rows: %v", evs[0].Message)
		}

		// The reference error: release front-end@1.4.2 → service
		// front-end, version 1.4.2 (not the newer current 1.4.3).
		code, out := postSentry(t, hook, "error", signed(errBody), errBody)
		if code != 200 || out["accepted"] != 1.0 || out["rule"] != roman.AttributedByVersion || out["fingerprint"] != "sentry:1170820242" {
			t.Fatalf("error webhook: %d %v", code, out)
		}
		if ids := out["deployment_ids"].([]any); len(ids) != 1 || ids[0] != newID {
			t.Fatalf("attributed to %v, want %s", ids, newID)
		}
		var msg, fp string
		row := m.Store.SQL().QueryRowContext(context.Background(), "SELECT message, fingerprint FROM error_events WHERE deployment_id = "+placeholder(m), newID)
		if err := row.Scan(&msg, &fp); err != nil {
			t.Fatal(err)
		}
		if msg != "ReferenceError: blooopy is not defined" || fp != "sentry:1170820242" {
			t.Fatalf("stored %q %q", msg, fp)
		}
		evs := integrationEvents(t, m)
		if len(evs) != 1 || evs[0].Severity != roman.SeverityInfo ||
			!strings.Contains(evs[0].Message, "Sentry: 1 error → front-end 1.4.2 in production (by version)") {
			t.Fatalf("integration row: %+v", evs)
		}
		var md struct {
			DeploymentID string `json:"deployment_id"`
			Releases     []struct {
				DeploymentID, Rule string
				Errors             int
			} `json:"releases"`
		}
		if err := json.Unmarshal(evs[0].Metadata, &md); err != nil || md.DeploymentID != newID || len(md.Releases) != 1 ||
			md.Releases[0].Rule != "version" || md.Releases[0].Errors != 1 {
			t.Fatalf("metadata %s: %v", evs[0].Metadata, err)
		}
		// roman events --deployment finds it (GET /events).
		code, list := testkit.Call(t, "GET", m.URL()+"/events?type=integration_events&deployment_id="+newID, readToken, "")
		if code != 200 || len(list["events"].([]any)) != 1 {
			t.Fatalf("GET /events: %d %v", code, list)
		}

		// Sentry redelivers a webhook that timed out: it is dropped.
		code, out = postSentry(t, hook, "error", signed(errBody), errBody)
		if code != 200 || out["accepted"] != 0.0 || !strings.Contains(out["ignored"].(string), "received already") {
			t.Fatalf("redelivery: %d %v", code, out)
		}
		if n := sqlCount(t, m, "SELECT count(*) FROM error_events"); n != 1 {
			t.Fatalf("%d error events after the redelivery", n)
		}

		// The issue carries no environment: without ?environment= it is
		// recorded as unattributed (200, counted, a warning row).
		issueBody := sentryFixture(t, "sentry_webhook_issue.json")
		code, out = postSentry(t, hook, "issue", signed(issueBody), issueBody)
		if code != 200 || out["unattributed"] != 1.0 || !strings.Contains(out["reason"].(string), "?environment=") {
			t.Fatalf("issue without environment: %d %v", code, out)
		}
		if v := scrapeMetric(t, m, `roman_integration_unattributed_total{source="sentry"}`); v != "1" {
			t.Fatalf("unattributed counter %s", v)
		}
		if evs := integrationEvents(t, m); evs[0].Severity != roman.SeverityWarning || !strings.Contains(evs[0].Message, "1 item not attributed") {
			t.Fatalf("warning row: %+v", evs[0])
		}
		// With ?environment= (a fresh issue id: the first was seen) it goes
		// to the current release of the project's service.
		issueBody2 := bytes.ReplaceAll(issueBody, []byte("1170820242"), []byte("1170820243"))
		code, out = postSentry(t, hook+"?environment=production", "issue", signed(issueBody2), issueBody2)
		if code != 200 || out["unattributed"] != 0.0 || out["rule"] != roman.AttributedByCurrent || out["fingerprint"] != "sentry:1170820243" {
			t.Fatalf("issue: %d %v", code, out)
		}
		if evs := integrationEvents(t, m); !strings.Contains(evs[0].Message, "issue 1170820243 created") {
			t.Fatalf("issue row: %+v", evs[0])
		}

		// Other resources and warning-level events are acknowledged only.
		other := []byte(`{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},"data":{"installation":{}},"actor":{"type":"user","id":1,"name":"x"}}`)
		if code, out := postSentry(t, hook, "installation", signed(other), other); code != 200 || !strings.Contains(out["ignored"].(string), "installation") {
			t.Fatalf("installation: %d %v", code, out)
		}
		warn := bytes.Replace(errBody, []byte(`"level": "error"`), []byte(`"level": "warning"`), 1)
		warn = bytes.Replace(warn, []byte("bb78c1407cea4519aa397afc059c793d"), []byte("cc78c1407cea4519aa397afc059c793d"), 1)
		if code, out := postSentry(t, hook, "error", signed(warn), warn); code != 200 || !strings.Contains(out["ignored"].(string), "level warning") {
			t.Fatalf("warning event: %d %v", code, out)
		}

		// Signed but not readable: 400 naming the problem, nothing written.
		before := sqlCount(t, m, "SELECT count(*) FROM roman_events WHERE event_type = 'integration_events'")
		for _, tc := range []struct{ resource, body, want string }{
			{"error", `{"action":"created"`, "not a JSON object"},
			{"error", `{"action":"created","data":{}}`, "data.error: required"},
			{"issue", `{"action":"created","data":{"issue":{}}}`, "data.issue.id: required"},
			{"", `{}`, "missing Sentry-Hook-Resource"},
		} {
			code, out := postSentry(t, hook, tc.resource, signed([]byte(tc.body)), []byte(tc.body))
			if code != 400 || !strings.Contains(out["error"].(string), tc.want) {
				t.Fatalf("%s: %d %v", tc.body, code, out)
			}
		}
		if code, out := postSentry(t, hook+"?environment=Prod!", "error", signed(errBody), errBody); code != 400 || !strings.Contains(out["error"].(string), "environment") {
			t.Fatalf("bad query: %d %v", code, out)
		}
		// Over the cap: 413 before verification.
		big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), sentry.MaxBodyBytes)...)
		big = append(big, `"}`...)
		if code, _ := postSentry(t, hook, "error", signed(big), big); code != 413 {
			t.Fatalf("oversize: %d", code)
		}
		if after := sqlCount(t, m, "SELECT count(*) FROM roman_events WHERE event_type = 'integration_events'"); after != before {
			t.Fatalf("refused webhooks left %d rows", after-before)
		}
		if n := sqlCount(t, m, "SELECT count(*) FROM error_events"); n != 1 {
			t.Fatalf("%d error events", n)
		}
	})
}

// placeholder is the store's first bind parameter.
func placeholder(m *Server) string {
	if m.Store.Dialect() == "postgres" {
		return "$1"
	}
	return "?"
}

// TestSentryWebhookDisabledWithoutSecret: without a client secret the
// route says it is not configured, even to a correctly signed request.
func TestSentryWebhookDisabledWithoutSecret(t *testing.T) {
	m := startServer(t, testkit.SQLiteURL(t))
	body := sentryFixture(t, "sentry_webhook_error.json")
	code, out := postSentry(t, m.URL()+"/integrations/sentry", "error", signed(body), body)
	if code != 404 || !strings.Contains(out["error"].(string), "ROMAN_SENTRY_CLIENT_SECRET") {
		t.Fatalf("%d %v", code, out)
	}
}

// TestSentryErrorRollsBackBadRelease: Sentry error webhooks for a watched
// release cross the error-rate trigger and roll it back, end to end.
func TestSentryErrorRollsBackBadRelease(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, monitorSettings, sentrySettings)
		recordRelease(t, m, "shop", "production", "2.0.0", "good", time.Hour, true)
		code, bad := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken, `{"service":"shop","environment":"production","version":"2.0.1","git_commit":"bad","git_branch":"main"}`)
		if code != 201 {
			t.Fatal(code, bad)
		}
		badID := bad["deployment_id"].(string)
		if code, out := testkit.Call(t, "PATCH", m.URL()+"/deployments/"+badID, deployToken, `{"status":"success"}`); code != 200 {
			t.Fatal(code, out)
		}
		now := time.Now().UTC()
		for i := 0; i < 6; i++ {
			body := []byte(`{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},"data":{"error":{"event_id":"` +
				strings.Repeat(string(rune('a'+i)), 32) + `","release":"shop@2.0.1","environment":"production","level":"error","title":"TypeError: cart is undefined","issue_id":"77","datetime":"` +
				now.Add(-time.Duration(i)*time.Second).Format(time.RFC3339Nano) + `"}},"actor":{"type":"application","id":"sentry","name":"Sentry"}}`)
			if code, out := postSentry(t, m.URL()+"/integrations/sentry", "error", signed(body), body); code != 200 || out["accepted"] != 1.0 {
				t.Fatalf("webhook %d: %d %v", i, code, out)
			}
		}
		awaitMonitor(t, "the automatic rollback", func() bool {
			h := serviceHistory(t, m, "shop", "production")
			return len(h) == 1 && h[0].Finished()
		})
		if ev := serviceHistory(t, m, "shop", "production")[0]; ev.DeploymentID != badID || ev.TriggerType != roman.TriggerAutomatic || ev.Status != roman.RollbackSuccess {
			t.Fatalf("rollback: %+v", ev)
		}
	})
}
