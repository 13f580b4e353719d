package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/notify/notifytest"
	"github.com/odyssey-1/roman/notify/webhook"
	"github.com/odyssey-1/roman/webhooksig"
)

func TestSignedDelivery(t *testing.T) {
	secret := []byte("hmac-key")
	now := time.Date(2025, 12, 15, 14, 3, 0, 0, time.UTC)
	var got struct {
		header http.Header
		body   []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.header, got.body = r.Header.Clone(), mustRead(r)
		// A receiver as the package doc describes it.
		if webhooksig.Verify(secret, r.Header.Get(webhooksig.HeaderSignature), r.Header.Get(webhooksig.HeaderTimestamp), got.body, now, webhooksig.DefaultMaxAge) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	n := webhook.New(srv.URL+"/hook", string(secret), nil, func() time.Time { return now })
	a := notifytest.SeedAlert()
	if retry, err := n.Notify(context.Background(), a); err != nil {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	if got.header.Get(webhook.HeaderEvent) != a.EventID || got.header.Get(webhooksig.HeaderTimestamp) != strconv.FormatInt(now.Unix(), 10) ||
		got.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", got.header)
	}
	var b webhook.Body
	if err := json.Unmarshal(got.body, &b); err != nil || b.Title != "🚨 ROLLBACK INITIATED" || b.Alert.TargetCommit != "a7f3b29" || b.Text == "" {
		t.Errorf("body = %s (%v)", got.body, err)
	}
	// A wrong key, a changed body or an old timestamp do not verify.
	sig, ts := got.header.Get(webhooksig.HeaderSignature), got.header.Get(webhooksig.HeaderTimestamp)
	if webhooksig.Verify([]byte("other"), sig, ts, got.body, now, time.Minute) == nil ||
		webhooksig.Verify(secret, sig, ts, append(got.body, ' '), now, time.Minute) == nil ||
		webhooksig.Verify(secret, sig, ts, got.body, now.Add(10*time.Minute), 5*time.Minute) == nil {
		t.Error("Verify accepted a bad delivery")
	}
	// Only the one signature header is sent.
	if got.header.Get("X-Roman-Signature") != "" {
		t.Errorf("the retired X-Roman-Signature header was sent: %v", got.header)
	}
	// The receiver refusing the signature is a failure not worth retrying.
	bad := webhook.New(srv.URL+"/hook", "wrong-key", nil, func() time.Time { return now })
	if retry, err := bad.Notify(context.Background(), a); err == nil || retry {
		t.Errorf("wrongly signed delivery: %v, %v", retry, err)
	}
}

func mustRead(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}

func TestNoErrorLeaksTheURL(t *testing.T) {
	notifytest.CheckNoLeak(t, func(u string) roman.Notifier { return webhook.New(u, "k", nil, nil) })
}

// TestNoErrorKeepsAnEchoedSecret: a receiver echoing the URL's secrets and
// the HMAC key in every encoding gets none of them into the error, which
// is logged and kept in alert_outbox.last_error and roman_events.
func TestNoErrorKeepsAnEchoedSecret(t *testing.T) {
	notifytest.CheckNoEchoLeak(t, "hmac-Key/with+special=chars&<>", func(u, secret string) roman.Notifier { return webhook.New(u, secret, nil, nil) })
}
