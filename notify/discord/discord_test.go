package discord_test

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
	api "github.com/odyssey-1/roman/discord"
	"github.com/odyssey-1/roman/notify"
	"github.com/odyssey-1/roman/notify/discord"
	"github.com/odyssey-1/roman/notify/notifytest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestRenderGolden(t *testing.T) {
	dur := 4.2
	seed := notifytest.SeedAlert()
	rejected := *seed
	rejected.Kind, rejected.Validation = roman.AlertConstitutionalViolation, roman.ValidationRejected
	rejected.Violations = []string{"System already stable: error rate 0.2/minute"}
	completed := *seed
	completed.Kind, completed.DurationSeconds = roman.AlertRollbackCompleted, &dur
	for name, a := range map[string]*roman.Alert{"triggered": seed, "violation": &rejected, "completed": &completed} {
		b, err := json.MarshalIndent(discord.Render(a), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name+".golden.json", append(b, '\n'))
	}
	// The embed is the seed's alert: title, then its lines.
	m := discord.Render(seed)
	e := m.Embeds[0]
	if e.Title != "🚨 ROLLBACK INITIATED" || e.Description != strings.TrimPrefix(notify.Text(seed), "🚨 ROLLBACK INITIATED\n\n") {
		t.Errorf("embed title %q description %q", e.Title, e.Description)
	}
	if e.Color != discord.ColorTriggered || discord.Color(roman.AlertRollbackFailed) == e.Color {
		t.Errorf("colour by kind: %x", e.Color)
	}
}

func TestRenderFitsDiscordLimits(t *testing.T) {
	a := notifytest.SeedAlert()
	a.Kind = roman.AlertConstitutionalViolation
	a.Reason = strings.Repeat("reason 🚨 ", 1000)
	for i := 0; i < 40; i++ {
		a.Violations = append(a.Violations, strings.Repeat("violation ", 300))
	}
	m := discord.Render(a)
	e := m.Embeds[0]
	total := api.Length(e.Title) + api.Length(e.Description) + api.Length(e.Footer.Text)
	for _, f := range e.Fields {
		total += api.Length(f.Name) + api.Length(f.Value)
		if api.Length(f.Value) > api.MaxFieldValue {
			t.Errorf("field value %d > 1024", api.Length(f.Value))
		}
	}
	if len(e.Fields) > api.MaxEmbedFields || api.Length(e.Description) > api.MaxEmbedDescription || total > api.MaxEmbedTotal {
		t.Errorf("fields %d, description %d, total %d", len(e.Fields), api.Length(e.Description), total)
	}
	if !strings.HasPrefix(e.Description, "Deployment: v2.5.3 (abc-123)\nEnvironment: production\nReason: reason") {
		t.Errorf("description lost its head: %.80q", e.Description)
	}
}

func TestNotifyAgainstDiscord(t *testing.T) {
	var status int
	var body, header string
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		if header != "" {
			w.Header().Set("Retry-After", header)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	n := discord.New(srv.URL+"/api/webhooks/1/SECRET", nil)
	tests := []struct {
		name          string
		status        int
		body, header  string
		ok, retry     bool
		retryAfter    time.Duration
		wantErrSubstr string
	}{
		{"executed", http.StatusNoContent, "", "", true, false, 0, ""},
		// Discord's documented 429.
		{"rate limited", 429, `{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}`, "65", false, true, 64570 * time.Millisecond, "HTTP 429"},
		{"bad embed", 400, `{"message": "Invalid Form Body", "code": 50035}`, "", false, false, 0, "HTTP 400"},
		{"webhook deleted", 404, `{"message": "Unknown Webhook", "code": 10015}`, "", false, false, 0, "Unknown Webhook"},
		{"outage", 502, "bad gateway", "", false, true, 0, "HTTP 502"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, header = tc.status, tc.body, tc.header
			retry, err := n.Notify(context.Background(), notifytest.SeedAlert())
			if (err == nil) != tc.ok || retry != tc.retry {
				t.Fatalf("Notify = %v, %v", retry, err)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantErrSubstr) {
				t.Errorf("err = %v", err)
			}
			if d, _ := notify.RetryAfter(err); d != tc.retryAfter {
				t.Errorf("retry after %s, want %s", d, tc.retryAfter)
			}
			var m api.Message
			if err := json.Unmarshal(got, &m); err != nil || len(m.Embeds) != 1 || m.AllowedMentions == nil {
				t.Errorf("posted %s", got)
			}
		})
	}
	if strings.Contains(n.String(), "SECRET") {
		t.Errorf("String() = %s", n)
	}
}

func TestNoErrorLeaksTheURL(t *testing.T) {
	notifytest.CheckNoLeak(t, func(u string) roman.Notifier { return discord.New(u, nil) })
}

// TestNoErrorKeepsAnEchoedSecret: a receiver echoing the URL's secrets in
// every encoding gets none of them into the error, which is logged and
// kept in alert_outbox.last_error and roman_events.
func TestNoErrorKeepsAnEchoedSecret(t *testing.T) {
	notifytest.CheckNoEchoLeak(t, "", func(u, _ string) roman.Notifier { return discord.New(u, nil) })
}
