package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/notify"
	"github.com/odyssey-1/roman/notify/notifytest"
	"github.com/odyssey-1/roman/notify/slack"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestRenderGolden(t *testing.T) {
	a := notifytest.SeedAlert()
	a.Kind, a.Validation = roman.AlertConstitutionalViolation, roman.ValidationRejected
	a.Violations = []string{"Law of Total Coherence violated: Cannot increase entropy when system unstable"}
	a.Reason = "Critical bug <@channel> & friends"
	got, err := json.MarshalIndent(slack.Render(a), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		_ = os.WriteFile("testdata/violation.golden.json", got, 0o644)
	}
	want, err := os.ReadFile("testdata/violation.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("render:\n%s\nwant:\n%s", got, want)
	}
	// mrkdwn control characters are escaped: no @channel, no forged link.
	m := slack.Render(a)
	if s := m.Blocks[1].Text.Text; !strings.Contains(s, "&lt;@channel&gt; &amp; friends") {
		t.Errorf("section not escaped: %s", s)
	}
	if m.Blocks[0].Type != "header" || m.Blocks[0].Text.Text != "🚨 CONSTITUTIONAL VIOLATION: ROLLBACK REJECTED" {
		t.Errorf("header = %+v", m.Blocks[0])
	}
	if !strings.HasPrefix(m.Text, "🚨 CONSTITUTIONAL VIOLATION") || strings.Contains(m.Text, "<@channel>") {
		t.Errorf("fallback text = %q", m.Text)
	}
}

func TestRenderLimits(t *testing.T) {
	a := notifytest.SeedAlert()
	a.Reason = strings.Repeat("x", 10000)
	for _, b := range slack.Render(a).Blocks {
		if b.Text != nil && len([]rune(b.Text.Text)) > 3000 {
			t.Errorf("%s block of %d characters", b.Type, len([]rune(b.Text.Text)))
		}
	}
}

// TestNotifyAgainstSlack answers as slack_webhook.md documents: 200 "ok",
// plain-text error codes, 429 with Retry-After.
func TestNotifyAgainstSlack(t *testing.T) {
	var status int
	var body, retryAfter string
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	n := slack.New(srv.URL+"/services/T1234567/AAAAAAAA/ZZZZZZ", nil)
	tests := []struct {
		status          int
		body, retryAfer string
		ok, retry       bool
		after           time.Duration
	}{
		{200, "ok", "", true, false, 0},
		{400, "invalid_payload", "", false, false, 0},
		{403, "action_prohibited", "", false, false, 0},
		{404, "channel_not_found", "", false, false, 0},
		{404, "no_team", "", false, false, 0},
		{410, "channel_is_archived", "", false, false, 0},
		{500, "rollup_error", "", false, true, 0},
		{429, `{"calls":2}`, "30", false, true, 30 * time.Second},
	}
	for _, tc := range tests {
		status, body, retryAfter = tc.status, tc.body, tc.retryAfer
		retry, err := n.Notify(context.Background(), notifytest.SeedAlert())
		if (err == nil) != tc.ok || retry != tc.retry {
			t.Errorf("%d %s: Notify = %v, %v", tc.status, tc.body, retry, err)
		}
		if err != nil && tc.status != 429 && !strings.Contains(err.Error(), tc.body) {
			t.Errorf("error %q does not name Slack's code %q", err, tc.body)
		}
		if d, _ := notify.RetryAfter(err); d != tc.after {
			t.Errorf("%d: retry after %s", tc.status, d)
		}
		var m slack.Message
		if json.Unmarshal(got, &m) != nil || len(m.Blocks) == 0 || m.Text == "" {
			t.Errorf("posted %s", got)
		}
	}
}

func TestNoErrorLeaksTheURL(t *testing.T) {
	notifytest.CheckNoLeak(t, func(u string) roman.Notifier { return slack.New(u, nil) })
}

// TestNoErrorKeepsAnEchoedSecret: a receiver echoing the URL's secrets in
// every encoding gets none of them into the error, which is logged and
// kept in alert_outbox.last_error and roman_events.
func TestNoErrorKeepsAnEchoedSecret(t *testing.T) {
	notifytest.CheckNoEchoLeak(t, "", func(u, _ string) roman.Notifier { return slack.New(u, nil) })
}
