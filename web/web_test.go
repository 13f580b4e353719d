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
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/sqldb"
)

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
	st, err := sqldb.Open(context.Background(), testkit.SQLiteURL(t), nil)
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
	sessions := NewSessions(keyring, time.Hour, f.clock)
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
	s := NewSessions(roman.NewKeyring([]roman.APIKey{{Name: "r", Role: roman.RoleRead, Hash: roman.HashKey(readKey)}}), time.Hour, func() time.Time { return now })
	s.max = 3
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
	if s.Len() != 3 {
		t.Fatalf("%d sessions held, want at most 3", s.Len())
	}
	if _, ok := s.Lookup(first); ok {
		t.Error("the oldest session should have been evicted")
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
