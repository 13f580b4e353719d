package api

import (
	"context"
	"net/http"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sentry"
)

// SentryReceiver verifies and acts on Sentry integration webhooks;
// *sentry.Receiver implements it.
type SentryReceiver interface {
	// Configured reports whether a client secret is set.
	Configured() bool
	// Verify checks the Sentry-Hook-Signature of a raw body.
	Verify(signature string, body []byte) error
	// Receive acts on a verified, decoded webhook.
	Receive(ctx context.Context, p *sentry.Payload, d sentry.Defaults) (*sentry.Result, error)
}

// SentryResponse answers a webhook: what it did, or why it was ignored.
type SentryResponse struct {
	Success bool `json:"success"`
	sentry.Result
}

// sentryWebhook serves POST /integrations/sentry. It needs no API key: the
// body must carry Sentry's HMAC-SHA256 signature under the integration's
// client secret. The body (at most sentry.MaxBodyBytes) is read before the
// signature is checked; a missing, malformed or wrong signature gets 401
// before anything is parsed. Without a client secret configured the route
// answers 404 saying so.
func (s *Server) sentryWebhook(w http.ResponseWriter, r *http.Request) error {
	sr := s.deps.Sentry
	if sr == nil || !sr.Configured() {
		return roman.Errorf(roman.ENOTFOUND, "the Sentry integration is not configured (set sentry.client_secret or ROMAN_SENTRY_CLIENT_SECRET)")
	}
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	if err := sr.Verify(r.Header.Get(sentry.HeaderSignature), body); err != nil {
		s.logger.InfoContext(r.Context(), "refused a Sentry webhook", "reason", err.Error())
		return roman.Errorf(roman.EUNAUTHORIZED, "invalid %s", sentry.HeaderSignature)
	}
	q, err := queryParams(r, "environment", "service")
	if err != nil {
		return err
	}
	p, err := sentry.Decode(r.Header.Get(sentry.HeaderResource), body)
	if err != nil {
		return err
	}
	res, err := sr.Receive(r.Context(), p, sentry.Defaults{Environment: q.Get("environment"), Service: q.Get("service")})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, SentryResponse{Success: true, Result: *res})
}
