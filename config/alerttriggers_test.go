package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestAlertTriggers: ROMAN_ALERT_TRIGGERS (a comma-separated list) sets
// every environment's alert_triggers; an environment's entry in the file
// replaces it; a list item that is no name is an error.
func TestAlertTriggers(t *testing.T) {
	path := writeFile(t, `
environments:
  production:
    alert_triggers: [HighErrorRate, CheckoutDown]
  staging: {}
`)
	cfg, err := Load(path, env(map[string]string{"ROMAN_ALERT_TRIGGERS": "HighErrorRate, PodCrashLooping,"}))
	if err != nil {
		t.Fatal(err)
	}
	for env, want := range map[string][]string{
		"production": {"HighErrorRate", "CheckoutDown"},
		"staging":    {"HighErrorRate", "PodCrashLooping"},
		"qa":         {"HighErrorRate", "PodCrashLooping"},
	} {
		if got := cfg.Environment(env).AlertTriggers; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: alert_triggers %q, want %q", env, got, want)
		}
	}
	if cfg, err := Load("", env(nil)); err != nil || len(cfg.Environment("production").AlertTriggers) != 0 {
		t.Fatalf("default: %v %v", cfg.Environment("production").AlertTriggers, err)
	}
	// A single value in the file is a comma-separated list, as in the
	// variable.
	if cfg, err := Load(writeFile(t, "alert_triggers: A,B\n"), env(nil)); err != nil || !reflect.DeepEqual(cfg.Environment("x").AlertTriggers, []string{"A", "B"}) {
		t.Fatalf("scalar: %v %v", cfg, err)
	}
	for _, bad := range []string{"alert_triggers: {a: b}\n", "alert_triggers: [\"\"]\n"} {
		if _, err := Load(writeFile(t, bad), env(nil)); err == nil || !strings.Contains(err.Error(), "alert_triggers") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
