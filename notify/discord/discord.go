// Package discord sends alerts to a Discord channel through an incoming
// webhook (Execute Webhook), as one embed coloured by kind. The embed's
// title and description are the seed's alert text (notify.Title and
// notify.Lines); violations and warnings are fields; everything is fitted to
// Discord's limits (title 256, description 4096, 25 fields of at most 1024,
// 6000 in total) and no text can ping anyone.
package discord

import (
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

// New returns the channel posting alerts to one Discord webhook URL, which
// is a secret, rendered by Render; a nil client gets one with
// notify.DefaultTimeout. Discord answers 204 (or 200 with ?wait=true).
func New(webhookURL string, client *http.Client) *notify.JSONWebhook {
	return notify.NewJSONWebhook("discord", webhookURL, client, func(a *roman.Alert) any { return Render(a) })
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
	for _, l := range notify.NewErrorLines(a) {
		e.Fields = append(e.Fields, api.EmbedField{Name: "New error", Value: l})
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
