package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/audit"
	"github.com/odyssey-1/roman/mock"
)

const (
	cliAdminToken = "tok-SENSITIVE-admin-0123456789"
	cliReadToken  = "tok-SENSITIVE-read-0123456789"
	cliDepID      = "6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01"
	cliTargetID   = "0b6a4c0e-2f1d-4a8b-9c3e-5d7f1a2b3c4d"
	cliEventID    = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
	cliSnapA      = "11111111-2222-4333-8444-555555555555"
	cliSnapB      = "66666666-7777-4888-9999-aaaaaaaaaaaa"
)

var cliT0 = time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)

// cliFakes are the services behind the real api.Server the CLI talks to.
type cliFakes struct {
	deployments mock.DeploymentService
	rollbacks   mock.RollbackService
	snapshots   mock.SnapshotService
	ingest      mock.IngestService
	// The stores behind the real audit service (explain, events).
	depStore   mock.DeploymentStore
	rbStore    mock.RollbackStore
	snapStore  mock.SnapshotStore
	eventStore mock.EventStore
	newErrors  mock.NewErrorsService
}

// cliServe starts the real API server over the fakes on an httptest server and
// returns its URL.
func cliServe(t *testing.T, f *cliFakes) string {
	t.Helper()
	keys := roman.NewKeyring([]roman.APIKey{
		{Name: "oncall", Role: roman.RoleAdmin, Hash: roman.HashKey(cliAdminToken)},
		{Name: "viewer", Role: roman.RoleRead, Hash: roman.HashKey(cliReadToken)},
	})
	srv := api.NewServer(api.Config{}, api.Deps{
		Deployments: &f.deployments, Rollbacks: &f.rollbacks, Snapshots: &f.snapshots, Ingest: &f.ingest,
		Audit:   &audit.Service{Deployments: &f.depStore, Rollbacks: &f.rbStore, Snapshots: &f.snapStore, Audit: &f.eventStore},
		Keyring: keys, Clock: func() time.Time { return cliT0 }, NewErrors: &f.newErrors,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// cliRun executes the roman command line in-process and returns what it
// printed and the error main would print after "roman: ".
func cliRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	if strings.Contains(out.String()+errb.String(), "SENSITIVE") || err != nil && strings.Contains(err.Error(), "SENSITIVE") {
		t.Errorf("roman %s printed the token:\n%s\n%s\n%v", strings.Join(args, " "), out.String(), errb.String(), err)
	}
	return out.String(), errb.String(), err
}

// cliArgs returns the flags pointing the CLI at url with the admin token.
func cliArgs(url string, args ...string) []string {
	return append(args, "--server", url, "--token", cliAdminToken)
}

func cliDeployment() *roman.Deployment {
	done := cliT0.Add(2 * time.Minute)
	return &roman.Deployment{
		ID: 7, DeploymentID: cliDepID, Environment: "production", Version: "v2.5.3",
		GitCommit: "a7f3b29c0ffee", GitBranch: "main", DeployedAt: cliT0, Status: roman.StatusSuccess,
		HealthCheckPassed: true, Metadata: json.RawMessage(`{"pr":42}`), CompletedAt: &done,
	}
}

// cliAligned checks that every line of a table starts the named column at
// the same offset as the header does.
func cliAligned(t *testing.T, out string, column string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	at := strings.Index(lines[0], column)
	if at < 0 {
		t.Fatalf("no column %q in header %q", column, lines[0])
	}
	for _, l := range lines[1:] {
		if len(l) <= at || l[at-1] != ' ' || l[at] == ' ' {
			t.Errorf("column %q not aligned at %d in %q", column, at, l)
		}
	}
}

func TestDeployRecord(t *testing.T) {
	f := &cliFakes{}
	var got *roman.Deployment
	f.deployments.RecordFn = func(ctx context.Context, d *roman.Deployment) (*roman.Deployment, bool, error) {
		got = d
		out := cliDeployment()
		out.Status = roman.StatusInProgress
		return out, true, nil
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "deploy", "record", "--environment", "production", "--version", "v2.5.3",
		"--git-commit", "a7f3b29c0ffee", "--git-branch", "main", "--deployment-id", cliDepID, "--metadata", `{"pr":42}`)...)
	if err != nil {
		t.Fatal(err)
	}
	if got.Environment != "production" || got.Version != "v2.5.3" || got.GitCommit != "a7f3b29c0ffee" ||
		got.DeploymentID != cliDepID || string(got.Metadata) != `{"pr":42}` || got.Status != "" {
		t.Errorf("server received %+v", got)
	}
	for _, want := range []string{"Deployment:", cliDepID, "Version:", "v2.5.3", "in_progress", `{"pr":42}`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, err = cliRun(t, cliArgs(url, "deploy", "record", "-o", "json", "--environment", "production", "--version", "v2.5.3",
		"--git-commit", "a7f3b29c0ffee", "--git-branch", "main")...)
	if err != nil {
		t.Fatal(err)
	}
	var d roman.Deployment
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.DeploymentID != cliDepID {
		t.Errorf("JSON output %q: %v", out, err)
	}
}

func TestDeployRecordNeedsFlags(t *testing.T) {
	_, _, err := cliRun(t, cliArgs("http://127.0.0.1:1", "deploy", "record", "--environment", "production")...)
	if err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("err = %v, want a missing-flag error", err)
	}
	_, _, err = cliRun(t, cliArgs("http://127.0.0.1:1", "deploy", "record", "--environment", "p", "--version", "v",
		"--git-commit", "c", "--git-branch", "b", "--metadata", "{nope")...)
	if err == nil || !strings.Contains(err.Error(), "--metadata") {
		t.Errorf("err = %v, want a metadata error", err)
	}
}

func TestDeployComplete(t *testing.T) {
	f := &cliFakes{}
	var got roman.DeploymentUpdate
	f.deployments.UpdateFn = func(ctx context.Context, id string, u roman.DeploymentUpdate) (*roman.Deployment, error) {
		if id != cliDepID {
			t.Errorf("id = %s", id)
		}
		got = u
		return cliDeployment(), nil
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "deploy", "complete", cliDepID, "--status", "success", "--health-check-passed")...)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status == nil || *got.Status != "success" || got.HealthCheckPassed == nil || !*got.HealthCheckPassed {
		t.Errorf("server received %+v", got)
	}
	if !strings.Contains(out, "Completed at:") || !strings.Contains(out, "2025-12-15T14:02:00Z") {
		t.Errorf("output:\n%s", out)
	}
	_, _, err = cliRun(t, cliArgs(url, "deploy", "complete", cliDepID, "--status", "rolled_back")...)
	if err == nil || !strings.Contains(err.Error(), "want success or failed") {
		t.Errorf("err = %v", err)
	}
}

func TestDeployListAndGet(t *testing.T) {
	f := &cliFakes{}
	var filter roman.DeploymentFilter
	f.deployments.ListFn = func(ctx context.Context, fl roman.DeploymentFilter) ([]*roman.Deployment, error) {
		filter = fl
		a := cliDeployment()
		b := cliDeployment()
		b.DeploymentID, b.Version, b.GitBranch, b.HealthCheckPassed = cliTargetID, "v2.5.2-hotfix.1", "release/2.5", false
		return []*roman.Deployment{a, b}, nil
	}
	f.deployments.GetFn = func(ctx context.Context, id string) (*roman.Deployment, error) {
		return nil, roman.Errorf(roman.ENOTFOUND, "deployment %s not found", id)
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "deploy", "list", "--environment", "production", "--status", "success", "--limit", "5")...)
	if err != nil {
		t.Fatal(err)
	}
	if filter.Environment != "production" || filter.Status != "success" || filter.Limit != 5 {
		t.Errorf("filter = %+v", filter)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "DEPLOYMENT ID") {
		t.Fatalf("table:\n%s", out)
	}
	for _, col := range []string{"ENVIRONMENT", "VERSION", "COMMIT", "BRANCH", "STATUS", "HEALTHY", "DEPLOYED AT"} {
		cliAligned(t, out, col)
	}
	if !strings.Contains(lines[1], "a7f3b29 ") || strings.Contains(lines[1], "a7f3b29c") {
		t.Errorf("commit not abbreviated: %q", lines[1])
	}

	out, _, err = cliRun(t, cliArgs(url, "deploy", "list", "--output", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var list []roman.Deployment
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 || list[1].Version != "v2.5.2-hotfix.1" {
		t.Errorf("JSON %q: %v", out, err)
	}

	_, _, err = cliRun(t, cliArgs(url, "deploy", "get", cliDepID)...)
	if err == nil || err.Error() != "deployment "+cliDepID+" not found" {
		t.Errorf("err = %v, want the server's message alone", err)
	}
}

func TestRollback(t *testing.T) {
	f := &cliFakes{}
	var got roman.RollbackRequest
	f.rollbacks.ExecuteFn = func(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
		got = req
		return &roman.RollbackResult{
			Success: true, EventID: cliEventID, Status: roman.RollbackSuccess, SnapshotID: cliSnapA, NewDeploymentID: cliTargetID,
			TargetDeployment: &roman.TargetDeployment{DeploymentID: cliTargetID, Version: "v2.5.2", GitCommit: "a7f3b29", DeployedAt: cliT0.Add(-15 * time.Minute), HealthCheckPassed: true},
			Validation:       roman.Validation{Compliant: true, Warnings: []string{"System already stable: error rate 0.2/minute"}},
			DurationMS:       4213,
		}, nil
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "Critical bug in payment flow",
		"--initiated-by", cliTargetID, "--with-migrations")...)
	if err != nil {
		t.Fatal(err)
	}
	if got.DeploymentID != cliDepID || got.TriggerReason != "Critical bug in payment flow" || got.InitiatedBy != cliTargetID ||
		!got.WithMigrations || got.Override || got.TriggerType != roman.TriggerManual || got.Caller != "oncall" {
		t.Errorf("server received %+v", got)
	}
	for _, want := range []string{"Rollback:", "success", cliEventID, "v2.5.2 (commit a7f3b29", "Constitutional validation:", "PASSED",
		"Duration:", "4.2s", "Warnings:", "System already stable"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, err = cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "x", "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var res roman.RollbackResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.EventID != cliEventID || res.TargetDeployment.Version != "v2.5.2" {
		t.Errorf("JSON %q: %v", out, err)
	}
}

func TestRollbackRejected(t *testing.T) {
	f := &cliFakes{}
	violation := "Law of Total Coherence violated: Cannot increase entropy when system unstable"
	f.rollbacks.ExecuteFn = func(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
		return nil, &roman.RejectedError{EventID: cliEventID, Validation: roman.Validation{Violations: []string{violation, "No valid rollback target found"}}}
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "spike")...)
	if err == nil || err.Error() != "Constitutional validation failed" {
		t.Errorf("err = %v, want the seed's rejection message", err)
	}
	for _, want := range []string{"rejected", cliEventID, "Violations:", "  - " + violation, "  - No valid rollback target found"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, err = cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "spike", "-o", "json")...)
	if err == nil {
		t.Error("a rejection must exit non-zero with --output json too")
	}
	var body api.ErrorResponse
	if jerr := json.Unmarshal([]byte(out), &body); jerr != nil || body.Success || body.Validation == nil ||
		len(body.Validation.Violations) != 2 || body.Validation.Warnings == nil {
		t.Errorf("JSON %q: %v", out, jerr)
	}
}

func TestRollbackFailures(t *testing.T) {
	f := &cliFakes{}
	f.rollbacks.ExecuteFn = func(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
		switch req.TriggerReason {
		case "conflict":
			return nil, &roman.Error{Code: roman.ECONFLICT, Message: "a rollback of production is already in progress", EventID: cliEventID}
		case "failed":
			return &roman.RollbackResult{EventID: cliEventID, Status: roman.RollbackFailed, Error: "still unhealthy after verification: manual intervention required",
				Validation: roman.Validation{Compliant: true}}, nil
		}
		return nil, roman.Errorf(roman.EINTERNAL, "secret database detail")
	}
	url := cliServe(t, f)

	_, _, err := cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "conflict")...)
	if err == nil || err.Error() != "a rollback of production is already in progress (rollback event "+cliEventID+")" {
		t.Errorf("conflict: err = %v", err)
	}
	out, _, err := cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "failed")...)
	if err == nil || err.Error() != "rollback failed: still unhealthy after verification: manual intervention required" {
		t.Errorf("failed: err = %v", err)
	}
	if !strings.Contains(out, "Rollback:") || !strings.Contains(out, "failed") {
		t.Errorf("a failed rollback still prints its result:\n%s", out)
	}
	_, _, err = cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "boom")...)
	if err == nil || err.Error() != "internal error" {
		t.Errorf("internal: err = %v", err)
	}
	_, _, err = cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "  ")...)
	if err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Errorf("empty reason: err = %v", err)
	}
	_, _, err = cliRun(t, "rollback", cliDepID, "--reason", "x", "--server", url, "--token", cliReadToken, "--override")
	if err == nil || !strings.Contains(err.Error(), `has role "read"`) {
		t.Errorf("low role: err = %v", err)
	}
}

func TestCheck(t *testing.T) {
	f := &cliFakes{}
	util := 45.5
	f.rollbacks.CheckFn = func(ctx context.Context, id string) (*roman.CheckResult, error) {
		return &roman.CheckResult{DeploymentID: id, ShouldRollback: true, Reason: "High error rate: 8.5 errors/minute",
			Health: roman.Health{Status: roman.HealthUnhealthy, ErrorRatePerMinute: 8.5, RecentErrors: 42, DatabaseConnectionUtilization: &util,
				Warnings: []string{}, Unknown: map[string]string{"p95_response_time_ms": "prometheus: connection refused"}, Timestamp: cliT0}}, nil
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "check", cliDepID)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Should roll back:", "yes", "High error rate: 8.5 errors/minute", "8.5 errors/minute",
		"42 in 5 minutes", "45.5%", "Active queries:", "unknown", "Unknown signals:", "p95_response_time_ms: prometheus: connection refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	_, _, err = cliRun(t, cliArgs(url, "check", cliDepID, "--exit-code")...)
	if err == nil || !strings.Contains(err.Error(), "should roll back: High error rate") {
		t.Errorf("--exit-code: err = %v", err)
	}
	out, _, err = cliRun(t, cliArgs(url, "check", cliDepID, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || res["should_rollback"] != true {
		t.Errorf("JSON %q: %v", out, err)
	}
	if h := res["health"].(map[string]any); h["active_queries"] != nil || h["error_rate_per_minute"] != 8.5 {
		t.Errorf("health JSON = %v", h)
	}
}

func TestHistory(t *testing.T) {
	f := &cliFakes{}
	var filter roman.RollbackFilter
	done := cliT0.Add(75 * time.Second)
	f.rollbacks.HistoryFn = func(ctx context.Context, fl roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
		filter = fl
		return []*roman.RollbackEvent{
			{ID: 2, EventID: cliEventID, DeploymentID: cliDepID, Environment: "production", TriggerType: roman.TriggerAutomatic,
				TriggerReason: "High error rate: 8.5 errors/minute", InitiatedAt: cliT0, Status: roman.RollbackSuccess, CompletedAt: &done},
			{ID: 1, EventID: cliSnapB, DeploymentID: cliTargetID, Environment: "staging", TriggerType: roman.TriggerManual,
				TriggerReason: "bad\tinput\x1b[31m", InitiatedAt: cliT0.Add(-time.Hour), Status: roman.RollbackAborted},
		}, nil
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "history")...)
	if err != nil {
		t.Fatal(err)
	}
	if filter.Limit != 10 {
		t.Errorf("default limit = %d, want 10", filter.Limit)
	}
	for _, col := range []string{"DEPLOYMENT ID", "ENVIRONMENT", "TRIGGER", "STATUS", "INITIATED AT", "DURATION", "REASON"} {
		cliAligned(t, out, col)
	}
	if !strings.Contains(out, "1m15s") || !strings.Contains(out, "High error rate: 8.5 errors/minute") {
		t.Errorf("table:\n%s", out)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape sequence from the server reached the terminal:\n%q", out)
	}
	_, _, err = cliRun(t, cliArgs(url, "history", "--limit", "3", "--environment", "production")...)
	if err != nil || filter.Limit != 3 || filter.Environment != "production" {
		t.Errorf("filter = %+v, err %v", filter, err)
	}
	out, _, err = cliRun(t, cliArgs(url, "history", "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var events []roman.RollbackEvent
	if err := json.Unmarshal([]byte(out), &events); err != nil || len(events) != 2 || events[0].EventID != cliEventID {
		t.Errorf("JSON %q: %v", out, err)
	}
}

func TestSnapshots(t *testing.T) {
	f := &cliFakes{}
	snap := func(id, typ string, counts map[string]int64, hash string) *roman.Snapshot {
		return &roman.Snapshot{ID: 1, SnapshotID: id, DeploymentID: cliDepID, SnapshotType: typ, DatabaseSchemaHash: hash,
			TableCounts: counts, KeyMetrics: json.RawMessage(`{"error_rate_per_minute":0.2}`),
			EnvironmentConfig: map[string]any{"executor": "none"}, CreatedAt: cliT0}
	}
	a := snap(cliSnapA, roman.SnapshotPreDeployment, map[string]int64{"users": 10, "orders": 5, "legacy": 2}, strings.Repeat("ab", 32))
	b := snap(cliSnapB, roman.SnapshotPostDeployment, map[string]int64{"users": 12, "orders": 5, "audit": 1}, strings.Repeat("cd", 32))
	b.KeyMetrics = json.RawMessage(`{"error_rate_per_minute":8.7}`)
	byID := map[string]*roman.Snapshot{cliSnapA: a, cliSnapB: b}
	var createdType string
	f.snapshots.CreateFn = func(ctx context.Context, id, typ string) (*roman.Snapshot, error) {
		createdType = typ
		return a, nil
	}
	f.snapshots.GetFn = func(ctx context.Context, id string) (*roman.Snapshot, error) {
		if s, ok := byID[id]; ok {
			return s, nil
		}
		return nil, roman.Errorf(roman.ENOTFOUND, "snapshot %s not found", id)
	}
	f.snapshots.ListFn = func(ctx context.Context, id string) ([]*roman.Snapshot, error) { return []*roman.Snapshot{b, a}, nil }
	f.deployments.GetFn = func(ctx context.Context, id string) (*roman.Deployment, error) { return cliDeployment(), nil }
	url := cliServe(t, f)

	out, _, err := cliRun(t, cliArgs(url, "snapshot", "create", cliDepID, "--type", "pre_deployment")...)
	if err != nil {
		t.Fatal(err)
	}
	if createdType != "pre_deployment" || !strings.Contains(out, "Snapshot:") || !strings.Contains(out, cliSnapA) {
		t.Errorf("create: type %q, output:\n%s", createdType, out)
	}
	cliAligned(t, out[strings.Index(out, "TABLE"):], "ROWS")

	_, _, err = cliRun(t, cliArgs(url, "snapshot", "create", cliDepID, "--type", "weekly")...)
	if err == nil || !strings.Contains(err.Error(), "--type") {
		t.Errorf("bad type: err = %v", err)
	}

	out, _, err = cliRun(t, cliArgs(url, "snapshot", "get", cliSnapB, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var s roman.Snapshot
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.SnapshotID != cliSnapB || s.TableCounts["audit"] != 1 {
		t.Errorf("get JSON %q: %v", out, err)
	}

	out, _, err = cliRun(t, cliArgs(url, "snapshot", "list", cliDepID)...)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.Contains(lines[1], cliSnapB) || !strings.Contains(lines[1], "cdcdcdcdcdcd ") {
		t.Errorf("list:\n%s", out)
	}
	cliAligned(t, out, "SCHEMA HASH")

	out, _, err = cliRun(t, cliArgs(url, "snapshot", "diff", cliSnapA, cliSnapB)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Schema changed:", "yes", "audit", "+1", "added", "legacy", "-2", "removed", "users", "+2",
		"error_rate_per_minute", "+8.5"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	_, _, err = cliRun(t, cliArgs(url, "snapshot", "diff", cliSnapA, cliDepID)...)
	if err == nil || err.Error() != "snapshot "+cliDepID+" not found" {
		t.Errorf("diff unknown: err = %v", err)
	}
	_, _, err = cliRun(t, cliArgs(url, "snapshot", "diff", cliSnapA)...)
	if err == nil || !strings.Contains(err.Error(), "SNAPSHOT_A and SNAPSHOT_B") {
		t.Errorf("diff with one argument: err = %v", err)
	}
}

func TestAuthAndConnection(t *testing.T) {
	f := &cliFakes{}
	f.rollbacks.HistoryFn = func(ctx context.Context, fl roman.RollbackFilter) ([]*roman.RollbackEvent, error) { return nil, nil }
	url := cliServe(t, f)

	_, _, err := cliRun(t, "history", "--server", url)
	if err == nil || err.Error() != "missing or invalid API key (set --token or ROMAN_TOKEN)" {
		t.Errorf("no token: err = %v", err)
	}
	_, _, err = cliRun(t, "history", "--server", url, "--token", "tok-SENSITIVE-wrong")
	if err == nil || err.Error() != "missing or invalid API key" {
		t.Errorf("wrong token: err = %v", err)
	}

	t.Setenv("ROMAN_SERVER", url)
	t.Setenv("ROMAN_TOKEN", cliReadToken)
	out, _, err := cliRun(t, "history")
	if err != nil || strings.TrimSpace(out) != "No rollbacks." {
		t.Errorf("env: out %q err %v", out, err)
	}
	out, _, err = cliRun(t, "history", "-o", "json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("env JSON: out %q err %v", out, err)
	}

	t.Setenv("ROMAN_SERVER", "http://127.0.0.1:1")
	_, _, err = cliRun(t, "history")
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach roman server") {
		t.Errorf("unreachable: err = %v", err)
	}
	_, _, err = cliRun(t, "history", "--server", "ftp://x")
	if err == nil || !strings.Contains(err.Error(), "invalid server URL") {
		t.Errorf("bad URL: err = %v", err)
	}
	_, _, err = cliRun(t, "history", "--server", url, "-o", "yaml")
	if err == nil || !strings.Contains(err.Error(), `invalid --output "yaml"`) {
		t.Errorf("bad output: err = %v", err)
	}
	out, _, err = cliRun(t, "rollback", "--help")
	if err != nil || strings.Contains(out, cliReadToken) || !strings.Contains(out, "--token") {
		t.Errorf("help: %v\n%s", err, out)
	}
}

func TestVersion(t *testing.T) {
	out, _, err := cliRun(t, "version", "--server", "http://127.0.0.1:1")
	if err == nil {
		t.Error("version takes no --server flag")
	}
	out, _, err = cliRun(t, "version")
	if err != nil || !strings.HasPrefix(out, "roman "+roman.Version+" ") {
		t.Errorf("version: %q %v", out, err)
	}
	out, _, err = cliRun(t, "version", "-o", "json")
	var v versionInfo
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Version != roman.Version || v.Go == "" {
		t.Errorf("version JSON: %q %v", out, err)
	}
}
