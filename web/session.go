package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
)

// CookieName is the dashboard's session cookie.
const CookieName = "roman_session"

// Defaults of the session store.
const (
	DefaultSessionTTL  = 12 * time.Hour
	DefaultMaxSessions = 10000
)

// Sessions is the dashboard's server-side session store. Signing in with an
// API key creates a session; the browser holds only a random session token
// in an HttpOnly cookie, never the key, and the store keeps only the token's
// SHA-256, so not even a memory dump yields a usable cookie. Sessions are
// read-only whatever the key's role (the dashboard shows, it never acts),
// expire after a fixed lifetime, and end at sign-out or restart. They live
// in this process: replicas behind a load balancer need sticky sessions for
// the dashboard (the bearer key works everywhere).
type Sessions struct {
	keyring *roman.Keyring
	now     roman.Clock
	ttl     time.Duration
	max     int

	mu sync.Mutex
	m  map[string]*session // SHA-256 of the token (hex) → session
}

type session struct {
	caller  api.Caller
	created time.Time
	expires time.Time
}

// NewSessions returns a session store that checks keys against keyring.
// ttl ≤ 0 means DefaultSessionTTL; clock nil means the system clock.
func NewSessions(keyring *roman.Keyring, ttl time.Duration, clock roman.Clock) *Sessions {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if clock == nil {
		clock = roman.SystemClock
	}
	return &Sessions{keyring: keyring, now: clock, ttl: ttl, max: DefaultMaxSessions, m: map[string]*session{}}
}

// SignIn checks an API key and, when it is valid, opens a read-only session
// and returns its token and expiry.
func (s *Sessions) SignIn(key string) (token string, expires time.Time, ok bool) {
	if s.keyring == nil || key == "" {
		return "", time.Time{}, false
	}
	k, ok := s.keyring.Lookup(key)
	if !ok {
		return "", time.Time{}, false
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, false
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	expires = now.Add(s.ttl)
	role := min(k.Role, roman.RoleRead)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		s.evictLocked(now)
	}
	s.m[tokenHash(token)] = &session{caller: api.Caller{Name: k.Name, Role: role}, created: now, expires: expires}
	return token, expires, true
}

// evictLocked drops expired sessions and, if the store is still full, the
// oldest one, so a flood of sign-ins cannot grow memory without bound.
func (s *Sessions) evictLocked(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for h, ss := range s.m {
		if !now.Before(ss.expires) {
			delete(s.m, h)
			continue
		}
		if oldest == "" || ss.created.Before(oldestAt) {
			oldest, oldestAt = h, ss.created
		}
	}
	if len(s.m) >= s.max && oldest != "" {
		delete(s.m, oldest)
	}
}

// Lookup returns the caller of a live session.
func (s *Sessions) Lookup(token string) (api.Caller, bool) {
	if token == "" {
		return api.Caller{}, false
	}
	h := tokenHash(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[h]
	if !ok {
		return api.Caller{}, false
	}
	if !s.now().Before(ss.expires) {
		delete(s.m, h)
		return api.Caller{}, false
	}
	return ss.caller, true
}

// SignOut ends a session.
func (s *Sessions) SignOut(token string) {
	s.mu.Lock()
	delete(s.m, tokenHash(token))
	s.mu.Unlock()
}

// Len returns the number of sessions held (live or not yet purged).
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// SessionCaller implements api.SessionAuthenticator: the caller of the
// request's session cookie, if it names a live session.
func (s *Sessions) SessionCaller(r *http.Request) (api.Caller, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return api.Caller{}, false
	}
	return s.Lookup(c.Value)
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// sessionCookie returns the cookie that carries token: HttpOnly (no script
// reads it), SameSite=Strict (no other site's page sends it), limited to the
// dashboard's path, and Secure when the request came over TLS (directly or
// through a proxy that says so).
func sessionCookie(r *http.Request, token string, expires time.Time) *http.Cookie {
	c := &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     BasePath,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	}
	if token == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	return c
}
