package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
)

const validDeploy = `"environment":"production","version":"v1","git_commit":"abc","git_branch":"main"`

// TestValidation sends bad input to every route that takes some and checks
// the answer is a 4xx naming the field, and that nothing was written.
func TestValidation(t *testing.T) {
	dep := "/deployments/" + depID
	tests := []struct {
		name, method, path, token, body string
		status                          int
		want                            string // substring of the error message
	}{
		// Body shape.
		{"empty body", "POST", "/deployments", deployToken, "", 400, "request body is required"},
		{"blank body", "POST", "/deployments", deployToken, " \n\t", 400, "request body is required"},
		{"malformed", "POST", "/deployments", deployToken, `{"environment":`, 400, "malformed JSON"},
		{"bad token", "POST", "/deployments", deployToken, `{"environment" x}`, 400, "malformed JSON at byte"},
		{"trailing comma", "POST", "/deployments", deployToken, `{` + validDeploy + `,}`, 400, "malformed JSON"},
		{"deep nesting", "POST", "/deployments", deployToken, `{"metadata":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, 400, "malformed JSON"},
		{"trailing object", "POST", "/deployments", deployToken, `{` + validDeploy + `}{}`, 400, "unexpected data after the JSON object"},
		{"trailing garbage", "POST", "/deployments", deployToken, `{` + validDeploy + `} x`, 400, "unexpected data after the JSON object"},
		{"null body", "POST", "/deployments", deployToken, `null`, 400, "must be a JSON object"},
		{"array body", "POST", "/deployments", deployToken, `[]`, 400, "must be a JSON object"},
		{"string body", "POST", "/deployments", deployToken, `"x"`, 400, "must be a JSON object"},
		{"unknown field", "POST", "/deployments", deployToken, `{` + validDeploy + `,"colour":"red"}`, 400, `unknown field "colour"`},
		{"field case", "POST", "/deployments", deployToken, `{` + validDeploy + `,"Version":"v2"}`, 400, `unknown field "Version"`},
		{"duplicate field", "POST", "/deployments", deployToken, `{` + validDeploy + `,"version":"v2"}`, 400, `duplicate field "version"`},
		// Types.
		{"version number", "POST", "/deployments", deployToken, `{"environment":"production","version":1,"git_commit":"abc","git_branch":"main"}`, 400, `invalid value for field "version": expected string`},
		{"environment object", "POST", "/deployments", deployToken, `{"environment":{},"version":"1","git_commit":"abc","git_branch":"main"}`, 400, `invalid value for field "environment": expected string`},
		{"health bool string", "POST", "/deployments", deployToken, `{` + validDeploy + `,"health_check_passed":"yes"}`, 400, `invalid value for field "health_check_passed": expected boolean`},
		{"deployed_at text", "POST", "/deployments", deployToken, `{` + validDeploy + `,"deployed_at":"yesterday"}`, 400, `invalid value for field "deployed_at": expected RFC 3339 timestamp`},
		{"deployed_at number", "POST", "/deployments", deployToken, `{` + validDeploy + `,"deployed_at":5}`, 400, `invalid value for field "deployed_at"`},
		{"deployed_at year -1", "POST", "/deployments", deployToken, `{` + validDeploy + `,"deployed_at":"0000-01-01T00:00:00+01:00"}`, 400, `invalid value for field "deployed_at": before 1970`},
		{"deployed_at year 10000", "POST", "/deployments", deployToken, `{` + validDeploy + `,"deployed_at":"9999-12-31T23:00:00-02:00"}`, 400, `invalid value for field "deployed_at": after year 9999`},
		// Rules.
		{"missing all", "POST", "/deployments", deployToken, `{}`, 400, `missing required fields "environment", "version", "git_commit", "git_branch"`},
		{"missing one", "POST", "/deployments", deployToken, `{"environment":"production","version":"1","git_commit":"abc"}`, 400, `missing required field "git_branch"`},
		{"null required", "POST", "/deployments", deployToken, `{"environment":"production","version":null,"git_commit":"abc","git_branch":"main"}`, 400, `missing required field "version"`},
		{"bad environment", "POST", "/deployments", deployToken, `{"environment":"Prod!","version":"1","git_commit":"abc","git_branch":"main"}`, 400, `invalid value for field "environment"`},
		{"long version", "POST", "/deployments", deployToken, `{"environment":"production","version":"` + strings.Repeat("v", 257) + `","git_commit":"abc","git_branch":"main"}`, 400, `invalid value for field "version": longer than 256`},
		{"bad status", "POST", "/deployments", deployToken, `{` + validDeploy + `,"status":"done"}`, 400, `invalid value for field "status"`},
		{"bad deployed_by", "POST", "/deployments", deployToken, `{` + validDeploy + `,"deployed_by":"bob"}`, 400, `invalid value for field "deployed_by": must be a UUID`},
		{"bad deployment_id", "POST", "/deployments", deployToken, `{` + validDeploy + `,"deployment_id":"abc-123"}`, 400, `invalid value for field "deployment_id": must be a UUID`},
		{"metadata array", "POST", "/deployments", deployToken, `{` + validDeploy + `,"metadata":[1]}`, 400, `invalid value for field "metadata": expected object`},
		{"query on POST", "POST", "/deployments?dry_run=1", deployToken, `{` + validDeploy + `}`, 400, `unknown query parameter "dry_run"`},

		{"patch empty", "PATCH", dep, deployToken, `{}`, 400, "at least one of"},
		{"patch null details only", "PATCH", dep, deployToken, `{"health_check_details":null}`, 400, "at least one of"},
		{"patch bad status", "PATCH", dep, deployToken, `{"status":"ok"}`, 400, `invalid value for field "status"`},
		{"patch rolled_back", "PATCH", dep, deployToken, `{"status":"rolled_back"}`, 400, `invalid value for field "status": a deployment is rolled back through POST /auto-rollback`},
		{"patch status type", "PATCH", dep, deployToken, `{"status":true}`, 400, `invalid value for field "status": expected string`},
		{"patch details", "PATCH", dep, deployToken, `{"health_check_details":"fine"}`, 400, `invalid value for field "health_check_details": expected object`},
		{"patch bad path", "PATCH", "/deployments/abc", deployToken, `{"status":"success"}`, 400, `path parameter "deployment_id": must be a UUID`},
		{"patch unknown", "PATCH", dep, deployToken, `{"completed_at":"2025-01-01T00:00:00Z"}`, 400, `unknown field "completed_at"`},

		{"snapshot missing", "POST", dep + "/snapshots", deployToken, `{}`, 400, `missing required field "snapshot_type"`},
		{"snapshot bad type", "POST", dep + "/snapshots", deployToken, `{"snapshot_type":"nightly"}`, 400, `invalid value for field "snapshot_type"`},
		{"snapshot bad path", "POST", "/deployments/x/snapshots", deployToken, `{"snapshot_type":"pre_rollback"}`, 400, `path parameter "deployment_id"`},

		{"rollback missing", "POST", "/auto-rollback", rollbackToken, `{"deployment_id":"` + depID + `"}`, 400, `missing required field "trigger_reason"`},
		{"rollback reason blank", "POST", "/auto-rollback", rollbackToken, `{"deployment_id":"` + depID + `","trigger_reason":"  "}`, 400, `missing required field "trigger_reason"`},
		{"rollback bad id", "POST", "/auto-rollback", rollbackToken, `{"deployment_id":"abc-123","trigger_reason":"r"}`, 400, `invalid value for field "deployment_id": must be a UUID`},
		{"rollback bad initiated_by", "POST", "/auto-rollback", rollbackToken, `{"deployment_id":"` + depID + `","trigger_reason":"r","initiated_by":"user-uuid-here"}`, 400, `invalid value for field "initiated_by": must be a UUID`},
		{"rollback reason type", "POST", "/auto-rollback", rollbackToken, `{"deployment_id":"` + depID + `","trigger_reason":5}`, 400, `invalid value for field "trigger_reason": expected string`},
		{"rollback migrations type", "POST", "/auto-rollback", rollbackToken, `{"deployment_id":"` + depID + `","trigger_reason":"r","with_migrations":"yes"}`, 400, `invalid value for field "with_migrations": expected boolean`},
		{"rollback override type", "POST", "/auto-rollback", adminToken, `{"deployment_id":"` + depID + `","trigger_reason":"r","override":"true"}`, 400, `invalid value for field "override": expected boolean`},
		{"rollback typo", "POST", "/auto-rollback", rollbackToken, `{"deployment_id":"` + depID + `","trigger_reason":"r","with_migration":true}`, 400, `unknown field "with_migration"`},
		{"rollback caller", "POST", "/auto-rollback", rollbackToken, `{"deployment_id":"` + depID + `","trigger_reason":"r","Admin":true}`, 400, `unknown field "Admin"`},
		{"rollback trigger", "POST", "/auto-rollback", rollbackToken, `{"deployment_id":"` + depID + `","trigger_reason":"r","trigger_type":"cron"}`, 400, `invalid value for field "trigger_type"`},
		{"rollback dry run query", "POST", "/auto-rollback?dry_run=true", rollbackToken, `{"deployment_id":"` + depID + `","trigger_reason":"r"}`, 400, `unknown query parameter "dry_run"`},
		{"rollback empty", "POST", "/functions/v1/auto-rollback", rollbackToken, "", 400, "request body is required"},

		{"check missing", "POST", "/auto-rollback/check", readToken, `{}`, 400, `missing required field "deployment_id"`},
		{"check bad id", "POST", "/auto-rollback/check", readToken, `{"deployment_id":"uuid"}`, 400, `invalid value for field "deployment_id"`},
		{"check get missing", "GET", "/auto-rollback/check", readToken, "", 400, `missing required query parameter "deployment_id"`},
		{"check get bad", "GET", "/auto-rollback/check?deployment_id=x", readToken, "", 400, `query parameter "deployment_id"`},

		{"list limit zero", "GET", "/deployments?limit=0", readToken, "", 400, `query parameter "limit"`},
		{"list limit text", "GET", "/deployments?limit=ten", readToken, "", 400, `query parameter "limit"`},
		{"list env", "GET", "/deployments?environment=PROD", readToken, "", 400, `query parameter "environment"`},
		{"list status", "GET", "/deployments?status=x", readToken, "", 400, `query parameter "status"`},
		{"list unknown", "GET", "/deployments?enviroment=production", readToken, "", 400, `unknown query parameter "enviroment"`},
		{"list repeated", "GET", "/deployments?limit=1&limit=2", readToken, "", 400, `"limit" given more than once`},
		{"history limit high", "GET", "/auto-rollback/history?limit=1001", readToken, "", 400, `query parameter "limit": must be an integer from 1 to 1000`},
		{"history limit negative", "GET", "/functions/v1/auto-rollback/history?limit=-1", readToken, "", 400, `query parameter "limit"`},
		{"history id", "GET", "/auto-rollback/history?deployment_id=1", readToken, "", 400, `query parameter "deployment_id"`},
		{"history since", "GET", "/auto-rollback/history?since=yesterday", readToken, "", 400, `query parameter "since"`},
		{"history status", "GET", "/auto-rollback/history?status=rolled_back", readToken, "", 400, `query parameter "status"`},
		{"bad query", "GET", "/auto-rollback/history?limit=%zz", readToken, "", 400, "malformed query string"},

		{"get bad path", "GET", "/deployments/not-a-uuid", readToken, "", 400, `path parameter "deployment_id"`},
		{"snapshot bad path", "GET", "/snapshots/123", readToken, "", 400, `path parameter "snapshot_id"`},
		{"diff bad path", "GET", "/snapshots/" + snapID + "/diff/zzz", readToken, "", 400, `path parameter "other_snapshot_id"`},
		{"get unknown query", "GET", "/deployments/" + depID + "?x=1", readToken, "", 400, `unknown query parameter "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.do(tc.method, tc.path, tc.token, tc.body).expect(t, tc.status)
			if msg := r.errorText(t); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
			if n := f.writes.Load(); n != 0 {
				t.Errorf("%d writes reached the services", n)
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	f := newFixture(t)
	big := `{` + validDeploy + `,"metadata":{"pad":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}}`
	// Known length: refused before reading.
	r := f.do("POST", "/deployments", deployToken, big).expect(t, http.StatusRequestEntityTooLarge)
	if msg := r.errorText(t); !strings.Contains(msg, "1048576 bytes") {
		t.Errorf("413 message %q", msg)
	}
	// Unknown length (chunked): refused while reading.
	req, _ := http.NewRequest("POST", f.ts.URL+"/auto-rollback", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Authorization", "Bearer "+rollbackToken)
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.ContentLength == 0 {
		t.Errorf("chunked: %d", resp.StatusCode)
	}
	if f.writes.Load() != 0 {
		t.Error("an oversized body was written")
	}
	// A configured limit applies.
	small := newFixtureConfig(t, Config{MaxBodyBytes: 128})
	small.do("POST", "/deployments", deployToken, `{`+validDeploy+`,"metadata":{"k":"`+strings.Repeat("y", 128)+`"}}`).
		expect(t, http.StatusRequestEntityTooLarge)
	small.do("POST", "/deployments", deployToken, `{`+validDeploy+`}`).expect(t, http.StatusCreated)
}

func TestIngestRoutesGetTheLargerLimit(t *testing.T) {
	f := newFixtureConfig(t, Config{MaxBodyBytes: 32, MaxIngestBodyBytes: 4096})
	h := func(w http.ResponseWriter, r *http.Request) error {
		b, err := ReadBody(r)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]int{"bytes": len(b)})
	}
	f.srv.HandleRoute(Route{Method: "POST", Path: "/ingest-test", Role: roman.RoleDeploy, Handler: h, Ingest: true, Undocumented: true})
	f.do("POST", "/ingest-test", deployToken, `{"x":"`+strings.Repeat("z", 1000)+`"}`).expect(t, http.StatusOK)
	f.do("POST", "/ingest-test", deployToken, `{"x":"`+strings.Repeat("z", 5000)+`"}`).expect(t, http.StatusRequestEntityTooLarge)
}

func TestPanicIsRecovered(t *testing.T) {
	f := newFixture(t)
	f.deps.ListFn = func(context.Context, roman.DeploymentFilter) ([]*roman.Deployment, error) { panic("boom in the store") }
	r := f.do("GET", "/deployments", readToken, "").expect(t, http.StatusInternalServerError)
	if msg := r.errorText(t); msg != "internal error" {
		t.Errorf("panic answered %q", msg)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "boom in the store") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
	// The server keeps serving.
	f.do("GET", "/deployments/"+depID, readToken, "").expect(t, http.StatusOK)
}

func TestInternalErrorsAreHidden(t *testing.T) {
	f := newFixture(t)
	f.rbs.HistoryFn = func(context.Context, roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
		return nil, errors.New("pq: password authentication failed for user roman")
	}
	r := f.do("GET", "/auto-rollback/history", readToken, "").expect(t, http.StatusInternalServerError)
	if msg := r.errorText(t); msg != "internal error" {
		t.Errorf("500 answered %q", msg)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "password authentication failed") || !strings.Contains(logs, "/auto-rollback/history") {
		t.Errorf("internal error not logged with its path:\n%s", logs)
	}
	if strings.Contains(logs, readToken) {
		t.Error("the API key appears in the log")
	}
	// 503 from a service carries Retry-After.
	f.rbs.HistoryFn = func(context.Context, roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
		return nil, roman.Errorf(roman.EUNAVAILABLE, "store busy")
	}
	if r := f.do("GET", "/auto-rollback/history", readToken, "").expect(t, http.StatusServiceUnavailable); r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestErrorStatusMap(t *testing.T) {
	for code, want := range map[string]int{
		roman.EINVALID: 400, roman.EUNAUTHORIZED: 401, roman.EFORBIDDEN: 403, roman.ENOTFOUND: 404,
		roman.ECONFLICT: 409, roman.ETOOLARGE: 413, roman.EREJECTED: 422, roman.EUNAVAILABLE: 503,
		roman.EINTERNAL: 500, "something-new": 500,
	} {
		if got := ErrorStatus(code); got != want {
			t.Errorf("ErrorStatus(%q) = %d, want %d", code, got, want)
		}
		if want != 500 || code == roman.EINTERNAL {
			if back := codeForStatus(want); back != code && code != "something-new" {
				t.Errorf("codeForStatus(%d) = %q, want %q", want, back, code)
			}
		}
	}
}
