package config

import "github.com/odyssey-1/roman"

// SentryConfig configures the Sentry integration.
type SentryConfig struct {
	// ClientSecret is the Sentry internal integration's client secret
	// (sentry.client_secret, ROMAN_SENTRY_CLIENT_SECRET): webhooks must
	// carry its HMAC-SHA256 of their body. Empty disables
	// POST /integrations/sentry (404).
	ClientSecret roman.Secret `yaml:"client_secret" json:"client_secret"`
}

// sentrySettings are the keys of the sentry mapping.
func sentrySettings() []setting[*SentryConfig] {
	return []setting[*SentryConfig]{
		// The variable is ROMAN_SENTRY_CLIENT_SECRET (globalSettings).
		{key: "client_secret", set: func(c *SentryConfig, v string) error { c.ClientSecret = roman.Secret(v); return nil }},
	}
}
