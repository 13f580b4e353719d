package chatops_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/odyssey-1/roman/chatops"
	"github.com/odyssey-1/roman/discord"
)

// keyShape is the set of JSON keys at each path of a document, with arrays
// merged, so two documents can be compared by shape.
func keyShape(v any, path string, out map[string]map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if out[path] == nil {
			out[path] = map[string]bool{}
		}
		for k, c := range x {
			out[path][k] = true
			keyShape(c, path+"."+k, out)
		}
	case []any:
		for _, c := range x {
			keyShape(c, path+"[]", out)
		}
	}
}

// TestCommandsMatchDiscordShape checks the registered commands against the
// official bulk-overwrite example: the same keys at each level (ours use a
// subset), the documented option types, and Discord's name and description
// rules.
func TestCommandsMatchDiscordShape(t *testing.T) {
	raw, err := os.ReadFile("testdata/discord_commands_put_example.json")
	if err != nil {
		t.Fatal(err)
	}
	var example any
	if err := json.Unmarshal(raw, &example); err != nil {
		t.Fatal(err)
	}
	ours, _ := json.Marshal(chatops.Commands())
	var got any
	_ = json.Unmarshal(ours, &got)
	// Keys of top-level commands, and of options at any depth, must be
	// keys Discord's example uses at the same kind of level.
	want, have := map[string]map[string]bool{}, map[string]map[string]bool{}
	keyShape(example, "", want)
	keyShape(got, "", have)
	level := func(path string) string {
		if path == "[]" {
			return "command"
		}
		return "option"
	}
	allowed := map[string]map[string]bool{"command": {"type": true}, "option": {}}
	for path, keys := range want {
		if strings.HasSuffix(path, "[]") && !strings.Contains(path, "choices") {
			for k := range keys {
				allowed[level(path)][k] = true
			}
		}
	}
	for path, keys := range have {
		for k := range keys {
			if !allowed[level(path)][k] {
				t.Errorf("key %q at %s is not a key Discord's example uses there", k, path)
			}
		}
	}
	nameRE := regexp.MustCompile(`^[-_'\p{L}\p{N}]{1,32}$`)
	var walk func(opts []discord.CommandOption, depth int)
	walk = func(opts []discord.CommandOption, depth int) {
		if len(opts) > 25 {
			t.Errorf("%d options > 25", len(opts))
		}
		for _, o := range opts {
			if !nameRE.MatchString(o.Name) || o.Name != strings.ToLower(o.Name) || len(o.Description) < 1 || len(o.Description) > 100 {
				t.Errorf("option %q: bad name or description (%d chars)", o.Name, len(o.Description))
			}
			if o.Type < discord.OptionSubCommand || o.Type > discord.OptionAttachment {
				t.Errorf("option %q: type %d", o.Name, o.Type)
			}
			if o.Type == discord.OptionSubCommand && depth > 1 {
				t.Errorf("subcommand %q nested too deep", o.Name)
			}
			walk(o.Options, depth+1)
		}
	}
	for _, c := range chatops.Commands() {
		if !nameRE.MatchString(c.Name) || len(c.Description) < 1 || len(c.Description) > 100 {
			t.Errorf("command %q: bad name or description", c.Name)
		}
		walk(c.Options, 1)
	}
	// The documented /approve rollback options, in order.
	opts := chatops.Commands()[0].Options[0].Options
	var names []string
	for _, o := range opts {
		names = append(names, o.Name+":"+strconv.Itoa(o.Type)+":"+strconv.FormatBool(o.Required))
	}
	if got := strings.Join(names, ","); got != "deployment_id:3:true,reason:3:true,override:5:false" {
		t.Errorf("/approve rollback options = %s", got)
	}
}
