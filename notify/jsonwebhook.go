package notify

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/odyssey-1/roman"
)

// JSONWebhook is a channel that posts each alert, rendered by Render, as one
// JSON body to a webhook URL that is itself a secret, and judges the answer
// with Check. The Discord and Slack channels are JSONWebhooks with their own
// renderers.
type JSONWebhook struct {
	name   string
	url    string
	client *http.Client
	render func(*roman.Alert) any
}

var _ roman.Notifier = (*JSONWebhook)(nil)

// NewJSONWebhook returns the channel name (as errors and String show it)
// posting to webhookURL; a nil client gets one with DefaultTimeout.
func NewJSONWebhook(name, webhookURL string, client *http.Client, render func(*roman.Alert) any) *JSONWebhook {
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	return &JSONWebhook{name: name, url: webhookURL, client: client, render: render}
}

// String never shows the URL.
func (n *JSONWebhook) String() string { return n.name + "(" + RedactURL(n.url) + ")" }

// Notify posts the rendered alert; retry reports whether a failure is worth
// another attempt.
func (n *JSONWebhook) Notify(ctx context.Context, a *roman.Alert) (bool, error) {
	body, err := json.Marshal(n.render(a))
	if err != nil {
		return false, err
	}
	status, h, data, err := PostJSON(ctx, n.client, n.url, body, nil)
	if err != nil {
		return true, err
	}
	return Check(n.name, n.url, status, h, data)
}
