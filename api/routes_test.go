package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

func TestRecordDeployment(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/deployments", deployToken, `{
		"environment": "production", "version": "v2.5.3", "git_commit": "b4c5d6e", "git_branch": "main",
		"deployed_by": "`+userID+`", "metadata": {"run": 42}, "deployed_at": "2025-12-15T16:00:00+02:00",
		"health_check_passed": false
	}`).expect(t, http.StatusCreated)
	if len(f.recorded) != 1 {
		t.Fatalf("Record called %d times", len(f.recorded))
	}
	d := f.recorded[0]
	if !roman.ValidUUID(d.DeploymentID) {
		t.Errorf("generated deployment_id %q is not a UUID", d.DeploymentID)
	}
	if want := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC); !d.DeployedAt.Equal(want) || d.DeployedAt.Location() != time.UTC {
		t.Errorf("deployed_at %v, want %v in UTC", d.DeployedAt, want)
	}
	if d.Status != "" {
		t.Errorf("absent status reached the service as %q; the service defaults it", d.Status)
	}
	if d.Environment != "production" || d.Version != "v2.5.3" || d.GitCommit != "b4c5d6e" || d.GitBranch != "main" ||
		d.DeployedBy == nil || *d.DeployedBy != userID || string(d.Metadata) != `{"run": 42}` {
		t.Errorf("service got %+v", d)
	}
	m := r.json(t)
	if m["deployment_id"] != d.DeploymentID || m["deployed_at"] != "2025-12-15T14:00:00Z" {
		t.Errorf("response %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != "/deployments/"+d.DeploymentID {
		t.Errorf("Location %q", loc)
	}
}

func TestRecordDeploymentGivenIDAndIdempotentResend(t *testing.T) {
	f := newFixture(t)
	f.deps.RecordFn = func(_ context.Context, d *roman.Deployment) (*roman.Deployment, bool, error) {
		if d.DeploymentID != depID || d.Status != roman.StatusPending {
			t.Errorf("service got id %q status %q", d.DeploymentID, d.Status)
		}
		return sampleDeployment(depID), false, nil
	}
	f.do("POST", "/deployments", deployToken, `{"environment":"staging","version":"1","git_commit":"c","git_branch":"b",
		"deployment_id":"`+depID+`","status":"pending"}`).expect(t, http.StatusOK)
}

func TestGetDeployment(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/deployments/"+depID, readToken, "").expect(t, http.StatusOK)
	var d roman.Deployment
	if err := json.Unmarshal(r.body, &d); err != nil || d.DeploymentID != depID || d.Version != "v2.5.3" {
		t.Errorf("got %s (%v)", r.body, err)
	}
	for _, k := range []string{"rollback_from", "completed_at", "rolled_back_at", "health_check_details", "constitutional_validation"} {
		if v, ok := r.json(t)[k]; !ok || v != nil {
			t.Errorf("column %q: present=%v value=%v, want null", k, ok, v)
		}
	}
	if msg := f.do("GET", "/deployments/"+unknownID, readToken, "").expect(t, http.StatusNotFound).errorText(t); msg != "deployment not found" {
		t.Errorf("404 message %q", msg)
	}
}

func TestListDeployments(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/deployments?environment=production&status=success&limit=5", readToken, "").expect(t, http.StatusOK)
	var list DeploymentList
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Deployments) != 2 {
		t.Fatalf("got %s (%v)", r.body, err)
	}
	f.do("GET", "/deployments", readToken, "").expect(t, http.StatusOK)
	want := []roman.DeploymentFilter{{Environment: "production", Status: "success", Limit: 5}, {Limit: defaultDeploymentLimit}}
	if !reflect.DeepEqual(f.depF, want) {
		t.Errorf("filters %+v, want %+v", f.depF, want)
	}
	f.deps.ListFn = func(context.Context, roman.DeploymentFilter) ([]*roman.Deployment, error) { return nil, nil }
	if r := f.do("GET", "/deployments", readToken, ""); strings.TrimSpace(string(r.body)) != `{"deployments":[]}` {
		t.Errorf("empty list answered %s", r.body)
	}
}

func TestUpdateDeployment(t *testing.T) {
	f := newFixture(t)
	r := f.do("PATCH", "/deployments/"+depID, deployToken,
		`{"status":"success","health_check_passed":true,"health_check_details":{"healthy":true}}`).expect(t, http.StatusOK)
	if r.json(t)["status"] != "success" {
		t.Errorf("response %s", r.body)
	}
	u := f.updates[0]
	if *u.Status != "success" || !*u.HealthCheckPassed || string(u.HealthCheckDetails) != `{"healthy":true}` {
		t.Errorf("update %+v", u)
	}
	f.deps.UpdateFn = func(context.Context, string, roman.DeploymentUpdate) (*roman.Deployment, error) {
		return nil, roman.TransitionError("success", "pending")
	}
	msg := f.do("PATCH", "/deployments/"+depID, deployToken, `{"status":"pending"}`).expect(t, http.StatusConflict).errorText(t)
	if !strings.Contains(msg, `"success"`) || !strings.Contains(msg, `"pending"`) {
		t.Errorf("409 message %q does not name both states", msg)
	}
}

func TestSnapshots(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/deployments/"+depID+"/snapshots", deployToken, `{"snapshot_type":"pre_deployment"}`).expect(t, http.StatusCreated)
	if m := r.json(t); m["snapshot_type"] != "pre_deployment" || m["deployment_id"] != depID {
		t.Errorf("create answered %s", r.body)
	}
	r = f.do("GET", "/deployments/"+depID+"/snapshots", readToken, "").expect(t, http.StatusOK)
	var list SnapshotList
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Snapshots) != 1 {
		t.Errorf("list answered %s", r.body)
	}
	f.do("GET", "/deployments/"+unknownID+"/snapshots", readToken, "").expect(t, http.StatusNotFound)
	f.do("POST", "/deployments/"+unknownID+"/snapshots", deployToken, `{"snapshot_type":"pre_rollback"}`).expect(t, http.StatusNotFound)
	r = f.do("GET", "/snapshots/"+snapID, readToken, "").expect(t, http.StatusOK)
	if r.json(t)["snapshot_id"] != snapID {
		t.Errorf("get answered %s", r.body)
	}
	f.do("GET", "/snapshots/"+unknownID, readToken, "").expect(t, http.StatusNotFound)
	r = f.do("GET", "/snapshots/"+snapID+"/diff/"+snapID2, readToken, "").expect(t, http.StatusOK)
	var d roman.SnapshotDiff
	if err := json.Unmarshal(r.body, &d); err != nil || d.From != snapID || d.To != snapID2 || d.TableCounts["users"] != 3 {
		t.Errorf("diff answered %s", r.body)
	}
	f.do("GET", "/snapshots/"+snapID+"/diff/"+unknownID, readToken, "").expect(t, http.StatusNotFound)
}

func TestExecuteRollback(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/auto-rollback", rollbackToken,
		`{"deployment_id":"`+depID+`","trigger_reason":"Critical bug in payment flow","initiated_by":"`+userID+`","with_migrations":true}`).
		expect(t, http.StatusOK)
	want := `{"success":true,"event_id":"` + eventID + `","status":"success","target_deployment":{"deployment_id":"` + depID2 +
		`","version":"v2.5.2","git_commit":"a7f3b29","deployed_at":"2025-12-15T13:45:00Z","health_check_passed":true},` +
		`"snapshot_id":"` + snapID + `","validation":{"compliant":true,"violations":[],"warnings":[]},"duration_ms":0}`
	if strings.TrimSpace(string(r.body)) != want {
		t.Errorf("body\n%s\nwant\n%s", r.body, want)
	}
	got := f.rollReqs[0]
	wantReq := roman.RollbackRequest{DeploymentID: depID, TriggerReason: "Critical bug in payment flow", InitiatedBy: userID,
		TriggerType: roman.TriggerManual, WithMigrations: true, Caller: "oncall"}
	if got != wantReq {
		t.Errorf("service got %+v, want %+v", got, wantReq)
	}
	f.do("POST", "/auto-rollback", adminToken, `{"deployment_id":"`+depID+`","trigger_reason":"r","override":true,"trigger_type":"automatic"}`).
		expect(t, http.StatusOK)
	if got := f.rollReqs[1]; !got.Admin || !got.Override || got.Caller != "root" || got.TriggerType != roman.TriggerAutomatic {
		t.Errorf("admin override reached the service as %+v", got)
	}
	f.do("POST", "/auto-rollback", rollbackToken, `{"deployment_id":"`+unknownID+`","trigger_reason":"r"}`).expect(t, http.StatusNotFound)
}

func TestRollbackRejectionBodyIsTheSeeds(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"bare", &roman.RejectedError{Validation: roman.Validation{Violations: []string{
			"Law of Total Coherence violated: Cannot increase entropy when system unstable"}}},
			`{"success":false,"error":"Constitutional validation failed","validation":{"compliant":false,"violations":["Law of Total Coherence violated: Cannot increase entropy when system unstable"],"warnings":[]}}`},
		{"with event, wrapped", &roman.Error{Code: roman.EREJECTED, Err: &roman.RejectedError{EventID: eventID,
			Validation: roman.Validation{Violations: []string{"System already stable: error rate 0.2/minute"}, Warnings: []string{"w"}}}},
			`{"success":false,"error":"Constitutional validation failed","validation":{"compliant":false,"violations":["System already stable: error rate 0.2/minute"],"warnings":["w"]},"event_id":"` + eventID + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.rbs.ExecuteFn = func(context.Context, roman.RollbackRequest) (*roman.RollbackResult, error) { return nil, tc.err }
			r := f.do("POST", "/functions/v1/auto-rollback", rollbackToken, `{"deployment_id":"`+depID+`","trigger_reason":"r"}`).
				expect(t, http.StatusUnprocessableEntity)
			if got := strings.TrimSpace(string(r.body)); got != tc.want {
				t.Errorf("body\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestRollbackConflictNamesEvent(t *testing.T) {
	f := newFixture(t)
	f.rbs.ExecuteFn = func(context.Context, roman.RollbackRequest) (*roman.RollbackResult, error) {
		return nil, &roman.Error{Code: roman.ECONFLICT, Message: "a rollback of production is already in progress", EventID: eventID}
	}
	r := f.do("POST", "/auto-rollback", rollbackToken, `{"deployment_id":"`+depID+`","trigger_reason":"r"}`).expect(t, http.StatusConflict)
	if m := r.json(t); m["event_id"] != eventID || m["error"] != "a rollback of production is already in progress" {
		t.Errorf("409 body %s", r.body)
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/auto-rollback/check", `{"deployment_id":"` + depID + `"}`},
		{"GET", "/auto-rollback/check?deployment_id=" + depID, ""},
		{"GET", "/functions/v1/auto-rollback/check?deployment_id=" + depID, ""},
	} {
		r := f.do(tc.method, tc.path, readToken, tc.body).expect(t, http.StatusOK)
		m := r.json(t)
		h, _ := m["health"].(map[string]any)
		if m["should_rollback"] != true || m["reason"] != "High error rate: 9 errors/minute" || h["error_rate_per_minute"] != 9.0 ||
			h["timestamp"] != "2025-12-15T14:35:00Z" {
			t.Errorf("%s %s answered %s", tc.method, tc.path, r.body)
		}
		for _, k := range []string{"database_connections", "active_queries", "p95_response_time_ms", "memory_usage_percent"} {
			if v, ok := h[k]; !ok || v != nil {
				t.Errorf("health.%s present=%v value=%v, want null", k, ok, v)
			}
		}
	}
	f.do("POST", "/auto-rollback/check", readToken, `{"deployment_id":"`+unknownID+`"}`).expect(t, http.StatusNotFound)
}

func TestHistory(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/auto-rollback/history", readToken, "").expect(t, http.StatusOK)
	var h RollbackHistory
	if err := json.Unmarshal(r.body, &h); err != nil || len(h.Rollbacks) != 1 || h.Rollbacks[0].EventID != eventID {
		t.Fatalf("history %s (%v)", r.body, err)
	}
	ev := r.json(t)["rollbacks"].([]any)[0].(map[string]any)
	if ev["initiated_by"] != nil || ev["initiated_at"] != "2025-12-15T14:35:00Z" || ev["completed_at"] != "2025-12-15T14:36:15Z" {
		t.Errorf("event %v", ev)
	}
	f.do("GET", "/auto-rollback/history?limit=1000&environment=production&deployment_id="+depID+"&status=aborted&since=2025-12-15T16:00:00%2B02:00",
		readToken, "").expect(t, http.StatusOK)
	since := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	want := []roman.RollbackFilter{{Limit: 10}, {Limit: 1000, Environment: "production", DeploymentID: depID, Status: "aborted", Since: &since}}
	if !reflect.DeepEqual(f.histF, want) {
		t.Errorf("filters %+v, want %+v", f.histF, want)
	}
}

func TestSystemRoutes(t *testing.T) {
	f := newFixture(t)
	if r := f.do("GET", "/healthz", "", "").expect(t, http.StatusOK); r.json(t)["status"] != "ok" {
		t.Errorf("healthz %s", r.body)
	}
	f.do("GET", "/readyz", "", "").expect(t, http.StatusOK)
	f.ping.PingFn = func(context.Context) error { return errors.New("dial tcp: connection refused") }
	r := f.do("GET", "/readyz", "", "").expect(t, http.StatusServiceUnavailable)
	if r.json(t)["status"] != "unavailable" || strings.Contains(string(r.body), "refused") {
		t.Errorf("readyz failing answered %s", r.body)
	}
	r = f.do("GET", "/openapi.json", "", "").expect(t, http.StatusOK)
	if r.json(t)["openapi"] != "3.0.3" {
		t.Errorf("openapi.json %s", r.body[:80])
	}
}

func TestUnmatchedRoutesAnswerJSON(t *testing.T) {
	f := newFixture(t)
	if msg := f.do("GET", "/nope", readToken, "").expect(t, http.StatusNotFound).errorText(t); msg != "not found" {
		t.Errorf("404 %q", msg)
	}
	for _, p := range []string{"/deployments/", "/functions/v1/deployments", "/functions/v1/auto-rollback/nope", "/deployments/" + depID + "/x"} {
		f.do("GET", p, readToken, "").expect(t, http.StatusNotFound)
	}
	r := f.do("DELETE", "/deployments/"+depID, adminToken, "").expect(t, http.StatusMethodNotAllowed)
	if r.errorText(t) != "method not allowed" || !strings.Contains(r.header.Get("Allow"), "PATCH") {
		t.Errorf("405 %s Allow=%q", r.body, r.header.Get("Allow"))
	}
}

func TestSeedCurlPaths(t *testing.T) {
	f := newFixture(t)
	// curl -X POST .../functions/v1/auto-rollback -H "Authorization: Bearer KEY" -d '{...}'
	// curl with -d and no -H sends application/x-www-form-urlencoded.
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	f.do("POST", "/functions/v1/auto-rollback", rollbackToken, `{"deployment_id":"`+depID+`","trigger_reason":"reason"}`, form...).
		expect(t, http.StatusOK)
	f.do("POST", "/functions/v1/auto-rollback/check", readToken, `{"deployment_id":"`+depID+`"}`, form...).expect(t, http.StatusOK)
	f.do("GET", "/functions/v1/auto-rollback/history?limit=10", readToken, "").expect(t, http.StatusOK)
}
