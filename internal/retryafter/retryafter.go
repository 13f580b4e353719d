// Package retryafter reads how long a server asks roman to wait before it
// calls again, from a 429 or 503 answer. It is the one parser behind every
// outgoing client: the Discord REST client, the alert channels (Discord,
// Slack, the generic webhook) and the webhook executor.
//
// It understands the Retry-After header as integer seconds ("120"),
// fractional seconds ("0.57", which Discord sends) and an HTTP date ("Wed,
// 21 Oct 2015 07:28:00 GMT"), and Discord's JSON body field retry_after
// (seconds, possibly fractional), which Discord documents as the more
// precise of the two.
package retryafter

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxWait bounds every wait this package returns. A server may send any
// number, and a large one would overflow a time.Duration (and turn into a
// negative wait); callers apply their own, smaller limits on top.
const MaxWait = 24 * time.Hour

// Header reads one Retry-After header value: seconds, integer or
// fractional, or an HTTP date, which is measured from now. It reports false
// for an empty, negative, non-finite or unreadable value and for a date that
// is not after now, so that the caller falls back to its own default. A
// fractional wait is rounded to the millisecond; every wait is at most
// MaxWait.
func Header(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return seconds(s)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxWait), true
	}
	return 0, false
}

// FromResponse reads how long an answer asks to wait: the JSON body's
// retry_after (seconds, as Discord sends it) when it is a number of at least
// zero, else the Retry-After header as Header reads it. An HTTP date is
// measured from the answer's own Date header when it has one, which keeps
// the wait right when roman's clock and the server's disagree, and from now
// otherwise. It reports false when the answer names no usable wait.
func FromResponse(h http.Header, body []byte, now time.Time) (time.Duration, bool) {
	var rl struct {
		RetryAfter *float64 `json:"retry_after"`
	}
	if json.Unmarshal(body, &rl) == nil && rl.RetryAfter != nil {
		if d, ok := seconds(*rl.RetryAfter); ok {
			return d, true
		}
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	return Header(h.Get("Retry-After"), now)
}

// seconds converts a number of seconds to a wait rounded to the millisecond
// (64.57 is 64.57s, not 64.569999999s), refusing negative and non-finite
// numbers and clamping to MaxWait.
func seconds(s float64) (time.Duration, bool) {
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
		return 0, false
	}
	if s >= MaxWait.Seconds() {
		return MaxWait, true
	}
	return time.Duration(math.Round(s*1000)) * time.Millisecond, true
}
