package server

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestShortKeysRefusedAtStart starts the server with a one-character key,
// as an operator in a hurry might: it must refuse to start and say how to
// make a good key, however the configuration was built. A short key that is
// already stored (only its hash is kept, so its length cannot be checked at
// start) never authenticates.
func TestShortKeysRefusedAtStart(t *testing.T) {
	database := testkit.SQLiteURL(t)
	env := map[string]string{"ROMAN_DATABASE": database, "ROMAN_LISTEN": "127.0.0.1:0", "ROMAN_API_KEYS": "admin:x"}
	_, err := config.Load("", func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "openssl rand -hex 32") || strings.Contains(err.Error(), "admin:x") {
		t.Fatalf("loading a one-character key: %v, want a refusal saying how to make a good key", err)
	}

	// A configuration built in code, not loaded, is refused too.
	env["ROMAN_API_KEYS"] = "admin:" + adminToken
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIKeys = append(cfg.APIKeys, config.APIKey{Name: "quick", Role: "admin", Token: roman.Secret("x")})
	m := &Server{Config: cfg, Logger: testkit.Discard(), Stdout: io.Discard}
	if err := m.Open(context.Background()); err == nil {
		m.Close()
		t.Fatal("the server started with a one-character key")
	} else if !strings.Contains(err.Error(), "openssl rand -hex 32") {
		t.Fatalf("refusal does not say how to make a good key: %v", err)
	}

	// A short key stored by an older version: its hash is in api_keys.
	m = openServer(t, database, nil, nil)
	const stored = "abc"
	if err := m.Store.CreateAPIKey(context.Background(), &roman.APIKey{Name: "legacy", Role: roman.RoleAdmin, Hash: roman.HashKey(stored)}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = startServer(t, database)
	if code, out := testkit.Call(t, "GET", m.URL()+"/deployments", stored, ""); code != 401 {
		t.Fatalf("a stored three-character key: %d %v, want 401", code, out)
	}
	if code, _ := testkit.Call(t, "GET", m.URL()+"/deployments", readToken, ""); code != 200 {
		t.Fatalf("a good key: %d", code)
	}
}
