package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
)

// Defaults of the failed-authentication limit.
const (
	// DefaultAuthFailureBurst is how many failed authentications a client
	// address may make in a row before it must wait.
	DefaultAuthFailureBurst = 10
	// DefaultAuthFailuresPerMinute is how fast the allowance comes back.
	DefaultAuthFailuresPerMinute = 10
	// maxAuthLimitClients bounds the addresses remembered at once.
	maxAuthLimitClients = 100000
)

// AuthLimiter limits failed authentications per client address with a token
// bucket on the injected clock: each failure (a wrong API key, a wrong
// dashboard sign-in key) takes a token; tokens come back at a fixed rate up
// to the burst. An address without tokens is answered 429 with Retry-After
// before its key is even looked at, so guessing cannot go on at full speed
// whatever the answer would have been. Successful requests never take a
// token, and requests with a dashboard session cookie are never limited.
//
// The client address is the connection's remote address (IPv6 addresses
// by their /64 prefix, which one host usually holds whole). X-Forwarded-For
// is trusted only from the proxies given to TrustProxies: for a connection
// from one of them, the client is the rightmost entry of the header that is
// not itself a trusted proxy. A nil *AuthLimiter limits nothing.
type AuthLimiter struct {
	burst   float64
	rate    float64 // tokens per second
	now     roman.Clock
	proxies []netip.Prefix

	mu      sync.Mutex
	clients map[netip.Prefix]*authBucket
}

type authBucket struct {
	tokens float64
	at     time.Time
}

// NewAuthLimiter returns a limiter that allows burst failures in a row and
// perMinute failures a minute after that; values ≤ 0 take the defaults, and
// a nil clock is the system clock.
func NewAuthLimiter(burst, perMinute int, clock roman.Clock) *AuthLimiter {
	if burst <= 0 {
		burst = DefaultAuthFailureBurst
	}
	if perMinute <= 0 {
		perMinute = DefaultAuthFailuresPerMinute
	}
	if clock == nil {
		clock = roman.SystemClock
	}
	return &AuthLimiter{burst: float64(burst), rate: float64(perMinute) / 60, now: clock, clients: map[netip.Prefix]*authBucket{}}
}

// TrustProxies makes the limiter believe X-Forwarded-For from connections
// whose address is in one of proxies. Call it before the limiter is used.
func (l *AuthLimiter) TrustProxies(proxies []netip.Prefix) { l.proxies = proxies }

// ClientAddr returns the client address of r as the limiter sees it, for
// log lines: the remote address, or the forwarded one behind a trusted
// proxy.
func (l *AuthLimiter) ClientAddr(r *http.Request) string {
	if a, ok := l.clientAddr(r); ok {
		return a.String()
	}
	return r.RemoteAddr
}

// Wait returns how long the client of r must wait before its next attempt
// to authenticate; zero means it may try now.
func (l *AuthLimiter) Wait(r *http.Request) time.Duration {
	if l == nil {
		return 0
	}
	addr, ok := l.clientPrefix(r)
	if !ok {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.clients[addr]
	if !ok {
		return 0
	}
	l.refill(b)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// Fail records a failed authentication by the client of r and reports
// whether that failure used up the client's allowance, so that the caller
// can leave evidence (a log line) when an address starts being refused.
func (l *AuthLimiter) Fail(r *http.Request) (nowLimited bool) {
	if l == nil {
		return false
	}
	addr, ok := l.clientPrefix(r)
	if !ok {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.clients[addr]
	if !ok {
		if len(l.clients) >= maxAuthLimitClients {
			l.pruneLocked()
		}
		b = &authBucket{tokens: l.burst, at: l.now()}
		l.clients[addr] = b
	}
	l.refill(b)
	before := b.tokens
	b.tokens = math.Max(0, b.tokens-1)
	return before >= 1 && b.tokens < 1
}

// refill adds the tokens earned since the bucket was last seen.
func (l *AuthLimiter) refill(b *authBucket) {
	now := l.now()
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
	}
	b.at = now
}

// pruneLocked forgets the addresses whose bucket is full again (they are
// as if never seen) and, if that frees nothing, one arbitrary address, so
// memory stays bounded however many addresses fail.
func (l *AuthLimiter) pruneLocked() {
	for k, b := range l.clients {
		l.refill(b)
		if b.tokens >= l.burst {
			delete(l.clients, k)
		}
	}
	for k := range l.clients {
		if len(l.clients) < maxAuthLimitClients {
			break
		}
		delete(l.clients, k)
	}
}

// clientAddr returns the client address of r: the remote address, or,
// when that is a trusted proxy, the rightmost X-Forwarded-For entry that is
// not a trusted proxy. A malformed entry ends the walk at the hop before it,
// so a client cannot pick its address by sending a bad header.
func (l *AuthLimiter) clientAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	if l == nil || !l.trusted(ip) {
		return ip, true
	}
	hops := r.Header.Values("X-Forwarded-For")
	var entries []string
	for _, h := range hops {
		entries = append(entries, strings.Split(h, ",")...)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := strings.TrimSpace(entries[i])
		a, err := netip.ParseAddr(e)
		if err != nil {
			if ap, err2 := netip.ParseAddrPort(e); err2 == nil {
				a, err = ap.Addr(), nil
			}
		}
		if err != nil {
			break
		}
		ip = a.Unmap()
		if !l.trusted(ip) {
			break
		}
	}
	return ip, true
}

// trusted reports whether ip is one of the trusted proxies.
func (l *AuthLimiter) trusted(ip netip.Addr) bool {
	for _, p := range l.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientPrefix returns the address a request is limited by: the client's
// IPv4 address, or the /64 of its IPv6 address.
func (l *AuthLimiter) clientPrefix(r *http.Request) (netip.Prefix, bool) {
	ip, ok := l.clientAddr(r)
	if !ok {
		return netip.Prefix{}, false
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// RetryAfterSeconds returns the Retry-After value for a wait: whole seconds,
// rounded up, at least one.
func RetryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

// tooManyFailures is the error of a request refused by the AuthLimiter; the
// server answers it 429 with Retry-After.
type tooManyFailures struct {
	retryAfter int
}

func (e *tooManyFailures) Error() string {
	return fmt.Sprintf("too many failed authentications from this address: retry after %d seconds", e.retryAfter)
}
