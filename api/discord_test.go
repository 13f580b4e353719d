package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/chatops"
	"github.com/odyssey-1/roman/discord"
)

// discordServer serves the API with a Discord bot whose key is generated
// here; now is the bot's clock.
func discordServer(t *testing.T, now time.Time) (*httptest.Server, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bot := &chatops.Bot{Key: pub, Clock: func() time.Time { return now }}
	srv := httptest.NewServer(api.NewServer(api.Config{}, api.Deps{Discord: bot}).Handler())
	t.Cleanup(srv.Close)
	return srv, priv
}

func postInteraction(t *testing.T, url, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/discord/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func signed(key ed25519.PrivateKey, ts time.Time, body string) map[string]string {
	s := strconv.FormatInt(ts.Unix(), 10)
	return map[string]string{
		discord.HeaderTimestamp: s,
		discord.HeaderSignature: hex.EncodeToString(ed25519.Sign(key, []byte(s+body))),
	}
}

// The PING body of Discord's official library tests.
const pingBody = `{"id":"787053080478613555","token":"ThisIsATokenFromDiscordThatIsVeryLong","type":1,"version":1}`

func TestDiscordInteractionsSignature(t *testing.T) {
	now := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	srv, key := discordServer(t, now)
	_, other, _ := ed25519.GenerateKey(rand.Reader)

	status, body := postInteraction(t, srv.URL, pingBody, signed(key, now, pingBody))
	if status != http.StatusOK || strings.TrimSpace(body) != `{"type":1}` {
		t.Fatalf("signed PING: %d %s, want 200 {\"type\":1}", status, body)
	}
	tampered := signed(key, now, pingBody)
	stale := signed(key, now.Add(-6*time.Minute), pingBody)
	future := signed(key, now.Add(6*time.Minute), pingBody)
	for name, h := range map[string]map[string]string{
		"no headers":        nil,
		"no signature":      {discord.HeaderTimestamp: strconv.FormatInt(now.Unix(), 10)},
		"other key":         signed(other, now, pingBody),
		"stale (6 min old)": stale,
		"from the future":   future,
		"garbage signature": {discord.HeaderTimestamp: tampered[discord.HeaderTimestamp], discord.HeaderSignature: "nothex"},
	} {
		status, body := postInteraction(t, srv.URL, pingBody, h)
		if status != http.StatusUnauthorized || !strings.Contains(body, "invalid request signature") {
			t.Errorf("%s: %d %s, want 401 invalid request signature", name, status, body)
		}
	}
	// A valid signature over another body.
	status, _ = postInteraction(t, srv.URL, `{"type":1,"id":"x"}`, tampered)
	if status != http.StatusUnauthorized {
		t.Errorf("body swapped under a valid signature: %d", status)
	}
	// Signed garbage is a 400, never a 5xx.
	for _, b := range []string{"not json", `{"type":"one"}`, ``} {
		status, _ := postInteraction(t, srv.URL, b, signed(key, now, b))
		if status != http.StatusBadRequest {
			t.Errorf("signed %q: %d, want 400", b, status)
		}
	}
}

func TestDiscordInteractionsNotConfigured(t *testing.T) {
	srv := httptest.NewServer(api.NewServer(api.Config{}, api.Deps{}).Handler())
	defer srv.Close()
	status, body := postInteraction(t, srv.URL, pingBody, nil)
	var e struct{ Error string }
	_ = json.Unmarshal([]byte(body), &e)
	if status != http.StatusNotFound || !strings.Contains(e.Error, "discord_public_key") {
		t.Errorf("%d %s", status, body)
	}
}

func TestDiscordInteractionsOpenAPI(t *testing.T) {
	s := api.NewServer(api.Config{}, api.Deps{})
	found := false
	for _, rt := range s.Routes() {
		if rt.Pattern() == "POST /discord/interactions" {
			found = rt.Role == roman.RoleNone && !rt.Undocumented
		}
	}
	if !found {
		t.Error("POST /discord/interactions is not a documented route needing no API key")
	}
	api.MountDashboardStubs(s)
	if err := api.VerifyOpenAPI(api.OpenAPIDocument(), s.Routes()); err != nil {
		t.Error(err)
	}
}
