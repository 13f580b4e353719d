package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzDecodeBodies posts arbitrary bytes to every route that takes a JSON
// body, with an admin key so auth never hides the decoder. Whatever the
// bytes, the answer is 2xx or 4xx (never 5xx, never a panic), and a 4xx
// answer leaves the services untouched. Plain `go test` runs only the seed
// corpus; `go test -fuzz FuzzDecodeBodies ./api/` explores further.
func FuzzDecodeBodies(f *testing.F) {
	for _, seed := range []string{
		``, ` `, `{}`, `null`, `[]`, `"x"`, `1`, `{"a":1}`, `{"a":`, `{}{}`, `{} x`, "\xff\xfe",
		`{"environment":"production","version":"v1","git_commit":"abc","git_branch":"main"}`,
		`{"environment":"production","version":"v1","git_commit":"abc","git_branch":"main","metadata":{"a":[1,{"b":null}]},"deployed_at":"2025-12-15T14:00:00Z"}`,
		`{"status":"success","health_check_passed":true,"health_check_details":{"ok":true}}`,
		`{"snapshot_type":"pre_deployment"}`,
		`{"migration_name":"20251215_0001_orders","migration_hash":"sha256:ab","execution_time_ms":42,"rollback_script":"DROP TABLE orders;"}`,
		`{"migration_name":"m","migration_hash":"h","execution_time_ms":-1}`,
		// The seed's own bodies, verbatim (its placeholders included), and
		// error-event batches for the ingest parser.
		`{"deployment_id": "uuid", "trigger_reason": "string", "initiated_by": "uuid"}`,
		`{"deployment_id":"abc-123","trigger_reason":"reason"}`,
		`{"events":[{"message":"TypeError: x is undefined","severity":"error","occurred_at":"2025-12-15T14:35:00Z","fingerprint":"f1"}]}`,
		`{"deployment_id":"` + depID + `","message":"boom"}`, `{"events":[]}`, `{"events":[{}]}`, `{"events":null}`,
		`{"samples":[{"name":"p95_response_time_ms","value":5200}]}`,
		`{"deployment_id":"` + depID + `","trigger_reason":"r","initiated_by":"` + userID + `","with_migrations":true}`,
		`{"deployment_id":"` + depID + `"}`,
		`{"deployment_id":"` + depID + `","deployment_id":"` + depID + `"}`,
		`{"version":1e400}`, `{"health_check_passed":null}`, `{"deployed_at":"2025-13-45T99:00:00Z"}`,
		`{"\u0000":0}`, `{"metadata":{"a":{"b":[[[[1]]]]}}}`,
	} {
		f.Add([]byte(seed))
	}
	fx := newFixture(f)
	fx.quiet()
	h := fx.srv.Handler()
	var routes []Route
	for _, rt := range fx.srv.Routes() {
		if rt.Method == http.MethodPost || rt.Method == http.MethodPatch {
			routes = append(routes, rt)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range routes {
			before := fx.writes.Load()
			req := httptest.NewRequest(rt.Method, fillPath(rt.Path), bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch {
			case rec.Code >= 500:
				t.Fatalf("%s with %q: %d %s", rt.Pattern(), body, rec.Code, rec.Body)
			case rec.Code >= 400 && fx.writes.Load() != before:
				t.Fatalf("%s with %q: %d but a write reached the service", rt.Pattern(), body, rec.Code)
			case rec.Code < 200:
				t.Fatalf("%s with %q: status %d", rt.Pattern(), body, rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%s: Content-Type %q", rt.Pattern(), ct)
			}
		}
	})
}

// FuzzDecodeQuery sends arbitrary query strings to every GET route.
func FuzzDecodeQuery(f *testing.F) {
	for _, seed := range []string{"", "limit=10", "limit=0", "limit=99999999999999999999", "environment=production&status=success",
		"deployment_id=" + depID, "since=2025-12-15T14:00:00Z", "%zz", "a=1&a=2", "limit=1;x", "deployment_id=%00"} {
		f.Add(seed)
	}
	fx := newFixture(f)
	fx.quiet()
	h := fx.srv.Handler()
	f.Fuzz(func(t *testing.T, query string) {
		for _, rt := range fx.srv.Routes() {
			if rt.Method != http.MethodGet {
				continue
			}
			req := httptest.NewRequest(rt.Method, fillPath(rt.Path), nil)
			req.URL.RawQuery = query
			req.Header.Set("Authorization", "Bearer "+adminToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s?%s: %d %s", rt.Pattern(), query, rec.Code, rec.Body)
			}
		}
	})
}
