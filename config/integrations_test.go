package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestSentryClientSecret: the Sentry client secret comes from the file's
// sentry mapping or ROMAN_SENTRY_CLIENT_SECRET (which wins), and never
// prints.
func TestSentryClientSecret(t *testing.T) {
	const secret = "generated-sentry-secret-7f3a1c"
	cfg, err := Load(writeFile(t, "sentry:\n  client_secret: "+secret+"\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sentry.ClientSecret.Value() != secret {
		t.Fatalf("file: %q", cfg.Sentry.ClientSecret.Value())
	}
	cfg, err = Load(writeFile(t, "sentry:\n  client_secret: from-file\n"), env(map[string]string{"ROMAN_SENTRY_CLIENT_SECRET": secret}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sentry.ClientSecret.Value() != secret {
		t.Fatalf("env: %q", cfg.Sentry.ClientSecret.Value())
	}
	raw, _ := json.Marshal(cfg.Redacted())
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), string(raw)} {
		if strings.Contains(out, secret) {
			t.Fatalf("the secret printed: %s", out)
		}
	}
	if _, err := Load(writeFile(t, "sentry:\n  secret: x\n"), env(nil)); err == nil || !strings.Contains(err.Error(), `unknown key "secret" in sentry`) {
		t.Fatalf("typo: %v", err)
	}
	if cfg, err := Load("", env(nil)); err != nil || cfg.Sentry.ClientSecret.IsSet() {
		t.Fatalf("default: %v", err)
	}
}
