// Package notifytest holds test helpers for alert notifiers: a sample alert
// (the seed's example) and CheckNoLeak, which drives a notifier through
// every failure mode a channel can have and fails the test if any error
// shows the webhook URL or a piece of it.
package notifytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// SeedAlert is the seed's example alert ("🚨 ROLLBACK INITIATED").
func SeedAlert() *roman.Alert {
	return &roman.Alert{
		Kind: roman.AlertRollbackTriggered, EventID: "4b0c3a8e-9f1d-4e2a-8c7b-6d5e4f3a2b1c",
		RollbackEventID: "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b",
		DeploymentID:    "abc-123", Version: "v2.5.3", Environment: "production",
		Reason: "High error rate (8.5 errors/minute)", Trigger: roman.TriggerAutomatic,
		TargetDeploymentID: "previous-uuid", TargetVersion: "v2.5.2", TargetCommit: "a7f3b29",
		Validation: roman.ValidationApproved,
		At:         time.Date(2025, 12, 15, 14, 3, 0, 0, time.UTC),
	}
}

// SecretPath is the secret part of the URLs CheckNoLeak gives notifiers.
const SecretPath = "/hooks/T0SECRET/B0SECRET/xSECRETTOKENx"

// CheckNoLeak builds a notifier for a URL with newNotifier and makes it fail
// every way a channel can fail: refused connection, an unparsable URL, and
// answers 400, 404, 410, 429 and 500 whose bodies echo the URL back. Every
// error must be non-nil and must not contain the URL, its path or its
// query.
func CheckNoLeak(t *testing.T, newNotifier func(webhookURL string) roman.Notifier) {
	t.Helper()
	var status int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		// A hostile or confused receiver quoting the request back.
		fmt.Fprintf(w, `{"message":"bad request to %s%s","retry_after":0.1}`, r.Host, r.URL.RequestURI())
	}))
	defer srv.Close()
	full := srv.URL + SecretPath + "?token=SECRETQUERY"
	check := func(name, rawURL string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		msg := err.Error() + fmt.Sprintf(" %+v %#v", err, err)
		for _, s := range secretParts(rawURL) {
			if strings.Contains(msg, s) {
				t.Errorf("%s: error leaks %q: %s", name, s, err.Error())
			}
		}
	}
	for _, status = range []int{400, 404, 410, 429, 500} {
		_, err := newNotifier(full).Notify(context.Background(), SeedAlert())
		check(fmt.Sprintf("HTTP %d", status), full, err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	dead := closed.URL + SecretPath
	closed.Close()
	_, err := newNotifier(dead).Notify(context.Background(), SeedAlert())
	check("connection refused", dead, err)
	bad := "http://exa mple.com" + SecretPath
	_, err = newNotifier(bad).Notify(context.Background(), SeedAlert())
	check("invalid URL", bad, err)
}

func secretParts(rawURL string) []string {
	parts := []string{rawURL, "SECRET"}
	if u, err := url.Parse(rawURL); err == nil {
		parts = append(parts, u.Path, u.RawQuery)
	}
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// CheckNoEchoLeak builds a notifier with newNotifier for a URL whose every
// part is a secret (testkit.SecretURL) and the HMAC key secret ("" for a
// channel without one), and makes it fail with answers 400, 404 and 500
// that echo the URL, its userinfo, path tokens and query value and the key
// in every encoding a receiver may use (testkit.EchoBody). No error may
// hold any of them in any of those encodings.
func CheckNoEchoLeak(t *testing.T, secret string, newNotifier func(webhookURL, secret string) roman.Notifier) {
	t.Helper()
	var status int
	var rawURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, testkit.EchoBody(r, testkit.SecretPieces(rawURL, secret)))
	}))
	defer srv.Close()
	rawURL = testkit.SecretURL(srv.URL)
	for _, status = range []int{400, 404, 500} {
		_, err := newNotifier(rawURL, secret).Notify(context.Background(), SeedAlert())
		if err == nil {
			t.Fatalf("HTTP %d: no error", status)
		}
		msg := err.Error() + fmt.Sprintf(" %+v %#v", err, err)
		if leaks := testkit.Leaks(msg, testkit.SecretPieces(rawURL, secret)); len(leaks) > 0 {
			t.Errorf("HTTP %d: the error keeps %q: %s", status, leaks, err)
		}
		if !strings.Contains(err.Error(), "no route for this request") {
			t.Errorf("HTTP %d: the error should still quote the answer: %s", status, err)
		}
	}
}
