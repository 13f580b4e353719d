package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/web"
)

// unstorableTexts are raw JSON fragments of text that a store cannot keep:
// the escape \u0000 (neither PostgreSQL's text nor its jsonb holds a NUL
// character, and SQLite would keep it), unpaired UTF-16 surrogate escapes
// and a byte that is not UTF-8 (which the JSON decoder would silently turn
// into U+FFFD).
var unstorableTexts = []string{`\u0000`, `\udfff`, `\ud800x`, "\xff"}

// textRefusal reports whether an error message refuses text for being
// unstorable, rather than for some other rule.
func textRefusal(msg string) bool {
	return strings.Contains(msg, "NUL") || strings.Contains(msg, "UTF-8") || strings.Contains(msg, "surrogate")
}

// TestIngestRefusesUnstorableText posts error events and metric samples
// whose text the stores cannot keep through the running server, on both
// stores: a NUL in a message once stored the event on SQLite and failed the
// whole batch with a 500 on PostgreSQL. Every such body is a 400 naming the
// field, and nothing of the batch is written, not even its valid items.
func TestIngestRefusesUnstorableText(t *testing.T) {
	eachStore(t, func(t *testing.T, m *Server) {
		base := m.URL()
		_, d := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true}`)
		dep := d["deployment_id"].(string)
		awaitMonitor(t, "the watch_started row", func() bool { return len(romanEvents(t, m, dep, roman.EventWatchStarted)) > 0 })
		const good = `{"environment":"production","message":"TypeError: x is undefined","severity":"error","fingerprint":"f1"}`
		const goodSample = `{"environment":"production","name":"p95_latency_ms","value":12.5}`
		for _, bad := range unstorableTexts {
			for _, tc := range []struct {
				path, body string
				want       []string // what the error message names
			}{
				{"/errors", `{"environment":"production","message":"boom ` + bad + `"}`, []string{"message"}},
				{"/errors", `{"environment":"production","message":"boom","fingerprint":"f` + bad + `"}`, []string{"fingerprint"}},
				{"/errors", `{"environment":"production","message":"boom","severity":"` + bad + `"}`, []string{"severity"}},
				{"/errors", `{"environment":"produc` + bad + `tion","message":"boom"}`, []string{"environment"}},
				{"/errors", `{"environment":"production","service":"web` + bad + `","message":"boom"}`, []string{"service"}},
				{"/errors", `{"deployment_id":"` + dep + `","message":"boom","occurred_at":"2025-12-15T14:34:00Z` + bad + `"}`, []string{"occurred_at"}},
				{"/errors", `{"events":[` + good + `,{"deployment_id":"` + dep + `","message":"boom ` + bad + `"}]}`, []string{"events[1]", "message"}},
				{"/errors", `{"events":[` + good + `,` + good + `,{"environment":"production","message":"boom","fingerprint":"` + bad + `"}]}`, []string{"events[2]", "fingerprint"}},
				{"/errors", `{"events":[{"environment":"production","message":"boom","severity":"err` + bad + `or"},` + good + `]}`, []string{"events[0]", "severity"}},
				{"/metrics/samples", `{"environment":"production","name":"p95` + bad + `","value":1}`, []string{"name"}},
				{"/metrics/samples", `{"environment":"production` + bad + `","name":"p95","value":1}`, []string{"environment"}},
				{"/metrics/samples", `{"samples":[` + goodSample + `,{"environment":"production","name":"` + bad + `","value":1}]}`, []string{"samples[1]", "name"}},
			} {
				before := rowCounts(t, m)
				code, out := testkit.CallRaw(t, "POST", base+tc.path, deployToken, tc.body)
				var e struct{ Error string }
				_ = json.Unmarshal(out, &e)
				if code != http.StatusBadRequest || !textRefusal(e.Error) {
					t.Errorf("POST %s %q: %d %s, want 400 refusing the text", tc.path, tc.body, code, out)
				}
				for _, w := range tc.want {
					if !strings.Contains(e.Error, w) {
						t.Errorf("POST %s %q: %q does not name %s", tc.path, tc.body, e.Error, w)
					}
				}
				if after := rowCounts(t, m); !maps.Equal(after, before) {
					t.Errorf("POST %s %q changed the store: %v -> %v", tc.path, tc.body, before, after)
				}
			}
		}
		// Escaped backslashes, surrogate pairs and other text are kept as
		// sent.
		msg := `C:\u0000dir \ud83d\ude00 é \u00e9`
		if code, out := testkit.Call(t, "POST", base+"/errors", deployToken, `{"events":[`+good+`,{"environment":"production","message":"C:\\u0000dir \ud83d\ude00 é \u00e9"}]}`); code != 200 {
			t.Fatalf("valid text: %d %v", code, out)
		}
		var got string
		if err := m.Store.SQL().QueryRow("SELECT message FROM error_events WHERE message LIKE 'C:%'").Scan(&got); err != nil || got != "C:\\u0000dir \U0001F600 é é" {
			t.Fatalf("stored %q (%v), sent %s", got, err, msg)
		}
	})
}

// TestUnstorableTextInEveryStringField walks every POST, PATCH and PUT
// route of the route table with a valid body and, for each string in it (a
// value, or a key of a free-form object such as metadata), sends the body
// with unstorable text in that one string, on both stores: each answer is a
// 400 that refuses the text and names the field, and nothing is written.
// A route without a valid body here fails the test, so a new route is
// walked too.
func TestUnstorableTextInEveryStringField(t *testing.T) {
	eachStore(t, func(t *testing.T, m *Server) {
		base := m.URL()
		_, d := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true}`)
		dep := d["deployment_id"].(string)
		awaitMonitor(t, "the watch_started row", func() bool { return len(romanEvents(t, m, dep, roman.EventWatchStarted)) > 0 })
		rollback := map[string]any{"deployment_id": dep, "trigger_reason": "Critical bug in payment flow",
			"initiated_by": "0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11", "trigger_type": "manual"}
		check := map[string]any{"deployment_id": dep}
		bodies := map[string]map[string]any{
			"POST /deployments": {"service": "web", "environment": "staging", "version": "v9", "git_commit": "c0ffee",
				"git_branch": "main", "deployed_by": "0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11", "status": "success", "deployed_at": "2025-12-15T14:30:00Z",
				"metadata": map[string]any{"pr": "1234", "tags": []any{"a", "b"}, "nested": map[string]any{"k": "v"}}},
			"PATCH /deployments/{deployment_id}": {"status": "success",
				"health_check_details": map[string]any{"why": "ok", "checks": []any{"db"}}},
			"POST /deployments/{deployment_id}/snapshots": {"snapshot_type": "pre_deployment"},
			"POST /deployments/{deployment_id}/migrations": {"migration_name": "20251215_0001_orders", "migration_hash": "sha256:aa",
				"rollback_script": "DROP TABLE orders", "applied_at": "2025-12-15T14:30:00Z", "error_message": "none",
				"metadata": map[string]any{"tool": "goose"}},
			"POST /auto-rollback":          rollback,
			"POST /auto-rollback/validate": rollback,
			"POST /auto-rollback/check":    check,
			"POST /errors": {"events": []any{
				map[string]any{"deployment_id": dep, "occurred_at": "2025-12-15T14:34:00Z", "message": "TypeError", "severity": "error", "fingerprint": "f1"},
				map[string]any{"service": "default", "environment": "production", "message": "boom"},
			}},
			"POST /metrics/samples": {"samples": []any{
				map[string]any{"deployment_id": dep, "name": "p95_latency_ms", "value": 12.5, "at": "2025-12-15T14:34:00Z"},
				map[string]any{"service": "default", "environment": "production", "name": "error_rate", "value": 0.1},
			}},
			"POST /integrations/alertmanager": {"version": "4", "status": "firing", "receiver": "roman", "groupKey": "{}:{}",
				"externalURL": "http://alertmanager.invalid", "groupLabels": map[string]any{"alertname": "HighErrorRate"},
				"alerts": []any{map[string]any{"status": "firing", "fingerprint": "15620aa453614b8b", "startsAt": "2025-12-15T14:30:00Z",
					"labels":      map[string]any{"alertname": "HighErrorRate", "environment": "production"},
					"annotations": map[string]any{"summary": "Error rate above 5%"}}}},
		}
		// The single-item forms of the ingest routes are the bodies of
		// routes of their own here.
		singleErrors := bodies["POST /errors"]["events"].([]any)[0].(map[string]any)
		singleSample := bodies["POST /metrics/samples"]["samples"].([]any)[0].(map[string]any)
		freeForm := map[string]bool{"metadata": true, "health_check_details": true}

		before := rowCounts(t, m)
		walked := 0
		for _, rt := range m.API.Routes() {
			if rt.Method != http.MethodPost && rt.Method != http.MethodPatch && rt.Method != http.MethodPut || strings.HasPrefix(rt.Path, web.BasePath) {
				continue // the dashboard's POSTs are HTML forms (sign-in, sign-out)
			}
			switch rt.Path {
			case "/discord/interactions":
				// Discord's interactions are signed by Discord and answered in
				// its protocol (a reply, not a 400); an unsigned one is 401.
				continue
			case "/integrations/sentry", "/v1/logs", "/v1/traces":
				// Sentry's webhooks (signed by Sentry) and OTLP exports carry
				// text another tool wrote: it is made storable (invalid UTF-8
				// becomes U+FFFD, NUL is removed; internal/intake) rather
				// than losing a whole export for one character.
				continue
			}
			key := rt.Method + " " + strings.TrimPrefix(rt.Path, "/functions/v1")
			body, ok := bodies[key]
			if !ok {
				t.Errorf("%s %s: no valid body to walk; add one", rt.Method, rt.Path)
				continue
			}
			path := strings.ReplaceAll(rt.Path, "{deployment_id}", dep)
			forms := []map[string]any{body}
			switch key {
			case "POST /errors":
				forms = append(forms, singleErrors)
			case "POST /metrics/samples":
				forms = append(forms, singleSample)
			}
			for _, form := range forms {
				for _, s := range stringsOf(form, nil, freeForm) {
					for _, bad := range unstorableTexts {
						walked++
						raw := s.mark(form, bad)
						code, out := testkit.CallRaw(t, rt.Method, base+path, adminToken, raw)
						var e struct{ Error string }
						_ = json.Unmarshal(out, &e)
						if code != http.StatusBadRequest || !textRefusal(e.Error) {
							t.Errorf("%s %s %s: %d %s, want 400 refusing the text", rt.Method, rt.Path, raw, code, out)
							continue
						}
						for _, w := range s.names {
							if !strings.Contains(e.Error, w) {
								t.Errorf("%s %s %s: %q does not name %s", rt.Method, rt.Path, raw, e.Error, w)
							}
						}
					}
				}
			}
		}
		if after := rowCounts(t, m); !maps.Equal(after, before) {
			t.Fatalf("unstorable text changed the store: %v -> %v", before, after)
		}
		if walked < 100 {
			t.Fatalf("only %d bodies walked", walked)
		}
		// The bodies are valid as they are, so each 400 above was the text's.
		// The rollback itself takes the body /auto-rollback/validate accepts,
		// and is not run here.
		keys := slices.Collect(maps.Keys(bodies))
		sort.Strings(keys)
		for _, key := range keys {
			if key == "POST /auto-rollback" {
				continue
			}
			method, path, _ := strings.Cut(key, " ")
			raw, _ := json.Marshal(bodies[key])
			if code, out := testkit.CallRaw(t, method, base+strings.ReplaceAll(path, "{deployment_id}", dep), adminToken, string(raw)); code >= 300 {
				t.Errorf("%s %s: %d %s", key, raw, code, out)
			}
		}
	})
}

// stringAt is one string of a body: where it is, whether it is an object
// key, and what a refusal of it must name.
type stringAt struct {
	path  []any // keys (string) and indexes (int) from the top
	key   bool
	names []string
}

// stringsOf lists the strings of v, found at path. Keys are listed inside
// the free-form objects only: elsewhere they are field names.
func stringsOf(v any, path []any, freeForm map[string]bool) []stringAt {
	var out []stringAt
	at := func(p []any) []any { return append(slices.Clip(path), p...) }
	switch v := v.(type) {
	case string:
		out = append(out, stringAt{path: path, names: namesOf(path)})
	case []any:
		for i, x := range v {
			out = append(out, stringsOf(x, at([]any{i}), freeForm)...)
		}
	case map[string]any:
		free := len(path) > 0 && freeForm[path[0].(string)]
		for k, x := range v {
			if free {
				out = append(out, stringAt{path: at([]any{k}), key: true, names: namesOf(path)})
			}
			out = append(out, stringsOf(x, at([]any{k}), freeForm)...)
		}
	}
	return out
}

// namesOf is what a refusal of the string at path must name: the top-level
// field, or, in an item of an ingest batch, the item and its field.
func namesOf(path []any) []string {
	if len(path) >= 3 {
		if i, ok := path[1].(int); ok && (path[0] == "events" || path[0] == "samples") {
			return []string{fmt.Sprintf("%s[%d]", path[0], i), strconv.Quote(path[2].(string))}
		}
	}
	return []string{strconv.Quote(path[0].(string))}
}

// mark returns body as JSON with the raw fragment bad added to the string
// at s. The string is marked with a control character that nothing else in
// the bodies holds, and its JSON escape is replaced by bad.
func (s stringAt) mark(body map[string]any, bad string) string {
	var walk func(v any, path []any) any
	walk = func(v any, path []any) any {
		if len(path) == 0 {
			return v.(string) + "\x01"
		}
		switch v := v.(type) {
		case []any:
			c := slices.Clone(v)
			i := path[0].(int)
			c[i] = walk(c[i], path[1:])
			return c
		case map[string]any:
			c := maps.Clone(v)
			k := path[0].(string)
			if s.key && len(path) == 1 {
				c[k+"\x01"] = c[k]
				delete(c, k)
				return c
			}
			c[k] = walk(c[k], path[1:])
			return c
		}
		panic("no string there")
	}
	raw, err := json.Marshal(walk(body, s.path))
	if err != nil {
		panic(err)
	}
	return strings.Replace(string(raw), `\u0001`, bad, 1)
}
