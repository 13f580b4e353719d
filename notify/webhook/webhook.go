// Package webhook sends alerts as generic JSON to any HTTP endpoint, signed
// with HMAC-SHA256 so the receiver can tell they come from roman.
//
// The request is POST with Content-Type application/json and:
//
//	X-Roman-Event:         the alert's event_id (the same on every retry:
//	                       use it to drop duplicates)
//	X-Roman-Timestamp:     Unix seconds when this attempt was signed
//	X-Roman-Signature-256: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>"
//	                       keyed with alert_webhook_secret>
//
// The body is {"title": ..., "text": ..., "alert": {...roman.Alert}}. The
// signature is package webhooksig's, the same as the webhook executor's; a
// receiver recomputes the HMAC over the timestamp header, a dot and the raw
// body, compares in constant time and refuses old timestamps
// (webhooksig.Verify does all three).
package webhook

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/notify"
	"github.com/odyssey-1/roman/webhooksig"
)

// HeaderEvent carries the alert's event_id. The signature headers are
// webhooksig.HeaderTimestamp and webhooksig.HeaderSignature.
const HeaderEvent = "X-Roman-Event"

// Notifier posts alerts to one URL, signed with a secret key.
type Notifier struct {
	url    string
	secret []byte
	client *http.Client
	now    roman.Clock
}

var _ roman.Notifier = (*Notifier)(nil)

// New returns a notifier; a nil client gets one with notify.DefaultTimeout,
// a nil clock the system clock.
func New(url, secret string, client *http.Client, now roman.Clock) *Notifier {
	if client == nil {
		client = &http.Client{Timeout: notify.DefaultTimeout}
	}
	if now == nil {
		now = roman.SystemClock
	}
	return &Notifier{url: url, secret: []byte(secret), client: client, now: now}
}

// String never shows the URL.
func (n *Notifier) String() string { return "webhook(" + notify.RedactURL(n.url) + ")" }

// Body is what the webhook receives.
type Body struct {
	Title string      `json:"title"`
	Text  string      `json:"text"`
	Alert roman.Alert `json:"alert"`
}

// Notify posts the signed alert.
func (n *Notifier) Notify(ctx context.Context, a *roman.Alert) (bool, error) {
	body, err := json.Marshal(Body{Title: notify.Title(a), Text: notify.Text(a), Alert: *a})
	if err != nil {
		return false, err
	}
	ts := webhooksig.Timestamp(n.now())
	h := http.Header{}
	h.Set(HeaderEvent, a.EventID)
	h.Set(webhooksig.HeaderTimestamp, ts)
	h.Set(webhooksig.HeaderSignature, webhooksig.Sign(n.secret, ts, body))
	status, rh, data, err := notify.PostJSON(ctx, n.client, n.url, body, h)
	if err != nil {
		return true, err
	}
	return notify.Check("webhook", n.url, status, rh, data, string(n.secret))
}
