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
	DefaultSessionTTL = 12 * time.Hour
	// DefaultSessionsPerKey is how many sessions one API key may hold.
	DefaultSessionsPerKey = 20
)

// Sessions is the dashboard's server-side session store. Signing in with an
// API key creates a session; the browser holds only a random session token
// in an HttpOnly cookie, never the key, and the store keeps only the token's
// SHA-256, so not even a memory dump yields a usable cookie. Sessions are
// read-only whatever the key's role (the dashboard shows, it never acts),
// expire after a fixed lifetime, and end at sign-out or restart. They live
// in this process: replicas behind a load balancer need sticky sessions for
// the dashboard (the bearer key works everywhere).
//
// Each API key holds at most a fixed number of sessions: signing in once
// more ends that key's oldest session, never another key's, so no key can
// sign the others out. Memory is bounded by the number of keys times the
// cap.
type Sessions struct {
	keyring *roman.Keyring
	now     roman.Clock
	ttl     time.Duration
	perKey  int

	mu    sync.Mutex
	m     map[string]*session // SHA-256 of the token (hex) → session
	byKey map[string][]string // key hash → its sessions' token hashes, oldest first
}

type session struct {
	caller  api.Caller
	key     string // the API key's hash
	expires time.Time
}

// NewSessions returns a session store that checks keys against keyring.
// ttl ≤ 0 means DefaultSessionTTL; perKey ≤ 0 means DefaultSessionsPerKey;
// clock nil means the system clock.
func NewSessions(keyring *roman.Keyring, ttl time.Duration, perKey int, clock roman.Clock) *Sessions {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if perKey <= 0 {
		perKey = DefaultSessionsPerKey
	}
	if clock == nil {
		clock = roman.SystemClock
	}
	return &Sessions{keyring: keyring, now: clock, ttl: ttl, perKey: perKey, m: map[string]*session{}, byKey: map[string][]string{}}
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
	h := tokenHash(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The key's own sessions only: its expired ones go, then, at the cap,
	// its oldest.
	own := s.byKey[k.Hash][:0]
	for _, oh := range s.byKey[k.Hash] {
		if ss, ok := s.m[oh]; ok && now.Before(ss.expires) {
			own = append(own, oh)
		} else {
			delete(s.m, oh)
		}
	}
	for len(own) >= s.perKey {
		delete(s.m, own[0])
		own = own[1:]
	}
	s.byKey[k.Hash] = append(own, h)
	s.m[h] = &session{caller: api.Caller{Name: k.Name, Role: role}, key: k.Hash, expires: expires}
	return token, expires, true
}

// deleteLocked ends the session of token hash h.
func (s *Sessions) deleteLocked(h string) {
	ss, ok := s.m[h]
	if !ok {
		return
	}
	delete(s.m, h)
	own := s.byKey[ss.key]
	for i, oh := range own {
		if oh == h {
			own = append(own[:i:i], own[i+1:]...)
			break
		}
	}
	if len(own) == 0 {
		delete(s.byKey, ss.key)
	} else {
		s.byKey[ss.key] = own
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
		s.deleteLocked(h)
		return api.Caller{}, false
	}
	return ss.caller, true
}

// SignOut ends a session.
func (s *Sessions) SignOut(token string) {
	s.mu.Lock()
	s.deleteLocked(tokenHash(token))
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
