package server

import (
	"maps"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestUnstorableTextIsRefused sends otherwise valid bodies whose text the
// databases cannot store (the escape \u0000, which neither text nor jsonb
// holds; an unpaired UTF-16 surrogate escape and invalid UTF-8, which jsonb
// refuses) to every body route, on both stores: each answer is a 400 naming
// the field, never a 500, and nothing is written.
func TestUnstorableTextIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, m *Server) {
		base := m.URL()
		_, d := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true}`)
		dep := d["deployment_id"].(string)
		awaitMonitor(t, "the watch_started row", func() bool { return len(romanEvents(t, m, dep, roman.EventWatchStarted)) > 0 })
		const deploy = `"environment":"production","version":"v9","git_commit":"c","git_branch":"main"`
		for _, tc := range []struct{ method, path, body, field string }{
			{"POST", "/deployments", `{"environment":"production","version":"v\u0000","git_commit":"c","git_branch":"main"}`, "version"},
			{"POST", "/deployments", `{` + deploy + `,"metadata":{"k":"a\u0000b"}}`, "metadata"},
			{"POST", "/deployments", `{` + deploy + `,"metadata":{"k\u0000":1}}`, "metadata"},
			{"POST", "/deployments", `{` + deploy + `,"metadata":{"k":"\ud800"}}`, "metadata"},
			{"POST", "/deployments", `{` + deploy + `,"metadata":{"k":"\udc00\ud800x"}}`, "metadata"},
			{"POST", "/deployments", `{` + deploy + `,"metadata":{"k":"a` + "\xff" + `b"}}`, "metadata"},
			{"PATCH", "/deployments/" + dep, `{"health_check_details":{"why":"\u0000"}}`, "health_check_details"},
			{"POST", "/deployments/" + dep + "/migrations", `{"migration_name":"m1","migration_hash":"h","rollback_script":"DROP TABLE x\u0000"}`, "rollback_script"},
			{"POST", "/deployments/" + dep + "/migrations", `{"migration_name":"m1","migration_hash":"h","metadata":{"a":"\udfff"}}`, "metadata"},
			{"POST", "/auto-rollback", `{"deployment_id":"` + dep + `","trigger_reason":"bug\u0000"}`, "trigger_reason"},
			{"POST", "/functions/v1/auto-rollback/validate", `{"deployment_id":"` + dep + `","trigger_reason":"bug\u0000"}`, "trigger_reason"},
		} {
			before := rowCounts(t, m)
			code, out := testkit.CallRaw(t, tc.method, base+tc.path, adminToken, tc.body)
			if code != 400 || !strings.Contains(string(out), `invalid value for field \"`+tc.field+`\"`) {
				t.Errorf("%s %s %s: %d %s", tc.method, tc.path, tc.body, code, out)
			}
			if after := rowCounts(t, m); !maps.Equal(after, before) {
				t.Errorf("%s %s %s changed the store: %v -> %v", tc.method, tc.path, tc.body, before, after)
			}
		}
		// Escaped backslashes and proper surrogate pairs are text like any
		// other.
		if code, out := testkit.Call(t, "POST", base+"/deployments", deployToken, `{`+deploy+`,"metadata":{"path":"C:\\u0000dir","emoji":"\ud83d\ude00"}}`); code != 201 {
			t.Fatalf("valid escapes: %d %v", code, out)
		}
	})
}
