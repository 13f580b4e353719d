package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/sqldb"
)

func TestMain(m *testing.M) { testpg.Main(m) }

const (
	readKey  = "read-key-0123456789"
	adminKey = "admin-key-0123456789"
)

// storeHealth computes health from the store's error counts, like the
// server's checker does for the built-in source.
type storeHealth struct {
	st  *sqldb.DB
	now roman.Clock
}

func (h storeHealth) Check(ctx context.Context, d *roman.Deployment) (roman.Health, error) {
	now := h.now()
	m1, m5, err := h.st.CountErrors(ctx, d.DeploymentID, now)
	if err != nil {
		return roman.Health{}, err
	}
	return roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: m1, ErrorsLast5Minutes: m5}, roman.DefaultThresholds(), now), nil
}

type fixture struct {
	st    *sqldb.DB
	hub   *roman.Hub
	dash  *Dashboard
	srv   *httptest.Server
	now   time.Time
	clock roman.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, testkit.SQLiteURL(t))
}

// newFixtureOn is newFixture on the store at dbURL.
func newFixtureOn(t *testing.T, dbURL string) *fixture {
	t.Helper()
	st, err := sqldb.Open(context.Background(), dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, hub: &roman.Hub{}, now: time.Date(2025, 12, 15, 14, 3, 0, 0, time.UTC)}
	f.clock = func() time.Time { return f.now }
	keyring := roman.NewKeyring([]roman.APIKey{
		{Name: "reader", Role: roman.RoleRead, Hash: roman.HashKey(readKey)},
		{Name: "admin", Role: roman.RoleAdmin, Hash: roman.HashKey(adminKey)},
	})
	sessions := NewSessions(keyring, time.Hour, 0, f.clock)
	f.dash = New(Config{Store: st, Health: storeHealth{st, f.clock}, Sessions: sessions, Hub: f.hub, Clock: f.clock,
		WatchWindow: func(string) time.Duration { return 5 * time.Minute }, Heartbeat: 50 * time.Millisecond})
	srv := api.NewServer(api.Config{}, api.Deps{Keyring: keyring, Sessions: sessions, Dashboard: f.dash, Clock: f.clock})
	f.dash.Register(srv)
	f.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.dash.Close)
	return f
}

// client does not follow redirects, so tests see the 303 and its cookie.
var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (f *fixture) do(t *testing.T, method, path string, body url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signIn signs in with key and returns the session cookie header value.
func (f *fixture) signIn(t *testing.T, key string) string {
	t.Helper()
	resp, _ := f.do(t, "POST", BasePath+"/sign-in", url.Values{"key": {key}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != BasePath {
		t.Fatalf("sign-in: %d %v", resp.StatusCode, resp.Header)
	}
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatal("sign-in set no session cookie")
	return ""
}

func TestSignInFlow(t *testing.T) {
	f := newFixture(t)
	// Signed out: the page is the sign-in form; the JSON needs credentials.
	resp, body := f.do(t, "GET", BasePath, nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="signin-form"`) || !strings.Contains(body, `method="post"`) {
		t.Fatalf("signed-out page: %d %s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("page headers: %v", resp.Header)
	}
	if resp, _ := f.do(t, "GET", BasePath+"/summary", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("summary without credentials: %d", resp.StatusCode)
	}

	// Wrong key, a key in the query string, and a cross-site post are refused.
	resp, body = f.do(t, "POST", BasePath+"/sign-in", url.Values{"key": {"nope"}}, nil)
	if resp.StatusCode != 401 || !strings.Contains(body, "That key is not valid.") || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong key: %d %s", resp.StatusCode, body)
	}
	if resp, _ := f.do(t, "POST", BasePath+"/sign-in?key="+readKey, url.Values{}, nil); resp.StatusCode != 401 {
		t.Fatalf("a key in the URL must not sign in: %d", resp.StatusCode)
	}
	resp, _ = f.do(t, "POST", BasePath+"/sign-in", url.Values{"key": {readKey}}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Fatalf("cross-site sign-in: %d", resp.StatusCode)
	}
	resp, _ = f.do(t, "POST", BasePath+"/sign-in", url.Values{"key": {readKey}}, map[string]string{"Origin": "https://evil.example"})
	if resp.StatusCode != 403 {
		t.Fatalf("foreign Origin: %d", resp.StatusCode)
	}

	// A good key: a session cookie with the right attributes, not the key.
	resp, _ = f.do(t, "POST", BasePath+"/sign-in", url.Values{"key": {adminKey}}, map[string]string{"X-Forwarded-Proto": "https"})
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			ck = c
		}
	}
	if resp.StatusCode != 303 || ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || !ck.Secure || ck.Path != BasePath ||
		strings.Contains(ck.Value, adminKey) || ck.Value == "" {
		t.Fatalf("session cookie: %d %+v", resp.StatusCode, ck)
	}
	cookie := map[string]string{"Cookie": ck.Name + "=" + ck.Value}
	resp, body = f.do(t, "GET", BasePath, nil, cookie)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="app"`) || !strings.Contains(body, "admin") {
		t.Fatalf("signed-in page: %d", resp.StatusCode)
	}
	if resp, body := f.do(t, "GET", BasePath+"/summary", nil, cookie); resp.StatusCode != 200 || !strings.Contains(body, `"stats"`) {
		t.Fatalf("summary by cookie: %d %s", resp.StatusCode, body)
	}
	// The session is read-only even for an admin key, and a wrong bearer
	// key is not rescued by the cookie.
	if resp, _ := f.do(t, "POST", "/auto-rollback", nil, cookie); resp.StatusCode != 403 {
		t.Fatalf("rollback through a session: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", BasePath+"/summary", nil, map[string]string{"Cookie": cookie["Cookie"], "Authorization": "Bearer wrong"}); resp.StatusCode != 401 {
		t.Fatalf("wrong bearer with a cookie: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", BasePath+"/summary", nil, map[string]string{"Authorization": "Bearer " + readKey}); resp.StatusCode != 200 {
		t.Fatalf("summary by bearer key: %d", resp.StatusCode)
	}

	// Sign-out ends the session server-side and clears the cookie.
	resp, _ = f.do(t, "POST", BasePath+"/sign-out", url.Values{}, cookie)
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("sign-out: %d %v", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := f.do(t, "GET", BasePath+"/summary", nil, cookie); resp.StatusCode != 401 {
		t.Fatalf("the old cookie still works after sign-out: %d", resp.StatusCode)
	}

	// Sessions expire.
	c2 := map[string]string{"Cookie": f.signIn(t, readKey)}
	f.now = f.now.Add(time.Hour)
	if resp, _ := f.do(t, "GET", BasePath+"/summary", nil, c2); resp.StatusCode != 401 {
		t.Fatalf("an expired session still works: %d", resp.StatusCode)
	}
}

func TestSessionsBounded(t *testing.T) {
	now := time.Now()
	s := NewSessions(roman.NewKeyring([]roman.APIKey{{Name: "r", Role: roman.RoleRead, Hash: roman.HashKey(readKey)},
		{Name: "a", Role: roman.RoleAdmin, Hash: roman.HashKey(adminKey)}}), time.Hour, 3, func() time.Time { return now })
	admin, _, _ := s.SignIn(adminKey)
	var first string
	for i := range 5 {
		tok, _, ok := s.SignIn(readKey)
		if !ok {
			t.Fatal("sign-in failed")
		}
		if i == 0 {
			first = tok
		}
		now = now.Add(time.Second)
	}
	if s.Len() != 4 {
		t.Fatalf("%d sessions held, want 3 of the read key and the admin's", s.Len())
	}
	if _, ok := s.Lookup(first); ok {
		t.Error("the read key's oldest session should have been evicted")
	}
	if _, ok := s.Lookup(admin); !ok {
		t.Error("the read key's sign-ins ended the admin key's session")
	}
}

func TestStaticAssets(t *testing.T) {
	f := newFixture(t)
	_, page := f.do(t, "GET", BasePath, nil, nil)
	i := strings.Index(page, BasePath+"/static/dashboard.css?v=")
	if i < 0 {
		t.Fatalf("the page does not link the versioned stylesheet: %s", page)
	}
	link := page[i : i+strings.IndexByte(page[i:], '"')]
	resp, body := f.do(t, "GET", link, nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(body, "prefers-color-scheme: dark") {
		t.Fatalf("stylesheet: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := f.do(t, "GET", BasePath+"/static/dashboard.js", nil, map[string]string{"If-None-Match": resp.Header.Get("ETag")}); resp.StatusCode != 200 {
		t.Fatalf("another file's ETag must not match: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", BasePath+"/static/nope.js", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("unknown asset: %d", resp.StatusCode)
	}
}

func TestSummary(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mk := func(version string, completed time.Time, status string) *roman.Deployment {
		d := &roman.Deployment{Environment: "production", Version: version, GitCommit: "a7f3b29", GitBranch: "main",
			Status: status, DeployedAt: completed.Add(-30 * time.Second), CompletedAt: &completed, HealthCheckPassed: version == "v2.5.2"}
		if err := f.st.CreateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	good := mk("v2.5.2", f.now.Add(-time.Hour), roman.StatusSuccess)
	bad := mk("v2.5.3", f.now.Add(-2*time.Minute), roman.StatusSuccess)
	var errs []roman.ErrorEvent
	for i := range 8 { // 8 errors in the last minute
		errs = append(errs, roman.ErrorEvent{DeploymentID: bad.DeploymentID, OccurredAt: f.now.Add(-time.Duration(i*7+1) * time.Second), Message: "boom"})
	}
	if err := f.st.InsertErrorEvents(ctx, errs); err != nil {
		t.Fatal(err)
	}
	done := f.now.Add(-10 * time.Second)
	ev := &roman.RollbackEvent{DeploymentID: good.DeploymentID, TriggerType: "manual", TriggerReason: "old drill",
		Status: roman.RollbackAborted, InitiatedAt: f.now.Add(-48 * time.Hour)}
	if err := f.st.CreateRollbackEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ev = &roman.RollbackEvent{DeploymentID: bad.DeploymentID, TriggerType: "automatic", TriggerReason: "High error rate: 8 errors/minute",
		Status: roman.RollbackSuccess, InitiatedAt: done.Add(-1500 * time.Millisecond), CompletedAt: &done,
		RollbackPlan:  json.RawMessage(`{"target_version":"v2.5.2"}`),
		RollbackSteps: []roman.RollbackStep{{Name: roman.StepValidate, Status: "success", StartedAt: done.Add(-time.Second), FinishedAt: done}}}
	if err := f.st.CreateRollbackEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}

	resp, body := f.do(t, "GET", BasePath+"/summary", nil, map[string]string{"Authorization": "Bearer " + readKey})
	if resp.StatusCode != 200 {
		t.Fatalf("summary: %d %s", resp.StatusCode, body)
	}
	var s Summary
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.Range != "24h" || !s.Since.Equal(f.now.Add(-24*time.Hour)) || s.Stats.Total != 1 || s.Stats.Succeeded != 1 ||
		s.Stats.AverageDurationSeconds == nil || math.Abs(*s.Stats.AverageDurationSeconds-1.5) > 0.001 {
		t.Fatalf("range and stats: %+v", s.Stats)
	}
	if len(s.Rollbacks) != 1 || s.Rollbacks[0].Version != "v2.5.3" || s.Rollbacks[0].TargetVersion != "v2.5.2" ||
		len(s.Rollbacks[0].RollbackSteps) != 1 || *s.Rollbacks[0].DurationSeconds != 1.5 {
		t.Fatalf("rollbacks: %s", body)
	}
	if len(s.Environments) != 1 {
		t.Fatalf("environments: %+v", s.Environments)
	}
	e := s.Environments[0]
	if e.Deployment.Version != "v2.5.3" || e.Health == nil || e.Health.ErrorRatePerMinute != 8 || e.Health.Status != roman.HealthUnhealthy ||
		e.Watch.State != WatchWatching || e.Watch.RemainingSeconds != 180 || e.Thresholds.ErrorRate != 5 {
		t.Fatalf("environment: %+v watch %+v health %+v", e, e.Watch, e.Health)
	}
	c := e.Chart
	if len(c.Series) != 1 || c.Series[0].Kind != "current" {
		t.Fatalf("chart series: %+v", c.Series)
	}
	rates := c.Series[0].Rates
	if last := rates[len(rates)-1]; last != 8 {
		t.Errorf("the chart's last point is %v errors/minute, want 8", last)
	}
	if rates[0] != 0 || !c.To.Equal(f.now) || c.StepSeconds != 1 {
		t.Errorf("chart: from %v to %v step %v first %v", c.From, c.To, c.StepSeconds, rates[0])
	}
	kinds := map[string]bool{}
	for _, m := range c.Markers {
		kinds[m.Kind] = true
	}
	if !kinds["deployed"] || !kinds["rollback_started"] || !kinds["rollback_finished"] {
		t.Errorf("markers: %+v", c.Markers)
	}

	// A wider range takes in the old event; a bad range is a 400 naming it.
	_, body = f.do(t, "GET", BasePath+"/summary?range=7d", nil, map[string]string{"Authorization": "Bearer " + readKey})
	if err := json.Unmarshal([]byte(body), &s); err != nil || s.Stats.Total != 2 || s.Stats.Aborted != 1 {
		t.Fatalf("7d: %v %+v", err, s.Stats)
	}
	for _, bad := range []string{"forever", "0s", "100d", "-1h"} {
		resp, body := f.do(t, "GET", BasePath+"/summary?range="+bad, nil, map[string]string{"Authorization": "Bearer " + readKey})
		if resp.StatusCode != 400 || !strings.Contains(body, "range") {
			t.Errorf("range %q: %d %s", bad, resp.StatusCode, body)
		}
	}
}

func TestLiveEvents(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest("GET", f.srv.URL+BasePath+"/events", nil)
	req.Header.Set("Cookie", f.signIn(t, readKey))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %v", resp.StatusCode, resp.Header)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(prefix string) string {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended before %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-timeout:
				t.Fatalf("no %q line", prefix)
			}
		}
	}
	next("event: ready")
	next(": keep-alive")
	// Several changes close together become one message.
	f.hub.Publish(roman.Change{Kind: roman.ChangeErrors, Environment: "production"})
	f.hub.Publish(roman.Change{Kind: roman.ChangeRollback, Environment: "production"})
	f.hub.Publish(roman.Change{Kind: roman.ChangeRollback, Environment: "staging"})
	next("event: change")
	var msg ChangeMessage
	if err := json.Unmarshal([]byte(strings.TrimPrefix(next("data: "), "data: ")), &msg); err != nil {
		t.Fatal(err)
	}
	if strings.Join(msg.Kinds, ",") != "errors,rollback" || strings.Join(msg.Environments, ",") != "production,staging" {
		t.Fatalf("change message: %+v", msg)
	}
	// Closing the dashboard ends the stream (graceful shutdown).
	f.dash.Close()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the stream did not end when the dashboard closed")
		}
	}
}

// summary fetches the summary with the read key.
func (f *fixture) summary(t *testing.T) *Summary {
	t.Helper()
	resp, body := f.do(t, "GET", BasePath+"/summary", nil, map[string]string{"Authorization": "Bearer " + readKey})
	if resp.StatusCode != 200 {
		t.Fatalf("summary: %d %s", resp.StatusCode, body)
	}
	var s Summary
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// decisionScenario records, on a fixed clock, what the monitor and the
// rollback service leave behind for several releases: a rolled-back
// release and the deployment that restored it (whose own breach was
// suppressed: it was deployed by a rollback), a breach suppressed by a
// cooldown, a window that passed, a window that failed after a rejected
// rollback, and a breach alone.
type decisionScenario struct {
	bad, restored, cooled, passed, failed, breached *roman.Deployment
	rolledBackAt, cooldownEnds, breachAt            time.Time
}

func recordDecisions(t *testing.T, f *fixture) decisionScenario {
	t.Helper()
	ctx := context.Background()
	var sc decisionScenario
	mk := func(service, env, version string, completed time.Time, mod func(*roman.Deployment)) *roman.Deployment {
		t.Helper()
		d := &roman.Deployment{Service: service, Environment: env, Version: version, GitCommit: "c0ffee" + version, GitBranch: "main",
			Status: roman.StatusSuccess, DeployedAt: completed.Add(-30 * time.Second), CompletedAt: &completed}
		if mod != nil {
			mod(d)
		}
		if err := f.st.CreateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	event := func(d *roman.Deployment, typ, sev, msg string, at time.Time, meta map[string]any) {
		t.Helper()
		md := map[string]any{"deployment_id": d.DeploymentID, "environment": d.Environment, "service": roman.ServiceOrDefault(d.Service), "version": d.Version}
		for k, v := range meta {
			md[k] = v
		}
		b, _ := json.Marshal(md)
		if err := f.st.AddRomanEvent(ctx, &roman.RomanEvent{EventType: typ, Severity: sev, Message: msg, Metadata: b, Timestamp: at}); err != nil {
			t.Fatal(err)
		}
	}
	now := f.now
	sc.breachAt = now.Add(-150 * time.Second)
	// production/default: v2.5.3 rolled back to v2.5.2.
	good := mk("", "production", "v2.5.2", now.Add(-time.Hour), func(d *roman.Deployment) { d.HealthCheckPassed = true })
	sc.rolledBackAt = now.Add(-100 * time.Second)
	sc.bad = mk("", "production", "v2.5.3", now.Add(-4*time.Minute), func(d *roman.Deployment) {
		d.Status, d.RolledBackAt = roman.StatusRolledBack, &sc.rolledBackAt
	})
	var errs []roman.ErrorEvent
	for i := range 30 { // errors every 5 s, also after the release stopped serving
		errs = append(errs, roman.ErrorEvent{DeploymentID: sc.bad.DeploymentID, OccurredAt: now.Add(-time.Duration(i*5+1) * time.Second), Message: "boom"})
	}
	if err := f.st.InsertErrorEvents(ctx, errs); err != nil {
		t.Fatal(err)
	}
	event(sc.bad, roman.EventWatchBreach, roman.SeverityWarning, "Trigger fired", sc.breachAt,
		map[string]any{"at": sc.breachAt, "signal": "High error rate", "reason": "High error rate: 8.5 errors/minute"})
	event(sc.bad, roman.EventAutoRollbackTriggered, roman.SeverityWarning, "Automatic rollback triggered", sc.breachAt,
		map[string]any{"reason": "High error rate: 8.5 errors/minute"})
	done := now.Add(-90 * time.Second)
	if err := f.st.CreateRollbackEvent(ctx, &roman.RollbackEvent{DeploymentID: sc.bad.DeploymentID, TriggerType: "automatic",
		TriggerReason: "High error rate: 8.5 errors/minute", Status: roman.RollbackSuccess, InitiatedAt: sc.breachAt, CompletedAt: &done,
		RollbackPlan: json.RawMessage(`{"target_version":"v2.5.2","target_deployment_id":"` + good.DeploymentID + `"}`)}); err != nil {
		t.Fatal(err)
	}
	sc.restored = mk("", "production", "v2.5.2", done, func(d *roman.Deployment) { d.RollbackFrom = &sc.bad.DeploymentID })
	event(sc.restored, roman.EventAutoRollbackSuppressed, roman.SeverityCritical, "Automatic rollback of v2.5.2 suppressed", now.Add(-20*time.Second),
		map[string]any{"reason": "High error rate: 6 errors/minute", "suppressed_by": "rollback_deployment",
			"suppressed_reason": "v2.5.2 was itself deployed by a rollback", "command": "roman rollback " + sc.restored.DeploymentID + ` --reason "High error rate: 6 errors/minute"`})

	// staging/default: a breach suppressed by a cooldown.
	sc.cooled = mk("", "staging", "v9", now.Add(-2*time.Minute), nil)
	sc.cooldownEnds = now.Add(17 * time.Minute)
	event(sc.cooled, roman.EventWatchBreach, roman.SeverityWarning, "Trigger fired", now.Add(-time.Minute),
		map[string]any{"at": now.Add(-time.Minute), "reason": "High error rate: 9 errors/minute"})
	event(sc.cooled, roman.EventAutoRollbackSuppressed, roman.SeverityCritical, "Automatic rollback of v9 suppressed", now.Add(-time.Minute),
		map[string]any{"reason": "High error rate: 9 errors/minute", "suppressed_by": "cooldown", "suppressed_until": sc.cooldownEnds,
			"suppressed_reason": "cooldown: a rollback of staging started before v9 was deployed", "command": "roman rollback " + sc.cooled.DeploymentID + ` --reason "x"`})

	// production/api: a window that passed.
	sc.passed = mk("api", "production", "a1", now.Add(-10*time.Minute), func(d *roman.Deployment) { d.HealthCheckPassed = true })
	event(sc.passed, roman.EventWatchStarted, roman.SeverityInfo, "Watching", now.Add(-10*time.Minute), nil)
	event(sc.passed, roman.EventWatchPassed, roman.SeverityInfo, "Watch window of a1 passed", now.Add(-5*time.Minute), nil)

	// production/billing: a rejected rollback, then the window failed.
	sc.failed = mk("billing", "production", "b7", now.Add(-10*time.Minute), nil)
	event(sc.failed, roman.EventWatchBreach, roman.SeverityWarning, "Trigger fired", now.Add(-8*time.Minute),
		map[string]any{"reason": "Too many recent errors: 62 in 5 minutes"})
	event(sc.failed, roman.EventManualIntervention, roman.SeverityCritical, "Rejected", now.Add(-8*time.Minute),
		map[string]any{"suppressed_by": "rejected", "suppressed_reason": "rejected by the constitution: no target", "command": "roman rollback b7-command"})
	event(sc.failed, roman.EventWatchFailed, roman.SeverityWarning, "Watch window of b7 ended after 1 breach(es)", now.Add(-5*time.Minute), nil)

	// production/search: a breach alone.
	sc.breached = mk("search", "production", "s3", now.Add(-time.Minute), nil)
	event(sc.breached, roman.EventWatchBreach, roman.SeverityWarning, "Trigger fired", now.Add(-30*time.Second),
		map[string]any{"at": now.Add(-31 * time.Second), "reason": "Database connection utilization at 93%"})
	return sc
}

// TestSummaryDecisions checks, on both stores, that each card carries its
// release's latest breach, suppression or verdict with its reason, the
// rollback that restored it, and links to the explain page; and that a
// rolled-back release's series ends when it stopped serving.
func TestSummaryDecisions(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, dbURL string) {
		f := newFixtureOn(t, dbURL)
		sc := recordDecisions(t, f)
		s := f.summary(t)
		cards := map[string]EnvironmentStatus{}
		for _, e := range s.Environments {
			cards[e.Service+"/"+e.Environment] = e
		}
		if len(cards) != 5 {
			t.Fatalf("cards: %v", cards)
		}
		for key, want := range map[string]*roman.Deployment{"default/production": sc.restored, "default/staging": sc.cooled,
			"api/production": sc.passed, "billing/production": sc.failed, "search/production": sc.breached} {
			c := cards[key]
			if c.Deployment == nil || c.Deployment.DeploymentID != want.DeploymentID || c.ExplainURL != BasePath+"/explain/"+want.DeploymentID {
				t.Fatalf("%s: card %+v", key, c)
			}
			if c.Decision == nil || c.Decision.DeploymentID != want.DeploymentID || c.Decision.ExplainURL != c.ExplainURL {
				t.Fatalf("%s: decision %+v", key, c.Decision)
			}
		}

		prod := cards["default/production"]
		if d := prod.Decision; d.Kind != DecisionSuppressed || d.SuppressedBy != "rollback_deployment" || d.Severity != roman.SeverityCritical ||
			d.Reason != "v2.5.2 was itself deployed by a rollback" || !strings.HasPrefix(d.Command, "roman rollback "+sc.restored.DeploymentID+" --reason") {
			t.Errorf("restored card's decision: %+v", d)
		}
		if r := prod.Rollback; r == nil || r.Kind != DecisionRolledBack || r.Version != "v2.5.3" || r.TargetVersion != "v2.5.2" ||
			r.Reason != "High error rate: 8.5 errors/minute" || r.Status != roman.RollbackSuccess || !r.At.Equal(sc.breachAt) ||
			r.DeploymentID != sc.bad.DeploymentID || r.ExplainURL != BasePath+"/explain/"+sc.bad.DeploymentID {
			t.Errorf("restored card's rollback: %+v", r)
		}
		if d := cards["default/staging"].Decision; d.Kind != DecisionSuppressed || d.SuppressedBy != "cooldown" ||
			d.SuppressedUntil == nil || !d.SuppressedUntil.Equal(sc.cooldownEnds) || !strings.HasPrefix(d.Reason, "cooldown: ") || d.Command == "" {
			t.Errorf("cooldown: %+v", d)
		}
		if d := cards["api/production"].Decision; d.Kind != DecisionWindowPassed || d.Command != "" || !d.At.Equal(f.now.Add(-5*time.Minute)) {
			t.Errorf("passed: %+v", d)
		}
		if d := cards["billing/production"].Decision; d.Kind != DecisionWindowFailed || d.Command != "roman rollback b7-command" ||
			!strings.HasPrefix(d.Reason, "Watch window of b7 ended") {
			t.Errorf("failed after a rejection: %+v", d)
		}
		if d := cards["search/production"].Decision; d.Kind != DecisionBreach || d.Reason != "Database connection utilization at 93%" ||
			!d.At.Equal(f.now.Add(-31*time.Second)) || d.Command != "" {
			t.Errorf("breach: %+v", d)
		}
		for _, key := range []string{"default/staging", "api/production"} {
			if cards[key].Rollback != nil {
				t.Errorf("%s: a rollback decision on a card no rollback recorded: %+v", key, cards[key].Rollback)
			}
		}

		// The rolled-back series ends at rolled_back_at; the current one
		// runs to the chart's right edge. Other services' rollbacks are not
		// charted on their neighbours' cards.
		c := prod.Chart
		if len(c.Series) != 2 {
			t.Fatalf("series: %+v", c.Series)
		}
		var bad, cur Series
		for _, se := range c.Series {
			if se.Kind == "rolled_back" {
				bad = se
			} else {
				cur = se
			}
		}
		step := time.Duration(c.StepSeconds * float64(time.Second))
		full := int(c.To.Sub(c.From)/step) + 1
		wantBad := int(sc.rolledBackAt.Sub(c.From)/step) + 1
		if bad.DeploymentID != sc.bad.DeploymentID || bad.EndedAt == nil || !bad.EndedAt.Equal(sc.rolledBackAt) || len(bad.Rates) != wantBad || wantBad >= full {
			t.Errorf("rolled-back series: ended %v, %d points, want %d (of %d)", bad.EndedAt, len(bad.Rates), wantBad, full)
		}
		if last := c.From.Add(time.Duration(len(bad.Rates)-1) * step); last.After(sc.rolledBackAt) || sc.rolledBackAt.Sub(last) >= step {
			t.Errorf("the rolled-back series' last point is at %v, stopped serving at %v", last, sc.rolledBackAt)
		}
		if bad.Rates[len(bad.Rates)-1] == 0 {
			t.Error("the rolled-back series lost its errors")
		}
		if cur.EndedAt != nil || len(cur.Rates) != full {
			t.Errorf("current series: ended %v, %d points of %d", cur.EndedAt, len(cur.Rates), full)
		}
		if n := len(cards["billing/production"].Chart.Series); n != 1 {
			t.Errorf("billing's chart has %d series: another service's rollback leaked in", n)
		}
	})
}

// TestExplainPage checks the explain page a card links to: the verdict and
// the timeline for a signed-in browser, the sign-in form otherwise, and a
// 404 page for an unknown deployment.
func TestExplainPage(t *testing.T) {
	f := newFixture(t)
	sc := recordDecisions(t, f)
	cookie := map[string]string{"Cookie": f.signIn(t, readKey)}
	resp, body := f.do(t, "GET", ExplainPath(sc.bad.DeploymentID), nil, cookie)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("explain page: %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{`id="verdict"`, `data-rolled-back="true"`, "Rolled back by rollback", "High error rate: 8.5 errors/minute",
		`<li data-kind="watch_breach"`, `<li data-kind="trigger"`, `<li data-kind="rollback"`, `<li data-kind="verdict"`, "v2.5.3 in production"} {
		if !strings.Contains(body, want) {
			t.Errorf("the explain page lacks %q", want)
		}
	}
	if strings.Contains(body, readKey) {
		t.Error("the page shows the key")
	}
	_, body = f.do(t, "GET", ExplainPath(sc.failed.DeploymentID), nil, cookie)
	if !strings.Contains(body, `data-rolled-back="false"`) || !strings.Contains(body, "manual intervention required") {
		t.Errorf("the failed window's page: %s", body)
	}
	if resp, body := f.do(t, "GET", ExplainPath(sc.bad.DeploymentID), nil, nil); resp.StatusCode != 200 || !strings.Contains(body, `id="signin-form"`) ||
		strings.Contains(body, "v2.5.3") {
		t.Errorf("signed out: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.do(t, "GET", ExplainPath("8f2d0c4e-0000-4000-8000-000000000000"), nil, cookie); resp.StatusCode != 404 ||
		!strings.Contains(body, "No deployment has that id.") {
		t.Errorf("unknown deployment: %d %s", resp.StatusCode, body)
	}
}

// TestChartLabelLayout runs the node tests of the chart's label layout
// (testdata/layout.test.js: the layout function of static/dashboard.js on
// fixed inputs). Without node it skips: the browser test checks the labels
// of real charts too.
func TestChartLabelLayout(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true: apt-get install nodejs")
		}
		t.Skip("SKIPPING: node is not installed (apt-get install nodejs); TestDashboardInBrowser (./server/) checks the chart's labels in Chromium")
	}
	out, err := exec.Command(node, "--test", filepath.Join("testdata", "layout.test.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# fail 0") {
		t.Fatalf("node --test reported failures:\n%s", out)
	}
}
