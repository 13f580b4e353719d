package roman_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
)

func TestUUID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		u := roman.NewUUID()
		if !roman.ValidUUID(u) || seen[u] || u[14] != '4' {
			t.Fatalf("bad uuid %q", u)
		}
		seen[u] = true
	}
	for _, bad := range []string{"", "abc-123", "g0000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-0000000000000", "00000000x0000-4000-8000-000000000000"} {
		if roman.ValidUUID(bad) {
			t.Errorf("ValidUUID(%q) = true", bad)
		}
	}
}

func TestTransitions(t *testing.T) {
	legal := [][2]string{{"pending", "in_progress"}, {"pending", "failed"}, {"in_progress", "success"}, {"in_progress", "failed"},
		{"success", "rolled_back"}, {"failed", "rolled_back"}, {"in_progress", "rolled_back"}}
	for _, p := range legal {
		if !roman.CanTransition(p[0], p[1]) {
			t.Errorf("%s → %s must be legal", p[0], p[1])
		}
	}
	for _, p := range [][2]string{{"pending", "success"}, {"success", "failed"}, {"rolled_back", "success"}, {"failed", "success"}, {"pending", "rolled_back"}, {"success", "success"}} {
		if roman.CanTransition(p[0], p[1]) {
			t.Errorf("%s → %s must be illegal", p[0], p[1])
		}
	}
	msg := roman.TransitionError("success", "pending").Message
	if !strings.Contains(msg, "success") || !strings.Contains(msg, "pending") {
		t.Fatalf("message must name both states: %q", msg)
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	internal := fmt.Errorf("wrapped: %w", errors.New("dial tcp 10.0.0.1: password=hunter2"))
	if roman.ErrorCode(internal) != roman.EINTERNAL || roman.ErrorMessage(internal) != "internal error" {
		t.Fatal("internal errors must not show their text")
	}
	e := fmt.Errorf("ctx: %w", roman.Errorf(roman.ENOTFOUND, "deployment x not found"))
	if roman.ErrorCode(e) != roman.ENOTFOUND || roman.ErrorMessage(e) != "deployment x not found" {
		t.Fatal("code and message must survive wrapping")
	}
}

func TestRedactConfig(t *testing.T) {
	cfg := map[string]any{
		"listen": "127.0.0.1:8080", "DATABASE_DSN": "postgres://u:p@h/db", "api_token": "t", "Password": "p",
		"nested": map[string]any{"client_secret": "s", "region": "eu"}, "list": []any{map[string]any{"aws_access_key": "k"}},
	}
	out := roman.RedactConfig(cfg)
	b, _ := json.Marshal(out)
	for _, leaked := range []string{"postgres://", `"t"`, `"p"`, `"s"`, `"k"`} {
		if strings.Contains(string(b), leaked) {
			t.Fatalf("secret %s leaked: %s", leaked, b)
		}
	}
	if out["listen"] != "127.0.0.1:8080" || out["nested"].(map[string]any)["region"] != "eu" {
		t.Fatalf("non-secrets must stay: %s", b)
	}
	if cfg["api_token"] != "t" {
		t.Fatal("input must not be modified")
	}
}

func TestDiffSnapshots(t *testing.T) {
	a := &roman.Snapshot{SnapshotID: "a", DatabaseSchemaHash: "h1", TableCounts: map[string]int64{"users": 10, "old": 3},
		KeyMetrics: json.RawMessage(`{"error_rate_per_minute": 0, "recent_errors": 2}`), EnvironmentConfig: map[string]any{"x": 1}}
	b := &roman.Snapshot{SnapshotID: "b", DatabaseSchemaHash: "h2", TableCounts: map[string]int64{"users": 14, "new": 1},
		KeyMetrics: json.RawMessage(`{"error_rate_per_minute": 8.5, "recent_errors": 42}`), EnvironmentConfig: map[string]any{"x": 2}}
	d := roman.DiffSnapshots(a, b)
	if !d.SchemaChanged || d.TableCounts["users"] != 4 || d.TableCounts["old"] != -3 || d.TableCounts["new"] != 1 {
		t.Fatalf("diff: %+v", d)
	}
	if len(d.AddedTables) != 1 || d.AddedTables[0] != "new" || len(d.RemovedTables) != 1 || d.RemovedTables[0] != "old" {
		t.Fatalf("tables: %+v", d)
	}
	if d.Metrics["error_rate_per_minute"] != 8.5 || d.Metrics["recent_errors"] != 40 || len(d.ConfigChanged) != 1 {
		t.Fatalf("metrics/config: %+v", d)
	}
	if same := roman.DiffSnapshots(a, a); same.SchemaChanged || same.TableCounts["users"] != 0 {
		t.Fatalf("self diff: %+v", same)
	}
}

func TestKeyring(t *testing.T) {
	k := roman.NewKeyring([]roman.APIKey{{Name: "ci", Role: roman.RoleDeploy, Hash: roman.HashKey("tok-a-0123456789abcdef")}, {Name: "ops", Role: roman.RoleAdmin, Hash: roman.HashKey("tok-b-0123456789abcdef")}})
	if key, ok := k.Lookup("tok-b-0123456789abcdef"); !ok || key.Role != roman.RoleAdmin || key.Name != "ops" {
		t.Fatal("lookup tok-b")
	}
	if _, ok := k.Lookup("tok-c-0123456789abcdef"); ok {
		t.Fatal("unknown token accepted")
	}
	if _, ok := k.Lookup(""); ok {
		t.Fatal("empty token accepted")
	}
	// A short key never matches, even when its hash is stored.
	short := roman.NewKeyring([]roman.APIKey{{Name: "old", Role: roman.RoleAdmin, Hash: roman.HashKey("0123456789abcde")}})
	if _, ok := short.Lookup("0123456789abcde"); ok {
		t.Fatal("a 15-character key was accepted")
	}
	for _, r := range []string{"read", "deploy", "rollback", "admin"} {
		role, ok := roman.ParseRole(r)
		if !ok || role.String() != r {
			t.Fatalf("role %s", r)
		}
	}
	if !(roman.RoleRead < roman.RoleDeploy && roman.RoleDeploy < roman.RoleRollback && roman.RoleRollback < roman.RoleAdmin) {
		t.Fatal("role order")
	}
}
