// Package slack sends alerts to a Slack incoming webhook as Block Kit
// blocks: a header with the alert's title, a section with the seed's lines,
// the violations and warnings, and a context line. Slack answers 200 with
// the plain-text body "ok"; any other status is a failure, 429 carries
// Retry-After (slack_webhook.md).
package slack

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/notify"
)

// Slack's Block Kit limits: header text 150 characters, section text 3000,
// 50 blocks per message.
const (
	maxHeader  = 150
	maxSection = 3000
)

// New returns the channel posting alerts to one Slack incoming webhook URL, which
// is a secret, rendered by Render; a nil client gets one with
// notify.DefaultTimeout. Slack answers 200 with the body "ok".
func New(webhookURL string, client *http.Client) *notify.JSONWebhook {
	return notify.NewJSONWebhook("slack", webhookURL, client, func(a *roman.Alert) any { return Render(a) })
}

// Message is an incoming-webhook body.
type Message struct {
	// Text is the notification fallback (and what clients without blocks
	// show): the whole alert as plain text.
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks"`
}

// Block is a Block Kit block (header, section or context).
type Block struct {
	Type     string  `json:"type"`
	Text     *Text   `json:"text,omitempty"`
	Elements []*Text `json:"elements,omitempty"`
}

// Text is a Block Kit text object.
type Text struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

// Render is the webhook body for an alert.
func Render(a *roman.Alert) *Message {
	var lines []string
	for _, f := range notify.Fields(a) {
		lines = append(lines, "*"+escape(f.Label)+":* "+escape(f.Value))
	}
	blocks := []Block{
		{Type: "header", Text: &Text{Type: "plain_text", Text: truncate(notify.Title(a), maxHeader)}},
		{Type: "section", Text: &Text{Type: "mrkdwn", Text: truncate(strings.Join(lines, "\n"), maxSection)}},
	}
	for _, list := range []struct {
		title string
		items []string
	}{{"Violations", a.Violations}, {"Warnings", a.Warnings}, {"New errors", notify.NewErrorLines(a)}} {
		if len(list.items) == 0 {
			continue
		}
		text := "*" + list.title + ":*"
		for _, it := range list.items {
			text += "\n• " + escape(it)
		}
		blocks = append(blocks, Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: truncate(text, maxSection)}})
	}
	if c := notify.Closing(a); c != "" {
		blocks = append(blocks, Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: truncate(escape(c), maxSection)}})
	}
	blocks = append(blocks, Block{Type: "context", Elements: []*Text{{Type: "mrkdwn", Text: "R.O.M.A.N. · event " + a.EventID}}})
	return &Message{Text: truncate(escape(notify.Text(a)), 3*maxSection), Blocks: blocks}
}

// escape makes text literal in mrkdwn (Slack's three control characters),
// so a reason cannot mention @channel or forge a link.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most max characters, ending in "…" when cut.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}
