// Package notify delivers alerts. Each channel is a small package
// behind roman.Notifier (notify/discord, notify/slack, notify/webhook); this
// package holds what they share (PostJSON, Check, RedactURL, the alert's
// text) and the Sender, which drains the durable alert_outbox with retries,
// exponential backoff and jitter, honours 429 retry_after, keeps each
// deployment's alerts in order per channel and gives up after a configured
// age with a roman_events row.
//
// Webhook URLs are secrets: no error of this package or its channels
// contains one (see RedactURL), so errors can be logged and stored in
// alert_outbox.last_error.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/retryafter"
	"github.com/odyssey-1/roman/internal/scrub"
)

// DefaultTimeout bounds one delivery attempt when the notifier's client has
// none.
const DefaultTimeout = 10 * time.Second

// maxBody is how much of an answer is read (and at most 200 bytes of it
// quoted in an error).
const maxBody = 64 << 10

// RetryAfterError is a delivery refused with 429: try again after After.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

// Error implements error.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After.Round(time.Millisecond))
}

// Unwrap returns the cause.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the wait a 429 asked for, if err carries one.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.After, true
	}
	return 0, false
}

// RedactURL returns a form of a webhook URL that is safe to show: scheme and
// host only ("https://discord.com/…"). Path, query and credentials are
// where webhook tokens live.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[REDACTED]"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// PostJSON posts body to rawURL with the given extra headers and returns the
// status, the headers and up to 64 KiB of the answer. Its error never
// contains rawURL: a transport error is reported with the redacted URL and
// its cause only.
func PostJSON(ctx context.Context, c *http.Client, rawURL string, body []byte, header http.Header) (int, http.Header, []byte, error) {
	if c == nil {
		c = &http.Client{Timeout: DefaultTimeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("POST %s: invalid URL", RedactURL(rawURL))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "roman/"+roman.Version)
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, fmt.Errorf("POST %s: %s", RedactURL(rawURL), scrub.ForURL(rawURL).Scrub(err.Error()))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // drain for reuse
	return resp.StatusCode, resp.Header, data, nil
}

// Check classifies an answer. 2xx is delivered. 429 is a *RetryAfterError
// (Discord's JSON retry_after in seconds, else the Retry-After header in
// seconds or as an HTTP date, else one second). 408
// and 5xx are worth retrying; any other status is refused for good. The
// error quotes at most 200 bytes of the answer, scrubbed first of rawURL's
// secrets and of the further secrets (the channel's HMAC key) in every
// encoding a receiver may echo them in (package internal/scrub), since the
// error is logged and kept in alert_outbox.last_error and roman_events.
func Check(name, rawURL string, status int, h http.Header, body []byte, secrets ...string) (retry bool, err error) {
	switch {
	case status >= 200 && status < 300:
		return false, nil
	case status == http.StatusTooManyRequests:
		// A Retry-After date is measured from the answer's Date header; the
		// wall clock is only the fallback when the receiver sends none.
		after, ok := retryafter.FromResponse(h, body, time.Now())
		if !ok {
			after = time.Second
		}
		return true, &RetryAfterError{After: after, Err: fmt.Errorf("%s: HTTP 429: rate limited", name)}
	}
	err = fmt.Errorf("%s: HTTP %d: %s", name, status, excerpt(body, scrub.ForURL(rawURL, secrets...)))
	return status == http.StatusRequestTimeout || status >= 500, err
}

// excerpt is a single-line, bounded, scrubbed quote of an answer. The whole
// answer is scrubbed before it is cut, so no secret is left half.
func excerpt(body []byte, s *scrub.Scrubber) string {
	text := strings.Join(strings.Fields(s.Scrub(string(body))), " ")
	if len(text) > 200 {
		text = strings.ToValidUTF8(text[:200], "") + "…"
	}
	if text == "" {
		return "(empty answer)"
	}
	return text
}
