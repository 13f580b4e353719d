package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// explainFakes fills the audit stores with the story of a release that an
// automatic rollback undid, plus an event type roman does not know yet.
func explainFakes() *cliFakes {
	f := &cliFakes{}
	at := func(s int) time.Time { return cliT0.Add(time.Duration(s) * time.Second) }
	f.depStore.GetDeploymentFn = func(_ context.Context, id string) (*roman.Deployment, error) {
		if id != cliDepID {
			return nil, roman.Errorf(roman.ENOTFOUND, "deployment %s not found", id)
		}
		d := cliDeployment()
		d.Status, d.HealthCheckPassed = roman.StatusRolledBack, false
		rb := at(90)
		d.RolledBackAt = &rb
		return d, nil
	}
	md := `{"deployment_id":"` + cliDepID + `"}`
	f.eventStore.ListRomanEventsFn = func(_ context.Context, fl roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
		evs := []*roman.RomanEvent{ // newest first, as the store answers
			{EventID: "e4", EventType: roman.EventRollbackValidation, Severity: roman.SeverityInfo, Message: "Rollback approved by the constitution",
				Metadata: json.RawMessage(`{"deployment_id":"` + cliDepID + `","trigger":"automatic","verdict":{"compliant":true,"violations":[],"warnings":[],` +
					`"results":[{"rule":"stability","severity":"warning","message":"System already stable: error rate 0.2/minute"}]}}`),
				Timestamp: at(61)},
			{EventID: "e3", EventType: roman.EventAutoRollbackTriggered, Severity: roman.SeverityCritical, Message: "High error rate: 9 errors/minute", Metadata: json.RawMessage(md), Timestamp: at(60)},
			{EventID: "e2", EventType: "breach_recorded", Severity: roman.SeverityWarning, Message: "Breach recorded: error rate 9/minute", Metadata: json.RawMessage(md), Timestamp: at(59)},
			{EventID: "e1", EventType: roman.EventWatchStarted, Severity: roman.SeverityInfo, Message: "Watching v2.5.3 for 5m", Metadata: json.RawMessage(md), Timestamp: at(0)},
		}
		return evs, nil
	}
	done := at(95)
	f.rbStore.ListRollbackEventsFn = func(_ context.Context, fl roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
		if fl.TargetDeploymentID != "" {
			return nil, nil
		}
		return []*roman.RollbackEvent{{
			EventID: cliEventID, DeploymentID: cliDepID, Environment: "production", TriggerType: roman.TriggerAutomatic,
			TriggerReason: "High error rate: 9 errors/minute", InitiatedAt: at(60), Status: roman.RollbackSuccess, CompletedAt: &done,
			RollbackPlan: json.RawMessage(`{"target_deployment_id":"` + cliTargetID + `","target_version":"v2.5.2"}`),
			RollbackSteps: []roman.RollbackStep{
				{Name: roman.StepValidate, Status: roman.StepStatusSuccess, StartedAt: at(60), FinishedAt: at(61)},
				{Name: roman.StepExecute, Status: roman.StepStatusSuccess, StartedAt: at(62), FinishedAt: at(80)},
			},
		}}, nil
	}
	f.snapStore.ListSnapshotsFn = func(context.Context, string) ([]*roman.Snapshot, error) { return nil, nil }
	return f
}

func TestExplain(t *testing.T) {
	url := cliServe(t, explainFakes())
	out, _, err := cliRun(t, cliArgs(url, "explain", cliDepID)...)
	if err != nil {
		t.Fatal(err)
	}
	// One line per entry, oldest first, then the verdict.
	var last int
	for _, want := range []string{
		"Deployment " + cliDepID, "recorded", "Watching v2.5.3 for 5m", "Breach recorded: error rate 9/minute",
		"High error rate: 9 errors/minute", "Rollback " + cliEventID + " requested (automatic)", "target v2.5.2",
		"Rollback approved by the constitution (automatic): stability warning: System already stable",
		"Rollback step execute: success", "Rollback " + cliEventID + " finished: success",
		"Verdict: Rolled back by rollback " + cliEventID,
	} {
		i := strings.Index(out[last:], want)
		if i < 0 {
			t.Fatalf("%q missing or out of order after offset %d in:\n%s", want, last, out)
		}
		last += i
	}
	if !strings.Contains(out, "2025-12-15T14:01:00Z") {
		t.Errorf("entries carry no times:\n%s", out)
	}

	out, _, err = cliRun(t, cliArgs(url, "explain", cliDepID, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var ex roman.Explanation
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !ex.Verdict.RolledBack || ex.Verdict.Status != roman.StatusRolledBack || ex.Timeline[len(ex.Timeline)-1].Kind != roman.ExplainVerdictKind {
		t.Errorf("explanation %+v", ex.Verdict)
	}

	if _, _, err := cliRun(t, cliArgs(url, "explain", cliTargetID)...); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown deployment: %v", err)
	}
}

func TestEvents(t *testing.T) {
	f := &cliFakes{}
	var got roman.RomanEventFilter
	f.eventStore.ListRomanEventsFn = func(_ context.Context, fl roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
		got = fl
		return []*roman.RomanEvent{
			{EventID: cliEventID, EventType: roman.EventAutoRollbackTriggered, Severity: roman.SeverityCritical,
				Message: "High error rate: 9 errors/minute", Metadata: json.RawMessage(`{"deployment_id":"` + cliDepID + `"}`), Timestamp: cliT0},
		}, nil
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "events", "--type", "auto_rollback_triggered", "--severity", "critical", "--deployment", cliDepID,
		"--environment", "production", "--service", "checkout", "--since", "2025-12-15T13:00:00Z", "--limit", "5")...)
	if err != nil {
		t.Fatal(err)
	}
	if got.EventType != "auto_rollback_triggered" || got.Severity != "critical" || got.DeploymentID != cliDepID || got.Environment != "production" ||
		got.Service != "checkout" || got.Since == nil || !got.Since.Equal(cliT0.Add(-time.Hour)) || got.Limit != 5 {
		t.Errorf("server was asked for %+v", got)
	}
	for _, want := range []string{"TYPE", "auto_rollback_triggered", "critical", cliDepID, "High error rate"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	cliAligned(t, out, "MESSAGE")

	out, _, err = cliRun(t, cliArgs(url, "events", "-q", "--since", "2h")...)
	if err != nil || out != cliEventID+"\n" {
		t.Errorf("events -q printed %q, %v", out, err)
	}
	if got.Since == nil || time.Since(*got.Since) < 119*time.Minute || time.Since(*got.Since) > 121*time.Minute {
		t.Errorf("--since 2h asked for %v", got.Since)
	}
	if _, _, err := cliRun(t, cliArgs(url, "events", "--since", "yesterday")...); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Errorf("bad --since: %v", err)
	}
	if _, _, err := cliRun(t, cliArgs(url, "events", "--severity", "fatal")...); err == nil || !strings.Contains(err.Error(), `"severity"`) {
		t.Errorf("bad --severity: %v", err)
	}
}

func TestErrorsSend(t *testing.T) {
	f := &cliFakes{}
	var (
		mu    sync.Mutex
		batch roman.ErrorBatch
	)
	f.ingest.IngestErrorsFn = func(_ context.Context, b roman.ErrorBatch) (*roman.IngestResult, error) {
		mu.Lock()
		defer mu.Unlock()
		batch = b
		return &roman.IngestResult{Accepted: len(b.Events), Deployments: []string{cliDepID}}, nil
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "errors", "send", "--environment", "production", "--message", "checkout 500",
		"--severity", "critical", "--fingerprint", "fp-1", "--count", "3", "--type", "KeyError", "--stack", "at f (/a.js:1:2)")...)
	if err != nil {
		t.Fatal(err)
	}
	if e := batch.Events[0]; e.ErrorType != "KeyError" || e.Stack != "at f (/a.js:1:2)" {
		t.Errorf("--type, --stack: server received %+v", e)
	}
	if len(batch.Events) != 3 || batch.Events[0].Environment != "production" || batch.Events[2].Message != "checkout 500" ||
		batch.Events[1].Severity != "critical" || batch.Events[0].Fingerprint != "fp-1" || batch.Events[0].OccurredAt.IsZero() {
		t.Errorf("server received %+v", batch)
	}
	if !strings.Contains(out, "Accepted:") || !strings.Contains(out, "3") || !strings.Contains(out, cliDepID) {
		t.Errorf("output:\n%s", out)
	}

	root := newRootCmd()
	root.SetArgs(cliArgs(url, "errors", "send", "--stdin", "-o", "json"))
	root.SetIn(strings.NewReader(`{"deployment_id":"` + cliDepID + `","message":"boom"}`))
	var buf strings.Builder
	root.SetOut(&buf)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(batch.Events) != 1 || batch.Events[0].DeploymentID != cliDepID || batch.Events[0].Message != "boom" || !strings.Contains(buf.String(), `"accepted": 1`) {
		t.Errorf("stdin: server received %+v, printed %s", batch, buf.String())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--message", "x"}, "one of --deployment and --environment"},
		{[]string{"--environment", "production"}, "--message"},
		{[]string{"--environment", "production", "--message", "x", "--count", "0"}, "--count"},
	} {
		if _, _, err := cliRun(t, cliArgs(url, append([]string{"errors", "send"}, tc.args...)...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("errors send %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	out, _, err := cliRun(t, "--version")
	if err != nil || out != "roman "+roman.Version+"\n" {
		t.Errorf("--version printed %q, %v", out, err)
	}
	out, _, err = cliRun(t, "version")
	if err != nil || !strings.HasPrefix(out, "roman "+roman.Version+" (") {
		t.Errorf("version printed %q, %v", out, err)
	}
}

func TestQuietPrintsOnlyIDs(t *testing.T) {
	f := &cliFakes{}
	f.deployments.RecordFn = func(context.Context, *roman.Deployment) (*roman.Deployment, bool, error) {
		return cliDeployment(), true, nil
	}
	f.deployments.ListFn = func(context.Context, roman.DeploymentFilter) ([]*roman.Deployment, error) {
		other := cliDeployment()
		other.DeploymentID = cliTargetID
		return []*roman.Deployment{cliDeployment(), other}, nil
	}
	f.rollbacks.HistoryFn = func(context.Context, roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
		return []*roman.RollbackEvent{{EventID: cliEventID, DeploymentID: cliDepID, InitiatedAt: cliT0}}, nil
	}
	snap := &roman.Snapshot{SnapshotID: cliSnapA, DeploymentID: cliDepID, SnapshotType: roman.SnapshotPreDeployment, CreatedAt: cliT0}
	f.snapshots.CreateFn = func(context.Context, string, string) (*roman.Snapshot, error) { return snap, nil }
	f.snapshots.ListFn = func(context.Context, string) ([]*roman.Snapshot, error) { return []*roman.Snapshot{snap}, nil }
	f.deployments.GetFn = func(context.Context, string) (*roman.Deployment, error) { return cliDeployment(), nil }
	url := cliServe(t, f)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy", "record", "--environment", "production", "--version", "v2.5.3", "--git-commit", "a7f3b29c0ffee", "--git-branch", "main", "-q"}, cliDepID + "\n"},
		{[]string{"deploy", "list", "--quiet"}, cliDepID + "\n" + cliTargetID + "\n"},
		{[]string{"history", "-q"}, cliEventID + "\n"},
		{[]string{"snapshot", "create", cliDepID, "--type", "pre_deployment", "-q"}, cliSnapA + "\n"},
		{[]string{"snapshot", "list", cliDepID, "-q", "-o", "json"}, cliSnapA + "\n"},
	} {
		out, _, err := cliRun(t, cliArgs(url, tc.args...)...)
		if err != nil || out != tc.want {
			t.Errorf("roman %s printed %q, %v; want %q", strings.Join(tc.args, " "), out, err, tc.want)
		}
	}
}

func TestRollbackWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		final   string
		timeout string
		wantErr string
	}{
		{"success", roman.RollbackSuccess, "5s", ""},
		{"failed", roman.RollbackFailed, "5s", "rollback " + cliEventID + " failed"},
		{"aborted", roman.RollbackAborted, "5s", "aborted"},
		{"timeout", "", "50ms", "did not finish within 50ms (status in_progress)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &cliFakes{}
			f.rollbacks.ExecuteFn = func(context.Context, roman.RollbackRequest) (*roman.RollbackResult, error) {
				return &roman.RollbackResult{Success: true, EventID: cliEventID, Status: roman.RollbackInProgress, Validation: roman.Validation{Compliant: true}}, nil
			}
			var mu sync.Mutex
			polls := 0
			f.rollbacks.HistoryFn = func(_ context.Context, fl roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
				mu.Lock()
				defer mu.Unlock()
				polls++
				ev := &roman.RollbackEvent{EventID: cliEventID, DeploymentID: fl.DeploymentID, Status: roman.RollbackInProgress, InitiatedAt: cliT0,
					TriggerType: roman.TriggerManual, TriggerReason: "bad"}
				if polls >= 3 && tc.final != "" {
					done := cliT0.Add(time.Minute)
					ev.Status, ev.CompletedAt = tc.final, &done
					ev.RollbackSteps = []roman.RollbackStep{{Name: roman.StepVerify, Status: roman.StepStatusSuccess, FinishedAt: done}}
				}
				return []*roman.RollbackEvent{ev}, nil
			}
			url := cliServe(t, f)
			out, _, err := cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "bad", "--wait", "--wait-interval", "5ms", "--timeout", tc.timeout)...)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q\n%s", err, tc.wantErr, out)
			}
			if !strings.Contains(out, "in progress; waiting") {
				t.Errorf("output:\n%s", out)
			}
			if tc.final != "" && (!strings.Contains(out, tc.final) || !strings.Contains(out, roman.StepVerify)) {
				t.Errorf("final event not printed:\n%s", out)
			}
		})
	}

	// Without --wait the command returns at once and says the rollback is
	// still in progress.
	f := &cliFakes{}
	f.rollbacks.ExecuteFn = func(context.Context, roman.RollbackRequest) (*roman.RollbackResult, error) {
		return &roman.RollbackResult{Success: true, EventID: cliEventID, Status: roman.RollbackInProgress, Validation: roman.Validation{Compliant: true}}, nil
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "rollback", cliDepID, "--reason", "bad")...)
	if err != nil || !strings.Contains(out, roman.RollbackInProgress) {
		t.Errorf("rollback without --wait: %v\n%s", err, out)
	}
	help, _, _ := cliRun(t, "rollback", "--help")
	if strings.Contains(help, "waits\nuntil the rollback has finished") || !strings.Contains(help, "in_progress") || !strings.Contains(help, "--wait") {
		t.Errorf("rollback --help does not say what it does:\n%s", help)
	}
}

func TestErrorsList(t *testing.T) {
	f := &cliFakes{}
	var got roman.ErrorGroupFilter
	f.newErrors.DeploymentErrorsFn = func(_ context.Context, id string, fl roman.ErrorGroupFilter) ([]roman.ErrorGroup, error) {
		if id != cliDepID {
			return nil, roman.Errorf(roman.ENOTFOUND, "deployment %s not found", id)
		}
		got = fl
		return []roman.ErrorGroup{
			{Fingerprint: "3f2a", New: true, Count: 12, FirstSeen: cliT0, LastSeen: cliT0.Add(time.Minute), Message: "user <n> gone", ErrorType: "KeyError", FirstDeploymentID: cliDepID},
			{Fingerprint: "9b1c", Count: 3, FirstSeen: cliT0, LastSeen: cliT0, Message: "cart is undefined"},
		}, nil
	}
	url := cliServe(t, f)
	out, _, err := cliRun(t, cliArgs(url, "errors", "list", cliDepID, "--new", "--limit", "5")...)
	if err != nil {
		t.Fatal(err)
	}
	if !got.NewOnly || got.Limit != 5 {
		t.Errorf("server got filter %+v", got)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "FINGERPRINT") || !strings.Contains(lines[1], "3f2a") || !strings.Contains(lines[1], "NEW") ||
		!strings.Contains(lines[1], "KeyError: user <n> gone") || !strings.Contains(lines[2], "known") {
		t.Errorf("output:\n%s", out)
	}
	out, _, err = cliRun(t, cliArgs(url, "errors", "list", cliDepID, "-q")...)
	if err != nil || out != "3f2a\n9b1c\n" {
		t.Errorf("-q: %q, %v", out, err)
	}
	if _, _, err := cliRun(t, cliArgs(url, "errors", "list", roman.NewUUID())...); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown deployment: %v", err)
	}
}
