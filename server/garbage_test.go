package server

import (
	"context"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/web"
)

// TestGarbageOnEveryRoute posts random and truncated JSON to every route of
// the running server that takes a body, on both stores: only 4xx answers,
// no panic (a 500), and nothing written.
func TestGarbageOnEveryRoute(t *testing.T) {
	eachStore(t, func(t *testing.T, m *Server) {
		base := m.URL()
		_, d := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true}`)
		depID := d["deployment_id"].(string)
		seeds := []string{
			`{"environment":"production","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main"}`,
			`{"deployment_id":"` + depID + `","trigger_reason":"Critical bug in payment flow","initiated_by":"0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11"}`,
			`{"migration_name":"20251215_0001_orders","migration_hash":"sha256:aa","rollback_script":"DROP TABLE orders"}`,
			`{"snapshot_type":"pre_rollback"}`, `{"status":"failed","health_check_passed":true}`,
			`{"events":[{"message":"boom","severity":"error"}]}`, `{"name":"p95","value":12.5}`,
		}
		rng := rand.New(rand.NewPCG(1, 2))
		var bodies []string
		for _, s := range seeds {
			for _, cut := range []int{1, len(s) / 3, len(s) / 2, len(s) - 1} {
				bodies = append(bodies, s[:cut]) // truncated
			}
			b := []byte(s)
			for range 3 { // a few random byte flips
				c := append([]byte(nil), b...)
				for range 3 {
					c[rng.IntN(len(c))] = byte(rng.IntN(256))
				}
				bodies = append(bodies, string(c))
			}
		}
		random := make([]byte, 64)
		for range 5 {
			for i := range random {
				random[i] = byte(rng.IntN(256))
			}
			bodies = append(bodies, string(random))
		}
		// The monitor records that it started watching the deployment on its
		// own goroutine; wait for that row so it is not counted as a change.
		awaitMonitor(t, "the watch_started row", func() bool { return len(romanEvents(t, m, depID, roman.EventWatchStarted)) > 0 })
		before := rowCounts(t, m)
		for _, rt := range m.API.Routes() {
			if rt.Method != http.MethodPost && rt.Method != http.MethodPatch && rt.Method != http.MethodPut || strings.HasPrefix(rt.Path, web.BasePath) {
				continue // GETs take no body; the dashboard's POSTs are HTML forms (sign-in, sign-out), not JSON
			}
			path := strings.NewReplacer("{deployment_id}", depID, "{snapshot_id}", depID, "{other_snapshot_id}", depID).Replace(rt.Path)
			for _, body := range bodies {
				// The body may not be valid UTF-8 or JSON, nor the answer JSON.
				code, out := testkit.CallRaw(t, rt.Method, base+path, adminToken, body)
				if code < 400 || code >= 500 {
					t.Fatalf("%s %s with %q: %d %s", rt.Method, rt.Path, body, code, out)
				}
			}
		}
		if after := rowCounts(t, m); !maps.Equal(after, before) {
			t.Fatalf("garbage changed the store: %v -> %v", before, after)
		}
	})
}

// garbageTables are the rows a request could create. The monitor writes
// roman_events of its own (watch, health and auto-rollback rows) on its own
// goroutine whenever it evaluates, so only the audit rows that API requests
// write are counted; counting every roman_events row made the test flaky.
var garbageTables = []struct{ name, query string }{
	{"deployments", "SELECT count(*) FROM deployments"},
	{"rollback_events", "SELECT count(*) FROM rollback_events"},
	{"migration_history", "SELECT count(*) FROM migration_history"},
	{"system_snapshots", "SELECT count(*) FROM system_snapshots"},
	{"error_events", "SELECT count(*) FROM error_events"},
	{"metric_samples", "SELECT count(*) FROM metric_samples"},
	{"api_keys", "SELECT count(*) FROM api_keys"},
	{"roman_events written by requests", "SELECT count(*) FROM roman_events WHERE event_type IN ('" + strings.Join([]string{
		roman.EventRollbackValidation, roman.EventRollbackStarted, roman.EventRollbackCompleted, roman.EventRollbackFailed,
		roman.EventDeploymentRecorded, roman.EventDeploymentStatus, roman.EventDiscordApproval, roman.EventDiscordRefused,
	}, "','") + "')"},
}

// rowCounts counts the rows of garbageTables; any error fails the test, so a
// broken count can never pass as "nothing changed".
func rowCounts(t *testing.T, m *Server) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	counts := make(map[string]int64, len(garbageTables))
	for _, tb := range garbageTables {
		var n int64
		if err := m.Store.SQL().QueryRowContext(ctx, tb.query).Scan(&n); err != nil {
			t.Fatalf("counting %s: %v", tb.name, err)
		}
		counts[tb.name] = n
	}
	return counts
}
