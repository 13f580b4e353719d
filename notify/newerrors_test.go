package notify_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/notify"
	"github.com/odyssey-1/roman/notify/discord"
	"github.com/odyssey-1/roman/notify/slack"
)

// newErrorsAlert is a health warning about new errors that lists two of
// them, one with a message too long for an alert.
func newErrorsAlert() *roman.Alert {
	return &roman.Alert{Kind: roman.AlertHealthWarning, DeploymentID: "d-1", Version: "v2", Environment: "production",
		Detail: "New errors: 13 events of 2 fingerprints not seen before this release",
		NewErrors: []roman.ErrorGroup{
			{Fingerprint: "3f2a", New: true, Count: 12, Message: "user 7 not found", ErrorType: "KeyError"},
			{Fingerprint: "9b1c", New: true, Count: 1, Message: strings.Repeat("x", 300)},
		}}
}

// TestNewErrorsInEveryChannel: the new errors an alert carries appear in
// the plain text (the webhook's text), as Discord embed fields and as a
// Slack section, each with its message, count and fingerprint.
func TestNewErrorsInEveryChannel(t *testing.T) {
	a := newErrorsAlert()
	lines := notify.NewErrorLines(a)
	if len(lines) != 2 || lines[0] != "KeyError: user 7 not found — 12 events (fingerprint 3f2a)" ||
		!strings.HasSuffix(lines[1], "… — 1 event (fingerprint 9b1c)") || len([]rune(lines[1])) > 240 {
		t.Fatalf("lines = %q", lines)
	}
	if text := notify.Text(a); !strings.Contains(text, "New errors:\n• "+lines[0]+"\n• ") {
		t.Errorf("text:\n%s", text)
	}
	m := discord.Render(a)
	var fields []string
	for _, f := range m.Embeds[0].Fields {
		fields = append(fields, f.Name+"="+f.Value)
	}
	if len(fields) != 2 || fields[0] != "New error="+lines[0] {
		t.Errorf("Discord fields %q", fields)
	}
	raw, _ := json.Marshal(slack.Render(a))
	if !strings.Contains(string(raw), "*New errors:*\\n• KeyError: user 7 not found — 12 events (fingerprint 3f2a)") {
		t.Errorf("Slack body %s", raw)
	}
	if ls := notify.NewErrorLines(&roman.Alert{Kind: roman.AlertHealthWarning}); ls != nil {
		t.Errorf("no new errors: %q", ls)
	}
}
