package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// Caller is the authenticated API key behind a request. Name is the key's
// configured name, never the token, so it is safe for logs and the audit
// trail.
type Caller struct {
	Name string
	Role roman.Role
}

type callerKey struct{}

// WithCaller returns ctx carrying c. The server sets it after
// authentication; other entry points (Discord) may set their own.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller stored by WithCaller.
func CallerFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// errUnauthorized is the one answer to any credential problem, so a caller
// cannot tell a missing header from a wrong key.
func errUnauthorized() error {
	return roman.Errorf(roman.EUNAUTHORIZED, "missing or invalid API key")
}

// authenticate resolves the bearer token (or, without an Authorization
// header, a dashboard session) and checks the caller holds at least the
// role need.
func (s *Server) authenticate(r *http.Request, need roman.Role) (Caller, error) {
	if r.Header.Get("Authorization") == "" && s.deps.Sessions != nil {
		if c, ok := s.deps.Sessions.SessionCaller(r); ok {
			if c.Role < need {
				return c, roman.Errorf(roman.EFORBIDDEN,
					"dashboard session of %q has role %q; this request needs role %q", c.Name, c.Role, need)
			}
			return c, nil
		}
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok || s.deps.Keyring == nil {
		return Caller{}, errUnauthorized()
	}
	// An address that failed too often is refused before its key is looked
	// at: an answer that depended on the key would let guessing go on.
	if wait := s.deps.AuthLimiter.Wait(r); wait > 0 {
		return Caller{}, ErrorTooManyFailures(wait)
	}
	key, ok := s.deps.Keyring.Lookup(token)
	if !ok {
		if s.deps.AuthLimiter.Fail(r) {
			s.logger.Warn("client address refused (429) after repeated failed authentications", "remote", s.deps.AuthLimiter.ClientAddr(r))
		}
		return Caller{}, errUnauthorized()
	}
	c := Caller{Name: key.Name, Role: key.Role}
	if key.Role < need {
		return c, roman.Errorf(roman.EFORBIDDEN,
			"API key %q has role %q; this request needs role %q", key.Name, key.Role, need)
	}
	return c, nil
}

// ErrorTooManyFailures returns the error of a request refused because its
// client address failed to authenticate too often; the server answers it 429
// with a Retry-After of wait (in whole seconds, rounded up).
func ErrorTooManyFailures(wait time.Duration) error {
	return &tooManyFailures{retryAfter: RetryAfterSeconds(wait)}
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header. The scheme is case-insensitive (RFC 9110 §11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
