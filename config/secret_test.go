package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/odyssey-1/roman"
)

// secretConfig returns a Config whose every secret holds a value containing
// "SENSITIVE", so a test can look for that word in any output.
func secretConfig(t *testing.T) *Config {
	t.Helper()
	file := `
database: postgres://roman:SENSITIVE-db@db:5432/roman
app_database: postgres://app:SENSITIVE-app@db:5432/app?password=SENSITIVE-q
api_keys:
  - {name: ci, role: deploy, token: SENSITIVE-token-1-0123456789}
discord_webhook_url: https://discord.example/api/webhooks/1/SENSITIVE-discord
slack_webhook_url: https://hooks.slack.example/SENSITIVE-slack
alert_webhook_url: https://alerts.example/SENSITIVE-alert
alert_webhook_secret: SENSITIVE-alert-hmac
discord_bot_token: SENSITIVE-bot
executor: webhook
executor_webhook_url: https://deploy.example/SENSITIVE-hook
executor_webhook_secret: SENSITIVE-hmac
executor_github_token: SENSITIVE-gh
health_sources:
  - {type: probe, url: 'https://user:SENSITIVE-probe@app.example/healthz'}
environments:
  production:
    executor_webhook_url: https://deploy.example/SENSITIVE-prod-hook
    executor_github_token: SENSITIVE-gh-prod
`
	cfg, err := Load(writeFile(t, file), env(map[string]string{"ROMAN_API_KEYS": "admin:SENSITIVE-token-2-0123456789,read:SENSITIVE-token-3-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIKeys[0].Token.Value() != "SENSITIVE-token-2-0123456789" || cfg.Environment("production").Executor.WebhookURL.Value() == "" {
		t.Fatal("secrets not loaded")
	}
	return cfg
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg := secretConfig(t)
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outputs["fmt "+verb] = fmt.Sprintf(verb, cfg)
		outputs["fmt "+verb+" value"] = fmt.Sprintf(verb, *cfg)
		outputs["fmt "+verb+" secret"] = fmt.Sprintf(verb, cfg.Database)
	}
	outputs["fmt Println"] = fmt.Sprintln(cfg, cfg.APIKeys, cfg.Environments)
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)
	r, _ := json.Marshal(cfg.Redacted())
	outputs["Redacted"] = string(r)
	r, _ = json.Marshal(cfg.Environment("production").Redacted())
	outputs["Environment.Redacted"] = string(r)
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("config", "config", cfg, "value", *cfg, "db", cfg.Database, "keys", cfg.APIKeys)
		log.Info("group", slog.Group("g", "env", cfg.Environment("production")))
		outputs["slog "+name] = buf.String()
	}
	for name, out := range outputs {
		if strings.Contains(out, "SENSITIVE") {
			t.Errorf("%s shows a secret:\n%s", name, out)
		}
		if !strings.Contains(out, "[REDACTED]") && !strings.Contains(out, "5b5245444143544544") && !strings.Contains(out, "91 82 69") {
			t.Errorf("%s shows no [REDACTED] marker:\n%s", name, out)
		}
	}
}

func TestRedactedKeepsUsefulFields(t *testing.T) {
	m := secretConfig(t).Redacted()
	want := map[string]any{
		"database":        "postgres://roman:[REDACTED]@db:5432/roman",
		"database_driver": "postgres",
		"listen":          DefaultListen,
		"watch_window":    "5m0s",
		"executor":        "webhook",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("Redacted()[%q] = %v, want %v", k, m[k], v)
		}
	}
	th, ok := m["thresholds"].(map[string]any)
	if !ok || th["error_rate"] != float64(5) {
		t.Errorf("thresholds = %#v", m["thresholds"])
	}
	if m["executor_webhook_secret"] != "[REDACTED]" || m["executor_github_token"] != "[REDACTED]" {
		t.Errorf("secrets not redacted: %v %v", m["executor_webhook_secret"], m["executor_github_token"])
	}
	if _, ok := m["environments"].(map[string]any)["production"]; !ok {
		t.Error("environments missing")
	}
}

func TestSecretValueAndEmpty(t *testing.T) {
	s := roman.Secret("abc")
	if s.Value() != "abc" || !s.IsSet() || s.String() != "[REDACTED]" || fmt.Sprint(s) != "[REDACTED]" {
		t.Errorf("Secret(abc): %q %v %q", s.Value(), s.IsSet(), s.String())
	}
	var empty roman.Secret
	if empty.IsSet() || fmt.Sprint(empty) != "" {
		t.Errorf("empty Secret prints %q", fmt.Sprint(empty))
	}
	if b, _ := json.Marshal(empty); string(b) != `""` {
		t.Errorf("empty Secret JSON = %s", b)
	}
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	tests := []map[string]string{
		{"ROMAN_DATABASE": "mysql://u:SENSITIVE@h/db"},
		{"ROMAN_APP_DATABASE": "oracle://u:SENSITIVE@h/db"},
		{"ROMAN_API_KEYS": "root:SENSITIVE"},
		{"ROMAN_API_KEYS": "SENSITIVE"},
		{"ROMAN_API_KEYS": "read:SENSITIVE-0123456789,admin:SENSITIVE-0123456789"},
		{"ROMAN_DISCORD_WEBHOOK_URL": "SENSITIVE"},
		{"ROMAN_EXECUTOR": "webhook", "ROMAN_EXECUTOR_WEBHOOK_URL": "ftp://SENSITIVE"},
		{"ROMAN_HEALTH_SOURCES": "probe=SENSITIVE"},
	}
	for _, vars := range tests {
		_, err := Load("", env(vars))
		if err == nil {
			t.Errorf("%v: no error", vars)
			continue
		}
		if strings.Contains(err.Error(), "SENSITIVE") {
			t.Errorf("error shows a secret: %v", err)
		}
	}
}
