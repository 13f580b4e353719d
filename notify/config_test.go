package notify_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/notify"
)

func TestChannelConfig(t *testing.T) {
	var zero notify.ChannelConfig
	if err := zero.Validate(); err != nil || zero.Channels() != nil {
		t.Errorf("the zero config: %v %v", zero.Channels(), err)
	}
	c := notify.ChannelConfig{SlackWebhookURL: "https://hooks.slack.example/x", WebhookURL: "https://alerts.example/x", WebhookSecret: "s"}
	if got, want := c.Channels(), []string{roman.ChannelSlack, roman.ChannelWebhook}; !reflect.DeepEqual(got, want) {
		t.Errorf("Channels() = %v, want %v", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	bad := notify.ChannelConfig{
		DiscordWebhookURL: "ftp://SENSITIVE",
		WebhookURL:        "https://alerts.example/SENSITIVE",
		Routes:            map[string][]string{"email": {"all"}, "slack": {"all", "rollback_started"}},
	}
	err := bad.Validate()
	want := []string{
		"discord_webhook_url: not an http(s) URL",
		"alert_webhook_secret: required with alert_webhook_url",
		`alert_routes.email: unknown channel "email"`,
		`alert_routes.slack: unknown alert kind "rollback_started"`,
	}
	if got := len(roman.FieldErrors(err)); got != len(want) {
		t.Errorf("%d problems, want %d: %v", got, len(want), err)
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not contain %q", err, w)
		}
	}
	if err != nil && strings.Contains(err.Error(), "SENSITIVE") {
		t.Errorf("error shows a secret: %v", err)
	}
}
