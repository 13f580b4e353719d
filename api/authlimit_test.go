package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
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

// TestAuthLimiterTrustedProxies: X-Forwarded-For names the client only when
// the connection comes from a trusted proxy, and then the rightmost entry
// that is not a trusted proxy is the client, so a client cannot pick its
// address by prepending entries or sending garbage.
func TestAuthLimiterTrustedProxies(t *testing.T) {
	l := NewAuthLimiter(1, 1, nil)
	l.TrustProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")})
	for _, tc := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.7:80", []string{"203.0.113.5"}, "192.0.2.7"},                     // not a proxy: header ignored
		{"10.1.2.3:80", nil, "10.1.2.3"},                                           // proxy, no header: the proxy
		{"10.1.2.3:80", []string{"203.0.113.5"}, "203.0.113.5"},                    // proxy: the client it names
		{"10.1.2.3:80", []string{"1.1.1.1, 203.0.113.5"}, "203.0.113.5"},           // spoofed entries to the left are ignored
		{"10.1.2.3:80", []string{"203.0.113.5, 10.9.9.9"}, "203.0.113.5"},          // a chain of trusted proxies is walked
		{"10.1.2.3:80", []string{"203.0.113.5", "10.9.9.9"}, "203.0.113.5"},        // over several header lines too
		{"10.1.2.3:80", []string{"1.1.1.1, garbage"}, "10.1.2.3"},                  // garbage stops the walk at the last hop
		{"10.1.2.3:80", []string{"10.2.2.2, 10.3.3.3"}, "10.2.2.2"},                // only proxies: the farthest one
		{"10.1.2.3:80", []string{"198.51.100.9:5555"}, "198.51.100.9"},             // an entry with a port
		{"[2001:db8::1]:80", []string{"2001:db8:aa::5"}, "2001:db8:aa::5"},         // IPv6 proxy
		{"[::ffff:10.1.2.3]:80", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},    // mapped addresses unmapped
		{"not-an-address", []string{"203.0.113.5"}, "not-an-address"},              // unparsable remote: as is
		{"192.0.2.7:80", []string{"10.1.2.3, 203.0.113.5"}, "192.0.2.7"},           // spoofing a proxy does not help
		{"10.1.2.3:80", []string{" 203.0.113.5 ,  198.51.100.1 "}, "198.51.100.1"}, // spaces
	} {
		r := requestFrom(tc.remote)
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := l.ClientAddr(r); got != tc.want {
			t.Errorf("remote %s, X-Forwarded-For %q: client %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
	// The limit follows the forwarded client, not the proxy.
	a, b := requestFrom("10.1.2.3:80"), requestFrom("10.1.2.3:80")
	a.Header.Set("X-Forwarded-For", "203.0.113.5")
	b.Header.Set("X-Forwarded-For", "203.0.113.6")
	l.Fail(a)
	if l.Wait(a) == 0 || l.Wait(b) != 0 {
		t.Fatalf("after one failure of 203.0.113.5 behind the proxy: wait %v, its neighbour %v", l.Wait(a), l.Wait(b))
	}
}
