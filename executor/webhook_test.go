package executor_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/executor"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/webhooksig"
)

// hook is an httptest receiver that answers each call with the next status
// of its script (the last one repeats) and records what it got.
type hook struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header // extra answer headers
	calls    []*http.Request
	bodies   [][]byte
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	n := len(h.calls)
	h.calls, h.bodies = append(h.calls, r), append(h.bodies, b)
	status := h.statuses[min(n, len(h.statuses)-1)]
	h.mu.Unlock()
	for k, v := range h.header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	io.WriteString(w, `{"answer":"`+http.StatusText(status)+`"}`)
}

const hookSecret = "whsec_test_secret"

func newWebhook(t *testing.T, url string, timeout time.Duration, ft *fakeTime) roman.Executor {
	t.Helper()
	w, err := executor.NewWebhook(url, hookSecret, timeout, ft.options())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookSignedPayload(t *testing.T) {
	h := &hook{statuses: []int{202}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ft := newFakeTime()
	raw, err := newWebhook(t, srv.URL+"/deploy/tok_in_path", time.Minute, ft).Execute(context.Background(), request())
	if err != nil {
		t.Fatalf("execute: %v %s", err, raw)
	}
	if len(h.calls) != 1 {
		t.Fatalf("%d calls", len(h.calls))
	}
	r, body := h.calls[0], h.bodies[0]
	if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s", r.Method, r.Header.Get("Content-Type"))
	}
	ts := r.Header.Get(webhooksig.HeaderTimestamp)
	if ts != "1765809300" {
		t.Errorf("timestamp header %q, want the fake clock's unix time", ts)
	}
	// The receiver's side of the documented scheme.
	m := hmac.New(sha256.New, []byte(hookSecret))
	m.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := r.Header.Get("X-Roman-Signature-256"); !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("signature %q, want %q", got, want)
	}
	if err := webhooksig.Verify([]byte(hookSecret), r.Header.Get(webhooksig.HeaderSignature), ts, body, ft.Now(), webhooksig.DefaultMaxAge); err != nil {
		t.Errorf("webhooksig.Verify: %v", err)
	}
	// Only the one signature header is sent.
	if got := r.Header.Get("X-Roman-Signature"); got != "" {
		t.Errorf("the retired X-Roman-Signature header was sent: %q", got)
	}
	if r.Header.Get(executor.HeaderIdempotencyKey) != request().EventID {
		t.Errorf("idempotency key %q", r.Header.Get(executor.HeaderIdempotencyKey))
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	wantBody := map[string]any{
		"event": "rollback", "event_id": request().EventID, "environment": "production",
		"deployment_id": request().NewDeploymentID, "version": "v2.5.2", "git_commit": "a7f3b29", "git_branch": "main",
		"target_deployment_id": request().Target.DeploymentID, "timestamp": "2025-12-15T14:35:00Z",
		"rolled_back": map[string]any{"deployment_id": request().BadDeployment.DeploymentID, "version": "v2.5.3", "git_commit": "b81c4d0"},
	}
	if !reflect.DeepEqual(p, wantBody) {
		t.Errorf("payload:\n got %v\nwant %v", p, wantBody)
	}
	d := decode(t, raw)
	attempts := d["attempts"].([]any)
	if len(attempts) != 1 || attempts[0].(map[string]any)["status"] != 202.0 {
		t.Errorf("detail: %v", d)
	}
	if strings.Contains(string(raw), "tok_in_path") {
		t.Error("the webhook URL (a secret) is in the step detail")
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		header    http.Header
		timeout   time.Duration
		wantErr   string
		wantCalls int
		wantSlept []time.Duration
	}{
		{"5xx then success", []int{500, 502, 200}, nil, time.Minute, "", 3, []time.Duration{time.Second, 2 * time.Second}},
		{"429 honours Retry-After", []int{429, 204}, http.Header{"Retry-After": {"7"}}, time.Minute, "", 2, []time.Duration{7 * time.Second}},
		{"4xx is not retried", []int{400}, nil, time.Minute, "webhook answered 400 Bad Request; not retried", 1, nil},
		{"404 is not retried", []int{404}, nil, time.Minute, "webhook answered 404", 1, nil},
		{"5xx until the timeout", []int{503}, nil, 10 * time.Second, "webhook failed after 4 attempts within 10s (last: status 503)", 4,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &hook{statuses: tc.statuses, header: tc.header}
			srv := httptest.NewServer(h)
			defer srv.Close()
			ft := newFakeTime()
			raw, err := newWebhook(t, srv.URL, tc.timeout, ft).Execute(context.Background(), request())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(roman.ErrorMessage(err), tc.wantErr)):
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if len(h.calls) != tc.wantCalls {
				t.Errorf("%d calls, want %d", len(h.calls), tc.wantCalls)
			}
			if got := ft.Slept(); !reflect.DeepEqual(got, tc.wantSlept) {
				t.Errorf("slept %v, want %v", got, tc.wantSlept)
			}
			if n := len(decode(t, raw)["attempts"].([]any)); n != tc.wantCalls {
				t.Errorf("detail lists %d attempts", n)
			}
			// Every retry is the same event, so the receiver can deduplicate.
			for _, r := range h.calls {
				if r.Header.Get(executor.HeaderIdempotencyKey) != request().EventID {
					t.Errorf("retry without the idempotency key")
				}
			}
		})
	}
}

// TestWebhookDown: a receiver that refuses connections is retried until
// the timeout, and neither the error nor the detail contains the URL.
func TestWebhookDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hooks/T000/B000/secret-token-xyz"
	srv.Close()
	ft := newFakeTime()
	raw, err := newWebhook(t, url, 5*time.Second, ft).Execute(context.Background(), request())
	if err == nil || !strings.Contains(roman.ErrorMessage(err), "webhook failed after 3 attempts") {
		t.Fatalf("want failure after retries, got %v", err)
	}
	for _, s := range []string{roman.ErrorMessage(err), string(raw)} {
		if strings.Contains(s, "secret-token-xyz") {
			t.Fatalf("the URL leaked: %s", s)
		}
	}
	if !strings.Contains(string(raw), "connection refused") {
		t.Errorf("the detail should say why: %s", raw)
	}
}

func TestWebhookUnsignedWithoutSecret(t *testing.T) {
	h := &hook{statuses: []int{200}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	w, err := executor.NewWebhook(srv.URL, "", time.Minute, newFakeTime().options())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Execute(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	if h.calls[0].Header.Get(webhooksig.HeaderSignature) != "" {
		t.Error("signed without a secret")
	}
	if _, err := executor.NewWebhook("ftp://x", "", time.Minute, executor.Options{}); roman.ErrorCode(err) != roman.EINVALID {
		t.Errorf("bad URL: %v", err)
	}
}

// TestWebhookAnswerEchoingTheURL: a receiver that quotes the request's
// path and query in its answer (many 404 pages do) does not get the URL,
// a secret, into the step detail.
func TestWebhookAnswerEchoingTheURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "no route for POST "+r.URL.RequestURI()+" (full URL http://"+r.Host+r.URL.RequestURI()+")")
	}))
	defer srv.Close()
	url := srv.URL + "/hooks/T000/B000/secret-token-xyz?sig=secret-query-abc"
	raw, err := newWebhook(t, url, time.Minute, newFakeTime()).Execute(context.Background(), request())
	if err == nil || !strings.Contains(roman.ErrorMessage(err), "webhook answered 404") {
		t.Fatalf("want a 404 failure, got %v", err)
	}
	for _, s := range []string{roman.ErrorMessage(err), string(raw)} {
		if strings.Contains(s, "secret-token-xyz") || strings.Contains(s, "secret-query-abc") {
			t.Fatalf("the URL leaked: %s", s)
		}
	}
	if !strings.Contains(string(raw), "no route for POST") {
		t.Errorf("the answer should still be in the detail: %s", raw)
	}
}

// TestWebhookAnswerEchoingEveryEncoding: a receiver that echoes its URL and
// the HMAC key in every encoding (URL-, JSON-, HTML-escaped, base64, the
// userinfo Go's client turned into an Authorization header, each path token
// and query value) gets none of them into the step detail or the error,
// whether it fails (retried) or succeeds; a token cut by the detail's size
// limit leaves no prefix behind.
func TestWebhookAnswerEchoingEveryEncoding(t *testing.T) {
	const secret = "hmac-Key/with+special=chars&<>"
	var rawURL string
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, testkit.EchoBody(r, testkit.SecretPieces(rawURL, secret)))
	}))
	defer srv.Close()
	rawURL = testkit.SecretURL(srv.URL)
	w, err := executor.NewWebhook(rawURL, secret, time.Minute, newFakeTime().options())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.Execute(context.Background(), request())
	if err != nil || calls != 2 {
		t.Fatalf("Execute = %v after %d calls", err, calls)
	}
	if leaks := testkit.Leaks(string(raw), testkit.SecretPieces(rawURL, secret)); len(leaks) > 0 {
		t.Fatalf("the step detail keeps %q:\n%s", leaks, raw)
	}
	if !strings.Contains(string(raw), "no route for this request") {
		t.Errorf("the answer should still be in the detail: %s", raw)
	}

	// A token straddling the 4 KiB the detail keeps.
	const token = "xoxb-secret-path-token-987"
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, strings.Repeat(".", 4<<10-10)+token+" trailing text")
	}))
	defer cut.Close()
	w, err = executor.NewWebhook(testkit.SecretURL(cut.URL), secret, time.Minute, newFakeTime().options())
	if err != nil {
		t.Fatal(err)
	}
	raw, err = w.Execute(context.Background(), request())
	if err == nil || strings.Contains(string(raw), token[:10]) || strings.Contains(roman.ErrorMessage(err), token[:10]) {
		t.Fatalf("a cut token left its prefix: %v\n%s", err, raw)
	}
}
