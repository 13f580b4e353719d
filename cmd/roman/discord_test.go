package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/odyssey-1/roman/chatops"
	"github.com/odyssey-1/roman/discord"
)

// fakeDiscordCommands is Discord's bulk-overwrite endpoint: it checks the
// bot token, stores the commands and answers them back with ids, as
// Discord does.
type fakeDiscordCommands struct {
	mu     sync.Mutex
	puts   []string // "path body"
	stored json.RawMessage
}

func (f *fakeDiscordCommands) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bot SENSITIVE-bot-token" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message": "401: Unauthorized", "code": 0}`)
		return
	}
	if r.Method != http.MethodPut {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var cmds []map[string]any
	if err := json.Unmarshal(body, &cmds); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"message": "Invalid Form Body", "code": 50035}`)
		return
	}
	for i := range cmds {
		cmds[i]["id"] = "12345678901234567" + string(rune('0'+i))
		cmds[i]["application_id"] = "42"
		cmds[i]["version"] = "1"
	}
	out, _ := json.Marshal(cmds)
	f.mu.Lock()
	f.puts = append(f.puts, r.URL.Path+" "+string(body))
	f.stored = out
	f.mu.Unlock()
	w.Write(out)
}

// shapeKeys collects the keys of the objects of a command list: those of
// the commands themselves ("command") and those of options at any depth
// ("option"; choices excluded), so two lists can be compared by shape.
func shapeKeys(v any, level string, out map[string]map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if out[level] == nil {
			out[level] = map[string]bool{}
		}
		for k, c := range x {
			out[level][k] = true
			if k == "options" {
				shapeKeys(c, "option", out)
			}
		}
	case []any:
		for _, c := range x {
			shapeKeys(c, level, out)
		}
	}
}

func TestDiscordRegister(t *testing.T) {
	fake := &fakeDiscordCommands{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	t.Setenv("ROMAN_DISCORD_API_URL", srv.URL+"/api/v10")
	t.Setenv("ROMAN_DISCORD_APPLICATION_ID", "42")
	t.Setenv("ROMAN_DISCORD_BOT_TOKEN", "SENSITIVE-bot-token")

	out, _, err := cliRun(t, "discord", "register")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Registered 2 commands globally for Discord application 42") ||
		!strings.Contains(out, "/approve rollback") || !strings.Contains(out, "/help rollback") {
		t.Errorf("output:\n%s", out)
	}
	// Idempotent: a second run sends the same body and leaves the same set.
	if _, _, err := cliRun(t, "discord", "register"); err != nil {
		t.Fatal(err)
	}
	if len(fake.puts) != 2 || fake.puts[0] != fake.puts[1] {
		t.Fatalf("PUTs = %v", fake.puts)
	}
	path, body, _ := strings.Cut(fake.puts[0], " ")
	if path != "/api/v10/applications/42/commands" {
		t.Errorf("PUT %s", path)
	}
	// The body has the shape of Discord's own bulk-overwrite example: a list
	// of commands whose objects, and whose options at any depth, use only
	// keys the example uses for commands and options.
	example, err := os.ReadFile("../../chatops/testdata/discord_commands_put_example.json")
	if err != nil {
		t.Fatal(err)
	}
	var ex, got any
	_ = json.Unmarshal(example, &ex)
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.([]any); !ok {
		t.Fatalf("body is not a JSON array: %s", body)
	}
	exKeys, gotKeys := map[string]map[string]bool{}, map[string]map[string]bool{}
	shapeKeys(ex, "command", exKeys)
	shapeKeys(got, "command", gotKeys)
	for level, keys := range gotKeys {
		for k := range keys {
			if !exKeys[level][k] && k != "type" {
				var have []string
				for x := range exKeys[level] {
					have = append(have, x)
				}
				sort.Strings(have)
				t.Errorf("%s key %q; Discord's example has %v", level, k, have)
			}
		}
	}
	if !gotKeys["option"]["required"] || !gotKeys["option"]["options"] {
		t.Errorf("options lack required or nesting: %v", gotKeys["option"])
	}
	var cmds []discord.Command
	_ = json.Unmarshal([]byte(body), &cmds)
	if !reflect.DeepEqual(cmds, chatops.Commands()) {
		t.Errorf("registered %+v", cmds)
	}

	// --guild and --output json.
	out, _, err = cliRun(t, "discord", "register", "--guild", "290926798626357999", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(fake.puts[2], "/api/v10/applications/42/guilds/290926798626357999/commands ") {
		t.Errorf("guild PUT %s", fake.puts[2][:80])
	}
	var stored []map[string]any
	if err := json.Unmarshal([]byte(out), &stored); err != nil || len(stored) != 2 || stored[0]["id"] == nil {
		t.Errorf("json output %s (%v)", out, err)
	}
}

func TestDiscordRegisterFailures(t *testing.T) {
	fake := &fakeDiscordCommands{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	t.Setenv("ROMAN_DISCORD_API_URL", srv.URL)
	_, _, err := cliRun(t, "discord", "register")
	if err == nil || !strings.Contains(err.Error(), "discord_application_id (ROMAN_DISCORD_APPLICATION_ID) and discord_bot_token (ROMAN_DISCORD_BOT_TOKEN)") {
		t.Errorf("without settings: %v", err)
	}
	t.Setenv("ROMAN_DISCORD_APPLICATION_ID", "42")
	t.Setenv("ROMAN_DISCORD_BOT_TOKEN", "SENSITIVE-wrong-token")
	_, _, err = cliRun(t, "discord", "register") // cliRun fails the test if the token is printed
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("wrong token: %v", err)
	}
	if len(fake.puts) != 0 {
		t.Error("commands stored with a wrong token")
	}
}
