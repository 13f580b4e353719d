package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAlertChannelsPerEnvironment(t *testing.T) {
	file := `
discord_webhook_url: https://discord.example/api/webhooks/1/all
alert_max_age: 2h
alert_routes:
  slack: [rollback_failed, constitutional_violation]
environments:
  production:
    slack_webhook_url: https://hooks.slack.example/prod
    alert_webhook_url: https://alerts.example/prod
    alert_webhook_secret: hmac-prod
  staging:
    discord_webhook_url: https://discord.example/api/webhooks/2/staging
    alert_routes:
      discord: [all]
      slack: []
`
	cfg, err := Load(writeFile(t, file), env(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AlertMaxAge != 2*time.Hour {
		t.Errorf("alert_max_age = %s", cfg.AlertMaxAge)
	}
	prod, staging, other := cfg.Environment("production"), cfg.Environment("staging"), cfg.Environment("dev")
	if prod.Alerts.DiscordWebhookURL.Value() != "https://discord.example/api/webhooks/1/all" || prod.Alerts.SlackWebhookURL.Value() != "https://hooks.slack.example/prod" {
		t.Errorf("production inherits the default discord URL and has its own slack URL: %s %s", prod.Alerts.DiscordWebhookURL.Value(), prod.Alerts.SlackWebhookURL.Value())
	}
	if prod.Alerts.WebhookSecret.Value() != "hmac-prod" {
		t.Errorf("production webhook secret not loaded")
	}
	if staging.Alerts.DiscordWebhookURL.Value() != "https://discord.example/api/webhooks/2/staging" {
		t.Errorf("staging discord URL = %s", staging.Alerts.DiscordWebhookURL.Value())
	}
	wantProd := map[string][]string{"slack": {"rollback_failed", "constitutional_violation"}}
	if !reflect.DeepEqual(prod.Alerts.Routes, wantProd) || !reflect.DeepEqual(other.Alerts.Routes, wantProd) {
		t.Errorf("inherited routes = %v / %v", prod.Alerts.Routes, other.Alerts.Routes)
	}
	if want := map[string][]string{"discord": {"all"}, "slack": {}}; !reflect.DeepEqual(staging.Alerts.Routes, want) {
		t.Errorf("staging routes = %#v, want %#v", staging.Alerts.Routes, want)
	}
}

func TestAlertRoutesFromEnvironment(t *testing.T) {
	cfg, err := Load("", env(map[string]string{
		"ROMAN_ALERT_ROUTES":         "discord=all, slack=rollback_failed|rollback_suppressed, webhook=",
		"ROMAN_ALERT_WEBHOOK_URL":    "https://alerts.example/x",
		"ROMAN_ALERT_WEBHOOK_SECRET": "k",
		"ROMAN_DISCORD_APPROVERS":    "111, 222=6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01:admin, 333:admin",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"discord": {"all"}, "slack": {"rollback_failed", "rollback_suppressed"}, "webhook": {}}
	if !reflect.DeepEqual(cfg.Alerts.Routes, want) {
		t.Errorf("routes = %#v, want %#v", cfg.Alerts.Routes, want)
	}
	wantApprovers := []DiscordApprover{{ID: "111"}, {ID: "222", UserID: "6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01", Admin: true}, {ID: "333", Admin: true}}
	if !reflect.DeepEqual(cfg.DiscordApprovers, wantApprovers) {
		t.Errorf("approvers = %+v", cfg.DiscordApprovers)
	}
}

func TestApproverAdminInFile(t *testing.T) {
	cfg, err := Load(writeFile(t, `
discord_approvers:
  - {id: "123", user_id: 6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01, admin: true}
  - "456"
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.DiscordApprovers[0].Admin || cfg.DiscordApprovers[1].Admin {
		t.Errorf("approvers = %+v", cfg.DiscordApprovers)
	}
}

func TestAlertConfigValidation(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"webhook without secret", "alert_webhook_url: https://alerts.example/SENSITIVE\n",
			[]string{"alert_webhook_secret (ROMAN_ALERT_WEBHOOK_SECRET): required"}},
		{"not a URL", "environments:\n  production:\n    slack_webhook_url: 'ftp://x/SENSITIVE'\n",
			[]string{"environments.production.slack_webhook_url: not an http(s) URL"}},
		{"unknown channel", "alert_routes:\n  email: [all]\n",
			[]string{`alert_routes.email (ROMAN_ALERT_ROUTES): unknown channel "email"`}},
		{"unknown kind", "alert_routes:\n  discord: [rollback_started]\n",
			[]string{`alert_routes.discord (ROMAN_ALERT_ROUTES): unknown alert kind "rollback_started"`}},
		{"bad max age", "alert_max_age: 0s\n", []string{"alert_max_age (ROMAN_ALERT_MAX_AGE): must be positive"}},
		{"routes not a mapping", "alert_routes: [discord]\n", []string{"alert_routes: want a mapping"}},
		{"unknown approver key", "discord_approvers:\n  - {id: '1', admn: true}\n", []string{`unknown key "admn"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tc.file), env(nil))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "SENSITIVE") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}
