package notify

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/odyssey-1/roman"
)

// ChannelConfig is where one environment's alerts go: a URL per channel
// (Discord, Slack, the generic webhook) and the routes that pick the alert
// kinds each channel receives. The YAML keys are flat because the config
// package decodes them beside the environment's other settings; each is also
// the variable ROMAN_<KEY>. The zero ChannelConfig, the default, configures
// no channel.
type ChannelConfig struct {
	// DiscordWebhookURL receives alerts as Discord embeds
	// (ROMAN_DISCORD_WEBHOOK_URL).
	DiscordWebhookURL roman.Secret `yaml:"discord_webhook_url" json:"discord_webhook_url"`
	// SlackWebhookURL receives alerts as Slack messages
	// (ROMAN_SLACK_WEBHOOK_URL).
	SlackWebhookURL roman.Secret `yaml:"slack_webhook_url" json:"slack_webhook_url"`
	// WebhookURL receives alerts as generic JSON (ROMAN_ALERT_WEBHOOK_URL).
	WebhookURL roman.Secret `yaml:"alert_webhook_url" json:"alert_webhook_url"`
	// WebhookSecret is the HMAC-SHA256 key signing the generic webhook's
	// alerts (ROMAN_ALERT_WEBHOOK_SECRET); required with WebhookURL.
	WebhookSecret roman.Secret `yaml:"alert_webhook_secret" json:"alert_webhook_secret"`
	// Routes maps a channel (discord, slack, webhook) to the alert kinds it
	// receives, or to [all] (ROMAN_ALERT_ROUTES as
	// "discord=all,slack=rollback_failed|constitutional_violation"). A
	// configured channel that is not listed receives every kind; an empty
	// list mutes it.
	Routes map[string][]string `yaml:"alert_routes" json:"alert_routes"`
}

// Channels lists the channels that have a URL, in the order of
// roman.AlertChannels.
func (c ChannelConfig) Channels() []string {
	var out []string
	if c.DiscordWebhookURL.IsSet() {
		out = append(out, roman.ChannelDiscord)
	}
	if c.SlackWebhookURL.IsSet() {
		out = append(out, roman.ChannelSlack)
	}
	if c.WebhookURL.IsSet() {
		out = append(out, roman.ChannelWebhook)
	}
	return out
}

// Validate checks the URLs' form, that the generic webhook has its signing
// secret, and that the routes name known channels and alert kinds. It
// returns all problems at once, joined, each a *roman.FieldError naming its
// YAML key (alert_routes.<channel> for a route); no message shows a URL or
// a secret.
func (c ChannelConfig) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &roman.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	for _, u := range []struct {
		field string
		url   roman.Secret
	}{
		{"discord_webhook_url", c.DiscordWebhookURL},
		{"slack_webhook_url", c.SlackWebhookURL},
		{"alert_webhook_url", c.WebhookURL},
	} {
		if u.url.IsSet() && !roman.ValidHTTPURL(u.url.Value()) {
			add(u.field, "not an http(s) URL")
		}
	}
	if c.WebhookURL.IsSet() && !c.WebhookSecret.IsSet() {
		add("alert_webhook_secret", "required with alert_webhook_url (alerts are HMAC-signed)")
	}
	channels := make([]string, 0, len(c.Routes))
	for ch := range c.Routes {
		channels = append(channels, ch)
	}
	sort.Strings(channels)
	for _, ch := range channels {
		field := "alert_routes." + ch
		if !slices.Contains(roman.AlertChannels, ch) {
			add(field, "unknown channel %q (want discord, slack or webhook)", ch)
			continue
		}
		for _, k := range c.Routes[ch] {
			if k != "all" && !roman.ValidAlertKind(k) {
				add(field, "unknown alert kind %q (want all or one of %s)", k, strings.Join(roman.AlertKinds, ", "))
			}
		}
	}
	return errors.Join(errs...)
}
