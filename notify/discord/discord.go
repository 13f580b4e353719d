// Package discord sends alerts to a Discord channel through an incoming
// webhook (Execute Webhook), as one embed coloured by kind. The embed's
// title and description are the seed's alert text (notify.Title and
// notify.Lines); violations and warnings are fields; everything is fitted to
// Discord's limits (title 256, description 4096, 25 fields of at most 1024,
// 6000 in total) and no text can ping anyone.
package discord

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/odyssey-1/roman"
	api "github.com/odyssey-1/roman/discord"
	"github.com/odyssey-1/roman/notify"
)

// Colours by alert kind.
const (
	ColorTriggered  = 0xF1C40F // yellow: something is happening
	ColorCompleted  = 0x2ECC71 // green
	ColorFailed     = 0xE74C3C // red
	ColorViolation  = 0x992D22 // dark red
	ColorWarning    = 0xE67E22 // orange
	ColorSuppressed = 0x95A5A6 // grey
)

// Notifier posts alerts to one Discord webhook URL, which is a secret.
type Notifier struct {
	url    string
	client *http.Client
}

var _ roman.Notifier = (*Notifier)(nil)

// New returns a notifier for a webhook URL; a nil client gets one with
// notify.DefaultTimeout.
func New(webhookURL string, client *http.Client) *Notifier {
	if client == nil {
		client = &http.Client{Timeout: notify.DefaultTimeout}
	}
	return &Notifier{url: webhookURL, client: client}
}

// String never shows the URL.
func (n *Notifier) String() string { return "discord(" + notify.RedactURL(n.url) + ")" }

// Notify posts the alert. Discord answers 204 (or 200 with ?wait=true).
func (n *Notifier) Notify(ctx context.Context, a *roman.Alert) (bool, error) {
	body, err := json.Marshal(Render(a))
	if err != nil {
		return false, err
	}
	status, h, data, err := notify.PostJSON(ctx, n.client, n.url, body, nil)
	if err != nil {
		return true, err
	}
	return notify.Check("discord", n.url, status, h, data)
}

// Render is the Execute Webhook body for an alert.
func Render(a *roman.Alert) *api.Message {
	e := api.Embed{
		Title:       notify.Title(a),
		Description: notify.Lines(a),
		Color:       Color(a.Kind),
		Footer:      &api.EmbedFooter{Text: "R.O.M.A.N. · event " + a.EventID},
	}
	if c := notify.Closing(a); c != "" {
		e.Description += "\n\n" + c
	}
	if !a.At.IsZero() {
		e.Timestamp = a.At.UTC().Format(time.RFC3339Nano)
	}
	for _, v := range a.Violations {
		e.Fields = append(e.Fields, api.EmbedField{Name: "Violation", Value: v})
	}
	for _, w := range a.Warnings {
		e.Fields = append(e.Fields, api.EmbedField{Name: "Warning", Value: w})
	}
	m := &api.Message{Embeds: []api.Embed{e}, AllowedMentions: api.NoMentions()}
	api.Fit(m)
	return m
}

// Color is the embed colour of an alert kind.
func Color(kind string) int {
	switch kind {
	case roman.AlertRollbackTriggered:
		return ColorTriggered
	case roman.AlertRollbackCompleted:
		return ColorCompleted
	case roman.AlertRollbackFailed:
		return ColorFailed
	case roman.AlertConstitutionalViolation:
		return ColorViolation
	case roman.AlertHealthWarning:
		return ColorWarning
	}
	return ColorSuppressed
}
