// Package webhooksig is the one signature scheme of roman's outgoing
// webhooks: the webhook executor (executor/webhook.go) and the alert webhook
// (notify/webhook) both sign with it, and a receiver written in Go can
// verify with it. It is a public package, not an internal one, for that
// reason.
//
// Every signed request carries two headers:
//
//	X-Roman-Timestamp:     Unix seconds when the attempt was signed
//	X-Roman-Signature-256: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
//
// The HMAC is keyed with the shared secret and computed over the timestamp
// header's value, a dot and the raw request body, byte for byte. Signing the
// timestamp lets a receiver refuse a replayed request as well as a forged
// one.
package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a signed request. No other signature header is sent.
const (
	HeaderSignature = "X-Roman-Signature-256"
	HeaderTimestamp = "X-Roman-Timestamp"
)

// prefix names the hash in the signature header's value, so that another
// hash could be added later without a new header.
const prefix = "sha256="

// DefaultMaxAge is how far from now a receiver should accept a timestamp, in
// either direction: enough for clock skew and retries in flight, short
// enough that a captured request cannot be replayed later.
const DefaultMaxAge = 5 * time.Minute

// Timestamp formats t as the X-Roman-Timestamp value (Unix seconds).
func Timestamp(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// Sign returns the X-Roman-Signature-256 value of body sent with the given
// X-Roman-Timestamp value: "sha256=" and the hexadecimal HMAC-SHA256, keyed
// with secret, of timestamp + "." + body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return prefix + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a received request: signature and timestamp are the values
// of its X-Roman-Signature-256 and X-Roman-Timestamp headers and body its
// raw body. The signature must match in constant time and the timestamp be
// within maxAge of now (either way). The error says which check failed, for
// the receiver's logs; a receiver should answer every failure the same way.
func Verify(secret []byte, signature, timestamp string, body []byte, now time.Time, maxAge time.Duration) error {
	if signature == "" || timestamp == "" {
		return errors.New("webhooksig: missing signature or timestamp header")
	}
	if !strings.HasPrefix(signature, prefix) {
		return errors.New("webhooksig: signature does not start with sha256=")
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhooksig: malformed timestamp")
	}
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, timestamp, body))) {
		return errors.New("webhooksig: signature does not match")
	}
	if age := now.Sub(time.Unix(secs, 0)); age > maxAge || age < -maxAge {
		return fmt.Errorf("webhooksig: stale timestamp (%s from now)", age.Round(time.Second))
	}
	return nil
}
