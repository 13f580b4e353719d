package server

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

const (
	adminToken  = "test-admin-token-0123456789"
	deployToken = "test-deploy-token-0123456789"
	readToken   = "test-read-token-0123456789"
)

// startServer runs the whole program in-process on port 0 against the given
// database and returns it, closed when the test ends; extra holds further
// ROMAN_… settings.
func startServer(t testing.TB, database string, extra ...map[string]string) *Server {
	t.Helper()
	return closedAtEnd(t, openServer(t, database, nil, nil, extra...))
}

// openServer runs the whole program in-process on port 0 against database,
// with the test keys, and returns it open: the caller closes it. extra holds
// further ROMAN_… settings (an empty value leaves a default as it is); clock,
// unless nil, is the server's clock; logs, unless nil, gets every log line
// down to debug.
func openServer(t testing.TB, database string, clock roman.Clock, logs io.Writer, extra ...map[string]string) *Server {
	t.Helper()
	env := map[string]string{
		"ROMAN_DATABASE": database,
		"ROMAN_LISTEN":   "127.0.0.1:0",
		// One immediate verification check, so a rollback answers success
		// at once; verify windows are tested on a fake clock in rollback/.
		"ROMAN_VERIFY_WINDOW": "0s",
		"ROMAN_API_KEYS":      "admin:" + adminToken + ",deploy:" + deployToken + ",read:" + readToken,
	}
	for _, e := range extra {
		for k, v := range e {
			env[k] = v
		}
	}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := testkit.Discard()
	if logs != nil {
		logger = testkit.Logger(logs)
	}
	m := &Server{Config: cfg, Clock: clock, Logger: logger, Stdout: io.Discard}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// closedAtEnd closes m when the test ends, failing the test if that fails.
func closedAtEnd(t testing.TB, m *Server) *Server {
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// eachStore runs fn as one subtest per store against a fresh server on it.
func eachStore(t *testing.T, fn func(t *testing.T, m *Server)) {
	t.Helper()
	testkit.EachStore(t, func(t *testing.T, url string) { fn(t, startServer(t, url)) })
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func requireKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Fatalf("%s lacks %q: has %v", what, k, keys(m))
		}
	}
}

// TestSeedScenarioOverHTTP plays the seed's CI flow and manual rollback with
// the seed's own paths and shapes, on both stores.
func TestSeedScenarioOverHTTP(t *testing.T) {
	eachStore(t, func(t *testing.T, m *Server) {
		base := m.URL()
		code, good := testkit.Call(t, "POST", base+"/deployments", deployToken,
			`{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"2025-12-15T13:45:00Z"}`)
		if code != 201 {
			t.Fatalf("record good: %d %v", code, good)
		}
		requireKeys(t, "deployment", good, "id", "deployment_id", "environment", "version", "git_commit", "git_branch", "deployed_by",
			"deployed_at", "status", "rollback_from", "health_check_passed", "health_check_details", "constitutional_validation", "metadata", "completed_at", "rolled_back_at")
		code, bad := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main"}`)
		if code != 201 || bad["status"] != "in_progress" {
			t.Fatalf("record bad: %d %v", code, bad)
		}
		badID := bad["deployment_id"].(string)
		if code, out := testkit.Call(t, "PATCH", base+"/deployments/"+badID, deployToken, `{"status":"success"}`); code != 200 || out["completed_at"] == nil {
			t.Fatalf("complete: %d %v", code, out)
		}
		// The seed's check call, exactly as its quick reference writes it.
		code, chk := testkit.Call(t, "POST", base+"/functions/v1/auto-rollback/check", readToken, `{"deployment_id":"`+badID+`"}`)
		if code != 200 || chk["should_rollback"] != false {
			t.Fatalf("check: %d %v", code, chk)
		}
		requireKeys(t, "check", chk, "should_rollback", "reason", "health")
		requireKeys(t, "health", chk["health"].(map[string]any), "healthy", "status", "error_rate_per_minute", "recent_errors",
			"database_connections", "database_connection_utilization", "active_queries", "p95_response_time_ms", "memory_usage_percent", "timestamp")
		if h := chk["health"].(map[string]any); h["database_connections"] != nil || h["error_rate_per_minute"] != 0.0 {
			t.Fatalf("unmeasured signals must be null, errors zero: %v", h)
		}
		// A read key may not roll back.
		if code, _ := testkit.Call(t, "POST", base+"/auto-rollback", readToken, `{"deployment_id":"`+badID+`","trigger_reason":"x"}`); code != 403 {
			t.Fatalf("read key rollback: %d", code)
		}
		// The seed's manual rollback call.
		code, res := testkit.Call(t, "POST", base+"/functions/v1/auto-rollback", adminToken,
			`{"deployment_id":"`+badID+`","trigger_reason":"Critical bug in payment flow","initiated_by":"0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11"}`)
		if code != 200 || res["success"] != true {
			t.Fatalf("rollback: %d %v", code, res)
		}
		requireKeys(t, "rollback", res, "success", "event_id", "target_deployment", "snapshot_id", "validation")
		target := res["target_deployment"].(map[string]any)
		if target["version"] != "v2.5.2" || target["git_commit"] != "a7f3b29" || target["deployed_at"] != "2025-12-15T13:45:00Z" || target["health_check_passed"] != true {
			t.Fatalf("target: %v", target)
		}
		val := res["validation"].(map[string]any)
		if val["compliant"] != true || len(val["violations"].([]any)) != 0 {
			t.Fatalf("validation: %v", val)
		}
		code, hist := testkit.Call(t, "GET", base+"/auto-rollback/history?limit=10", readToken, "")
		if code != 200 {
			t.Fatalf("history: %d %v", code, hist)
		}
		rbs := hist["rollbacks"].([]any)
		if len(rbs) != 1 {
			t.Fatalf("history: %v", hist)
		}
		ev := rbs[0].(map[string]any)
		requireKeys(t, "history row", ev, "id", "event_id", "deployment_id", "trigger_type", "trigger_reason", "initiated_by", "initiated_at", "status", "rollback_steps", "completed_at")
		if ev["status"] != "success" || ev["trigger_type"] != "manual" || len(ev["rollback_steps"].([]any)) != 8 || ev["initiated_by"] != "0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11" {
			t.Fatalf("history row: %v", ev)
		}
		// Rolling back again names the event that did it.
		code, again := testkit.Call(t, "POST", base+"/auto-rollback", adminToken, `{"deployment_id":"`+badID+`","trigger_reason":"again"}`)
		if code != 409 || again["event_id"] != res["event_id"] {
			t.Fatalf("second rollback: %d %v", code, again)
		}
		// Snapshots: the pre_rollback one exists and diffs against a new one.
		snapID := res["snapshot_id"].(string)
		code, snap := testkit.Call(t, "GET", base+"/snapshots/"+snapID, readToken, "")
		if code != 200 || snap["snapshot_type"] != "pre_rollback" || snap["database_schema_hash"] == "" {
			t.Fatalf("snapshot: %d %v", code, snap)
		}
		code, snap2 := testkit.Call(t, "POST", base+"/deployments/"+badID+"/snapshots", deployToken, `{"snapshot_type":"post_deployment"}`)
		if code != 201 {
			t.Fatalf("create snapshot: %d %v", code, snap2)
		}
		code, diff := testkit.Call(t, "GET", base+"/snapshots/"+snapID+"/diff/"+snap2["snapshot_id"].(string), readToken, "")
		if code != 200 || diff["schema_changed"] != false {
			t.Fatalf("diff: %d %v", code, diff)
		}
		counts := diff["table_count_deltas"].(map[string]any)
		if len(counts) == 0 {
			t.Fatalf("diff has no table counts: %v", diff)
		}
	})
}

// TestRejectionOverHTTP checks the seed's constitutional rejection body.
func TestRejectionOverHTTP(t *testing.T) {
	eachStore(t, func(t *testing.T, m *Server) {
		base := m.URL()
		_, d := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"staging","version":"v1","git_commit":"abc1234","git_branch":"main","status":"success"}`)
		code, out := testkit.Call(t, "POST", base+"/auto-rollback", adminToken, `{"deployment_id":"`+d["deployment_id"].(string)+`","trigger_reason":"broken"}`)
		if code != 422 || out["success"] != false || out["error"] != "Constitutional validation failed" {
			t.Fatalf("rejection: %d %v", code, out)
		}
		v := out["validation"].(map[string]any)
		if v["compliant"] != false || v["violations"].([]any)[0] != "No valid rollback target found" {
			t.Fatalf("validation: %v", v)
		}
		_, got := testkit.Call(t, "GET", base+"/deployments/"+d["deployment_id"].(string), readToken, "")
		if got["status"] != "success" {
			t.Fatalf("a rejected rollback changed the deployment: %v", got)
		}
		_, hist := testkit.Call(t, "GET", base+"/auto-rollback/history", readToken, "")
		if rbs := hist["rollbacks"].([]any); len(rbs) != 1 || rbs[0].(map[string]any)["status"] != "aborted" {
			t.Fatalf("the rejection must be in history as aborted: %v", hist)
		}
	})
}

// TestBadInputChangesNothing sends bad requests and checks 4xx JSON errors
// naming the field, and that nothing was written.
func TestBadInputChangesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, m *Server) {
		base := m.URL()
		for _, tc := range []struct {
			method, path, token, body string
			code                      int
			mention                   string
		}{
			{"POST", "/deployments", "", `{}`, 401, "API key"},
			{"POST", "/deployments", "wrong", `{}`, 401, "API key"},
			{"POST", "/deployments", readToken, `{"environment":"x","version":"1","git_commit":"a","git_branch":"b"}`, 403, "deploy"},
			{"POST", "/deployments", deployToken, `{"environment":`, 400, "JSON"},
			{"POST", "/deployments", deployToken, `{"environment":"production","version":5,"git_commit":"a","git_branch":"b"}`, 400, "version"},
			{"POST", "/deployments", deployToken, `{"environment":"production","git_commit":"a","git_branch":"b"}`, 400, "version"},
			{"POST", "/deployments", deployToken, `{"environment":"Prod!","version":"1","git_commit":"a","git_branch":"b"}`, 400, "environment"},
			{"POST", "/deployments", deployToken, `{"environment":"production","version":"1","git_commit":"a","git_branch":"b","deployment_id":"abc-123"}`, 400, "deployment_id"},
			{"POST", "/deployments", deployToken, `{"environment":"production","version":"1","git_commit":"a","git_branch":"b","status":"done"}`, 400, "status"},
			{"GET", "/deployments/abc-123", readToken, "", 400, "deployment_id"},
			{"GET", "/deployments/0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11", readToken, "", 404, "not found"},
			{"POST", "/auto-rollback", adminToken, `{"deployment_id":"abc-123","trigger_reason":"x"}`, 400, "deployment_id"},
			{"POST", "/auto-rollback", adminToken, `{"deployment_id":"0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11"}`, 400, "trigger_reason"},
			{"POST", "/deployments", deployToken, `{"environment":"production","version":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		} {
			code, out := testkit.Call(t, tc.method, base+tc.path, tc.token, tc.body)
			if code != tc.code || out["success"] != false || !strings.Contains(strings.ToLower(out["error"].(string)), strings.ToLower(tc.mention)) {
				t.Errorf("%s %s %.60s: got %d %v, want %d mentioning %q", tc.method, tc.path, tc.body, code, out, tc.code, tc.mention)
			}
		}
		_, list := testkit.Call(t, "GET", base+"/deployments", readToken, "")
		if n := len(list["deployments"].([]any)); n != 0 {
			t.Fatalf("bad input wrote %d deployments", n)
		}
	})
}
