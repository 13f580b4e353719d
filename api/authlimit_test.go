package api

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/testkit"
)

// requestFrom returns a request whose connection comes from addr.
func requestFrom(addr string) *http.Request {
	r := httptest.NewRequest("GET", "/deployments", nil)
	r.RemoteAddr = addr
	return r
}

func TestAuthLimiterBucket(t *testing.T) {
	clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
	l := NewAuthLimiter(2, 30, clock.Now) // one attempt back every 2 s
	a := requestFrom("[2001:db8:1:2::10]:4000")
	for range 2 {
		if w := l.Wait(a); w != 0 {
			t.Fatalf("wait before the burst is spent: %v", w)
		}
		l.Fail(a)
	}
	if w := l.Wait(requestFrom("[2001:db8:1:2::99]:5000")); w != 2*time.Second {
		t.Fatalf("the same IPv6 /64 waits %v, want 2s", w)
	}
	if w := l.Wait(requestFrom("192.0.2.7:80")); w != 0 {
		t.Fatalf("another address waits %v", w)
	}
	clock.Add(1500 * time.Millisecond)
	if w := l.Wait(a); w != 500*time.Millisecond || RetryAfterSeconds(w) != 1 {
		t.Fatalf("after 1.5 s: wait %v (Retry-After %d), want 500ms (1)", w, RetryAfterSeconds(w))
	}
	clock.Add(time.Hour)
	if w := l.Wait(a); w != 0 {
		t.Fatalf("after an hour: %v", w)
	}
	var none *AuthLimiter
	none.Fail(a)
	if none.Wait(a) != 0 {
		t.Fatal("a nil limiter limits")
	}
}

// TestAuthLimiterReportsWhenLimited: Fail says true exactly once, on the
// failure that uses up the allowance, so the server logs the moment an
// address starts being refused (and not every guess after it).
func TestAuthLimiterReportsWhenLimited(t *testing.T) {
	clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
	l := NewAuthLimiter(3, 30, clock.Now)
	a := requestFrom("192.0.2.7:80")
	var got []bool
	for range 5 {
		got = append(got, l.Fail(a))
	}
	if want := []bool{false, false, true, false, false}; !slices.Equal(got, want) {
		t.Fatalf("Fail reported %v, want %v", got, want)
	}
	clock.Add(time.Hour) // the allowance is back
	if l.Fail(a) {
		t.Fatal("the first failure after the allowance came back reported a limit")
	}
}
