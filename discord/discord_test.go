package discord

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Unix(1_750_000_000, 0)
	body := []byte(`{"type":1}`)
	sign := func(k ed25519.PrivateKey, ts string, b []byte) string {
		return hex.EncodeToString(ed25519.Sign(k, append([]byte(ts), b...)))
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	tests := []struct {
		name, sig, ts string
		body          []byte
		at            time.Time
		ok            bool
	}{
		{"valid", sign(priv, ts, body), ts, body, now, true},
		{"valid, 4 minutes old", sign(priv, ts, body), ts, body, now.Add(4 * time.Minute), true},
		{"stale, 6 minutes old", sign(priv, ts, body), ts, body, now.Add(6 * time.Minute), false},
		{"from the future", sign(priv, ts, body), ts, body, now.Add(-6 * time.Minute), false},
		{"other key", sign(other, ts, body), ts, body, now, false},
		{"body changed", sign(priv, ts, body), ts, []byte(`{"type":2}`), now, false},
		{"timestamp changed", sign(priv, ts, body), strconv.FormatInt(now.Unix()+1, 10), body, now, false},
		{"missing signature", "", ts, body, now, false},
		{"missing timestamp", sign(priv, ts, body), "", body, now, false},
		{"not hex", "zz" + sign(priv, ts, body)[2:], ts, body, now, false},
		{"short", sign(priv, ts, body)[:10], ts, body, now, false},
		{"timestamp not a number", sign(priv, "abc", body), "abc", body, now, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(pub, tc.sig, tc.ts, tc.body, tc.at)
			if (err == nil) != tc.ok {
				t.Errorf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := ParsePublicKey(hex.EncodeToString(pub)); err != nil {
		t.Error(err)
	}
	if _, err := ParsePublicKey("abcd"); err == nil {
		t.Error("ParsePublicKey accepted a short key")
	}
}

func TestTruncateCountsUTF16(t *testing.T) {
	if got := Length("🚨 ab"); got != 5 { // the emoji is a surrogate pair
		t.Errorf("Length = %d, want 5", got)
	}
	if got := Truncate("  hello  ", 5); got != "hello" {
		t.Errorf("trimmed text within the limit changed: %q", got)
	}
	got := Truncate("🚨🚨🚨🚨", 5)
	if Length(got) > 5 || got != "🚨🚨…" {
		t.Errorf("Truncate = %q (%d units), want %q", got, Length(got), "🚨🚨…")
	}
}

// checkLimits fails when m breaks a Discord limit.
func checkLimits(t *testing.T, m *Message) {
	t.Helper()
	if Length(m.Content) > MaxContent || len(m.Embeds) > MaxEmbeds {
		t.Errorf("content %d, embeds %d", Length(m.Content), len(m.Embeds))
	}
	for _, e := range m.Embeds {
		if Length(e.Title) > MaxEmbedTitle || Length(e.Description) > MaxEmbedDescription || len(e.Fields) > MaxEmbedFields {
			t.Errorf("title %d, description %d, fields %d", Length(e.Title), Length(e.Description), len(e.Fields))
		}
		if e.Footer != nil && Length(e.Footer.Text) > MaxFooterText {
			t.Errorf("footer %d", Length(e.Footer.Text))
		}
		for _, f := range e.Fields {
			if Length(f.Name) > MaxFieldName || Length(f.Value) > MaxFieldValue || f.Name == "" || f.Value == "" {
				t.Errorf("field name %d, value %d", Length(f.Name), Length(f.Value))
			}
		}
	}
	if n := total(m.Embeds); n > MaxEmbedTotal {
		t.Errorf("embed total %d > %d", n, MaxEmbedTotal)
	}
}

func TestFitMeetsEveryLimit(t *testing.T) {
	long := strings.Repeat("é🚨x", 3000)
	var fields []EmbedField
	for i := 0; i < 40; i++ {
		fields = append(fields, EmbedField{Name: long, Value: long})
	}
	fields = append(fields, EmbedField{Name: "", Value: ""})
	m := &Message{Content: long, Embeds: []Embed{{Title: long, Description: long, Footer: &EmbedFooter{Text: long}, Fields: fields}}}
	Fit(m)
	checkLimits(t, m)
	e := m.Embeds[0]
	if !strings.HasSuffix(e.Title, "…") || !strings.HasSuffix(m.Content, "…") {
		t.Error("cut text does not end in an ellipsis")
	}
	if last := e.Fields[len(e.Fields)-1]; last.Name != "More" || !strings.HasSuffix(last.Value, "more not shown") {
		t.Errorf("dropped fields are not noted: %+v", last)
	}

	// A message within the limits is left alone.
	small := &Message{Embeds: []Embed{{Title: "t", Description: "d", Fields: []EmbedField{{Name: "n", Value: "v"}}}}}
	want := *small
	want.Embeds = append([]Embed(nil), small.Embeds...)
	Fit(small)
	if !reflect.DeepEqual(small, &want) {
		t.Errorf("Fit changed a small message: %+v", small)
	}
}

// fakeAPI is an httptest Discord REST API recording requests.
type fakeAPI struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []fakeReq
	// answer, when set, chooses the status and body of a request.
	answer func(n int, r *http.Request) (int, http.Header, string)
}

type fakeReq struct {
	Method, Path, Auth string
	Body               []byte
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, fakeReq{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), b})
		n := len(f.reqs)
		answer := f.answer
		f.mu.Unlock()
		status, h, body := http.StatusOK, http.Header{}, `{"id":"1","content":""}`
		if answer != nil {
			status, h, body = answer(n, r)
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

func TestClientEditOriginalHonours429(t *testing.T) {
	api := newFakeAPI(t)
	api.answer = func(n int, r *http.Request) (int, http.Header, string) {
		if n == 1 { // Discord's documented 429 body
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}},
				`{"message": "You are being rate limited.", "retry_after": 0.57, "global": false}`
		}
		return http.StatusOK, nil, `{"id":"1"}`
	}
	var slept []time.Duration
	c := &Client{BaseURL: api.URL, Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	token := "SECRET-interaction-token"
	if err := c.EditOriginal(context.Background(), "42", token, &Message{Content: "hello @everyone"}); err != nil {
		t.Fatal(err)
	}
	reqs := api.requests()
	if len(reqs) != 2 || reqs[1].Method != http.MethodPatch || reqs[1].Path != "/webhooks/42/"+token+"/messages/@original" {
		t.Fatalf("requests = %+v", reqs)
	}
	if len(slept) != 1 || slept[0] != 570*time.Millisecond {
		t.Errorf("waited %v, want the body's retry_after 0.57s", slept)
	}
	var body map[string]any
	_ = json.Unmarshal(reqs[1].Body, &body)
	if am, _ := body["allowed_mentions"].(map[string]any); am == nil || len(am["parse"].([]any)) != 0 {
		t.Errorf("edit may ping: %s", reqs[1].Body)
	}

	// A failure names neither the token nor the URL.
	api.answer = func(int, *http.Request) (int, http.Header, string) {
		return http.StatusNotFound, nil, `{"message": "Unknown Webhook", "code": 10015}`
	}
	err := c.EditOriginal(context.Background(), "42", token, &Message{Content: "x"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 404: Unknown Webhook (code 10015)") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), api.URL) {
		t.Errorf("error leaks the token or URL: %v", err)
	}
	api.Close()
	err = c.EditOriginal(context.Background(), "42", token, &Message{Content: "x"})
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("transport error = %v", err)
	}
}

// testCommands is a small command list for the REST client to send: two
// CHAT_INPUT commands, one with a subcommand and options.
func testCommands() []Command {
	return []Command{
		{Name: "approve", Type: 1, Description: "Approve", Options: []CommandOption{{
			Type: OptionSubCommand, Name: "rollback", Description: "Roll back",
			Options: []CommandOption{{Type: OptionString, Name: "reason", Description: "Why", Required: true}},
		}}},
		{Name: "help", Type: 1, Description: "Help"},
	}
}

func TestClientBulkOverwrite(t *testing.T) {
	api := newFakeAPI(t)
	api.answer = func(n int, r *http.Request) (int, http.Header, string) {
		b, _ := json.Marshal(testCommands())
		return http.StatusOK, nil, string(b)
	}
	c := &Client{BaseURL: api.URL + "/", BotToken: "SECRET-bot"}
	got, err := c.BulkOverwriteCommands(context.Background(), "42", "", testCommands())
	if err != nil {
		t.Fatal(err)
	}
	r := api.requests()[0]
	if r.Method != http.MethodPut || r.Path != "/applications/42/commands" || r.Auth != "Bot SECRET-bot" {
		t.Errorf("request = %s %s auth %q", r.Method, r.Path, r.Auth)
	}
	var sent []Command
	if err := json.Unmarshal(r.Body, &sent); err != nil || !reflect.DeepEqual(sent, testCommands()) {
		t.Errorf("body = %s (%v)", r.Body, err)
	}
	if len(got) != 2 {
		t.Errorf("returned %d commands", len(got))
	}
	api.answer = func(int, *http.Request) (int, http.Header, string) {
		return http.StatusUnauthorized, nil, `{"message": "401: Unauthorized", "code": 0}`
	}
	_, err = c.BulkOverwriteCommands(context.Background(), "42", "", testCommands())
	if err == nil || strings.Contains(err.Error(), "SECRET-bot") {
		t.Errorf("err = %v", err)
	}
}

func TestFixturesParse(t *testing.T) {
	for _, name := range []string{"discord_interaction_command.json", "discord_interaction_ping.json"} {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var in Interaction
		if err := json.Unmarshal(raw, &in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if in.Token == "" || in.ID == "" {
			t.Errorf("%s: %+v", name, in)
		}
	}
	raw, _ := os.ReadFile("testdata/discord_interaction_command.json")
	var in Interaction
	_ = json.Unmarshal(raw, &in)
	u, roles := in.Invoker()
	if u.ID != "53908232506183680" || !reflect.DeepEqual(roles, []string{"539082325061836999"}) || in.Data.Options[0].String() != "The Gitrog Monster" {
		t.Errorf("command fixture read as %+v %v %+v", u, roles, in.Data)
	}
}
