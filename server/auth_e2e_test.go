package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/web"
)

// TestShortKeysRefusedAtStart starts the server with a one-character key,
// as an operator in a hurry might: it must refuse to start and say how to
// make a good key, however the configuration was built. A short key that is
// already stored (only its hash is kept, so its length cannot be checked at
// start) never authenticates.
func TestShortKeysRefusedAtStart(t *testing.T) {
	database := testkit.SQLiteURL(t)
	env := map[string]string{"ROMAN_DATABASE": database, "ROMAN_LISTEN": "127.0.0.1:0", "ROMAN_API_KEYS": "admin:x"}
	_, err := config.Load("", func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "openssl rand -hex 32") || strings.Contains(err.Error(), "admin:x") {
		t.Fatalf("loading a one-character key: %v, want a refusal saying how to make a good key", err)
	}

	// A configuration built in code, not loaded, is refused too.
	env["ROMAN_API_KEYS"] = "admin:" + adminToken
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIKeys = append(cfg.APIKeys, config.APIKey{Name: "quick", Role: "admin", Token: roman.Secret("x")})
	m := &Server{Config: cfg, Logger: testkit.Discard(), Stdout: io.Discard}
	if err := m.Open(context.Background()); err == nil {
		m.Close()
		t.Fatal("the server started with a one-character key")
	} else if !strings.Contains(err.Error(), "openssl rand -hex 32") {
		t.Fatalf("refusal does not say how to make a good key: %v", err)
	}

	// A short key stored by an older version: its hash is in api_keys.
	m = openServer(t, database, nil, nil)
	const stored = "abc"
	if err := m.Store.CreateAPIKey(context.Background(), &roman.APIKey{Name: "legacy", Role: roman.RoleAdmin, Hash: roman.HashKey(stored)}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = startServer(t, database)
	if code, out := testkit.Call(t, "GET", m.URL()+"/deployments", stored, ""); code != 401 {
		t.Fatalf("a stored three-character key: %d %v, want 401", code, out)
	}
	if code, _ := testkit.Call(t, "GET", m.URL()+"/deployments", readToken, ""); code != 200 {
		t.Fatalf("a good key: %d", code)
	}
}

// client is an HTTP client whose connections come from the loopback
// address src (127.0.0.1, 127.0.0.2, …), so a test can play several client
// addresses against one server. It never follows redirects.
func client(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// send makes one request with c: a bearer token unless empty, a cookie
// unless empty. It returns the status, the headers and the body.
func send(t *testing.T, c *http.Client, method, u, token, cookie string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// signIn posts the dashboard's sign-in form with key from c and returns the
// status, the Retry-After header and the session cookie ("name=value", or
// "" when none was set).
func signIn(t *testing.T, c *http.Client, base, key string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+web.BasePath+"/sign-in", strings.NewReader(url.Values{"key": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == web.CookieName && ck.Value != "" {
			return resp.StatusCode, resp.Header.Get("Retry-After"), ck.Name + "=" + ck.Value
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), ""
}

// TestFailedAuthRateLimited guesses API keys as fast as it can from one
// address: after the burst (10) every further attempt from that address is
// answered 429 with Retry-After, before its key is looked at, until the
// allowance comes back on the server's clock. Successful requests never
// count, a signed-in dashboard keeps working, other addresses are not
// affected, and wrong dashboard sign-ins count like wrong API keys.
func TestFailedAuthRateLimited(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
		m := closedAtEnd(t, openServer(t, database, clock.Now, nil))
		base := m.URL()
		attacker, neighbour, signer := client("127.0.0.1"), client("127.0.0.2"), client("127.0.0.3")
		guess := func(i int) string { return fmt.Sprintf("guess-%016d", i) }

		_, _, session := signIn(t, attacker, base, readToken)
		if session == "" {
			t.Fatal("the read key did not sign in")
		}
		for i := range 50 {
			if code, _, _ := send(t, attacker, "GET", base+"/deployments", readToken, ""); code != 200 {
				t.Fatalf("successful request %d: %d", i, code)
			}
		}
		for i := range 10 {
			if code, _, body := send(t, attacker, "GET", base+"/deployments", guess(i), ""); code != 401 {
				t.Fatalf("guess %d: %d %s, want 401", i, code, body)
			}
		}
		code, h, body := send(t, attacker, "GET", base+"/deployments", guess(10), "")
		if code != 429 || h.Get("Retry-After") != "6" || !strings.Contains(body, `"success":false`) || !strings.Contains(body, "too many failed") {
			t.Fatalf("guess 11: %d Retry-After %q %s, want 429 with Retry-After 6", code, h.Get("Retry-After"), body)
		}
		// Refused before the key is looked at: a right guess would look the same.
		if code, _, _ := send(t, attacker, "GET", base+"/deployments", readToken, ""); code != 429 {
			t.Fatalf("a key from the limited address: %d, want 429", code)
		}
		if code, retry, _ := signIn(t, attacker, base, adminToken); code != 429 || retry == "" {
			t.Fatalf("dashboard sign-in from the limited address: %d Retry-After %q", code, retry)
		}
		if code, _, _ := send(t, attacker, "GET", base+web.BasePath+"/summary", "", session); code != 200 {
			t.Fatalf("the signed-in dashboard on the limited address: %d", code)
		}
		if code, _, _ := send(t, neighbour, "GET", base+"/deployments", guess(11), ""); code != 401 {
			t.Fatalf("a wrong key from another address: %d, want 401", code)
		}
		if code, _, _ := send(t, neighbour, "GET", base+"/deployments", readToken, ""); code != 200 {
			t.Fatalf("a key from another address: %d", code)
		}

		// One attempt comes back every 6 seconds of the server's clock.
		clock.Add(6 * time.Second)
		if code, _, _ := send(t, attacker, "GET", base+"/deployments", guess(12), ""); code != 401 {
			t.Fatalf("a guess after Retry-After: %d, want 401", code)
		}
		if code, _, _ := send(t, attacker, "GET", base+"/deployments", guess(13), ""); code != 429 {
			t.Fatalf("the next guess: %d, want 429", code)
		}
		clock.Add(time.Minute)
		if code, _, _ := send(t, attacker, "GET", base+"/deployments", readToken, ""); code != 200 {
			t.Fatalf("the key after the allowance came back: %d", code)
		}

		// Wrong dashboard sign-ins count too, on the API as well.
		for i := range 10 {
			if code, _, _ := signIn(t, signer, base, guess(100+i)); code != 401 {
				t.Fatalf("wrong sign-in %d: %d, want 401", i, code)
			}
		}
		if code, retry, _ := signIn(t, signer, base, guess(110)); code != 429 || retry != "6" {
			t.Fatalf("sign-in 11: %d Retry-After %q, want 429 with 6", code, retry)
		}
		if code, _, _ := send(t, signer, "GET", base+"/deployments", guess(111), ""); code != 429 {
			t.Fatalf("the API after wrong sign-ins: %d, want 429", code)
		}
	})
}

// TestDashboardSessionsCappedPerKey signs in with the read key 10,001 times
// (what filled the old 10,000-session store) after an administrator signed
// in: the administrator's session must survive, since each key holds at most
// its own cap and only its own oldest session is ended.
func TestDashboardSessionsCappedPerKey(t *testing.T) {
	clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
	m := closedAtEnd(t, openServer(t, testkit.SQLiteURL(t), clock.Now, nil))
	base, c := m.URL(), client("127.0.0.1")
	summary := base + web.BasePath + "/summary"
	_, _, admin := signIn(t, c, base, adminToken)
	if admin == "" {
		t.Fatal("the admin key did not sign in")
	}

	const flood = 10001
	cookies := make([]string, flood)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < flood; i += 8 {
				clock.Add(time.Millisecond) // each session younger than the last
				if _, _, cookies[i] = signIn(t, c, base, readToken); cookies[i] == "" {
					t.Errorf("read sign-in %d failed", i)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if code, _, _ := send(t, c, "GET", summary, "", admin); code != 200 {
		t.Fatalf("the admin's session after %d read sign-ins: %d, want 200", flood, code)
	}
	// The read key keeps its newest sessions up to its cap (20 by default)
	// and ends its oldest: of 21 more sign-ins, the first is ended by the
	// last.
	var last []string
	for range 21 {
		_, _, ck := signIn(t, c, base, readToken)
		last = append(last, ck)
	}
	for i, ck := range last {
		want := 200
		if i == 0 {
			want = 401
		}
		if code, _, _ := send(t, c, "GET", summary, "", ck); code != want {
			t.Errorf("read session %d of the last 21: %d, want %d", i+1, code, want)
		}
	}
	if code, _, _ := send(t, c, "GET", summary, "", cookies[0]); code != 401 {
		t.Errorf("the read key's first session: %d, want 401", code)
	}
}

// TestTrustedProxyRateLimit runs the failed-authentication limit behind a
// reverse proxy: with trusted_proxies naming it, each client it forwards
// has its own allowance (one guesser does not lock out the others behind
// the same proxy), and a client that is not the proxy cannot escape its own
// limit by sending X-Forwarded-For.
func TestTrustedProxyRateLimit(t *testing.T) {
	clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
	m := closedAtEnd(t, openServer(t, testkit.SQLiteURL(t), clock.Now, nil, map[string]string{"ROMAN_TRUSTED_PROXIES": "127.0.0.1/32"}))
	base := m.URL()
	proxy, direct := client("127.0.0.1"), client("127.0.0.2")
	forwarded := func(c *http.Client, xff, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/deployments", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	guess := func(i int) string { return fmt.Sprintf("guess-%016d", i) }
	for i := range 10 {
		if code := forwarded(proxy, "203.0.113.5", guess(i)); code != 401 {
			t.Fatalf("guess %d through the proxy: %d, want 401", i, code)
		}
	}
	if code := forwarded(proxy, "203.0.113.5", guess(10)); code != 429 {
		t.Fatalf("guess 11 through the proxy: %d, want 429", code)
	}
	if code := forwarded(proxy, "203.0.113.6", readToken); code != 200 {
		t.Fatalf("another client behind the same proxy: %d, want 200", code)
	}
	if code := forwarded(proxy, "203.0.113.6", guess(11)); code != 401 {
		t.Fatalf("another client's wrong key behind the same proxy: %d, want 401 (its own allowance)", code)
	}
	// Not a trusted proxy: its header is ignored, each spoofed address
	// counts against the connection's own.
	for i := range 10 {
		forwarded(direct, fmt.Sprintf("198.51.100.%d", i), guess(20+i))
	}
	if code := forwarded(direct, "198.51.100.99", readToken); code != 429 {
		t.Fatalf("a direct client spoofing X-Forwarded-For after 10 failures: %d, want 429", code)
	}
}
