package rollback_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/appdb"
	"github.com/odyssey-1/roman/deploy"
	"github.com/odyssey-1/roman/executor"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/policy"
	"github.com/odyssey-1/roman/rollback"
	"github.com/odyssey-1/roman/sqldb"
)

func TestMain(m *testing.M) { testpg.Main(m) }

type env struct {
	store *sqldb.DB
	clock *testkit.Clock
	deps  *deploy.Deployments
	svc   *rollback.Service
	snaps *deploy.Snapshots
	exec  *recordingExecutor
}

// recordingExecutor is the none executor plus a record of what it was asked,
// and an optional failure.
type recordingExecutor struct {
	mu   sync.Mutex
	reqs []roman.ExecuteRequest
	err  error
}

func (e *recordingExecutor) Name() string { return "none" }

// Resumable is false, as an executor that cannot continue an interrupted
// run answers (resume_test.go wraps it in one that can).
func (e *recordingExecutor) Resumable(json.RawMessage) bool { return false }
func (e *recordingExecutor) Execute(ctx context.Context, req roman.ExecuteRequest) (json.RawMessage, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reqs = append(e.reqs, req)
	if e.err != nil {
		return nil, e.err
	}
	return executor.None{}.Execute(ctx, req)
}

func newEnv(t *testing.T, url string) *env {
	t.Helper()
	log := testkit.Discard()
	st, err := sqldb.Open(context.Background(), url, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
	th := func(string) roman.Thresholds { return roman.DefaultThresholds() }
	checker := &health.Checker{Store: st, Thresholds: th, Clock: clock.Now}
	snaps := &deploy.Snapshots{Store: st, App: appdb.New(st.SQL(), st.Dialect()), Health: checker, Clock: clock.Now, Logger: log,
		Config: func(env string) map[string]any {
			return map[string]any{"environment": env, "executor": "none", "discord_webhook_url": "https://discord.example/secret"}
		}}
	ex := &recordingExecutor{}
	e := &env{store: st, clock: clock, snaps: snaps, exec: ex,
		deps: &deploy.Deployments{Store: st, Snapshots: snaps, Clock: clock.Now, Logger: log},
		svc: &rollback.Service{Store: st, Validator: policy.MustDefault(), Snapshots: snaps, Health: checker, Thresholds: th,
			Executor: func(string) roman.Executor { return ex }, Clock: clock.Now, Logger: log},
	}
	return e
}

func stores(t *testing.T, fn func(t *testing.T, e *env)) {
	testkit.EachStore(t, func(t *testing.T, url string) { fn(t, newEnv(t, url)) })
}

// seedScenario records the seed's example: v2.5.2 healthy at 13:45, v2.5.3
// completed at 14:00.
func (e *env) seedScenario(t *testing.T, env string) (good, bad *roman.Deployment) {
	t.Helper()
	ctx := context.Background()
	good, _, err := e.deps.Record(ctx, &roman.Deployment{Environment: env, Version: "v2.5.2", GitCommit: "a7f3b29", GitBranch: "main",
		Status: roman.StatusSuccess, HealthCheckPassed: true, DeployedAt: e.clock.Now().Add(-15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	bad, _, err = e.deps.Record(ctx, &roman.Deployment{Environment: env, Version: "v2.5.3", GitCommit: "b81c4d0", GitBranch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	st := roman.StatusSuccess
	if bad, err = e.deps.Update(ctx, bad.DeploymentID, roman.DeploymentUpdate{Status: &st}); err != nil {
		t.Fatal(err)
	}
	return good, bad
}

func (e *env) errors(t *testing.T, d *roman.Deployment, n int, spread time.Duration) {
	t.Helper()
	evs := make([]roman.ErrorEvent, n)
	for i := range evs {
		evs[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: d.Environment, Message: "boom", Severity: "error",
			OccurredAt: e.clock.Now().Add(-time.Duration(i) * spread / time.Duration(n))}
	}
	if err := e.store.InsertErrorEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func TestManualRollbackRunsStepsInOrder(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		good, bad := e.seedScenario(t, "production")
		e.clock.Add(2 * time.Minute)
		e.errors(t, bad, 9, time.Minute)
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "Critical bug in payment flow"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Success || res.Status != roman.RollbackSuccess || !res.Validation.Compliant || res.SnapshotID == "" {
			t.Fatalf("result %+v", res)
		}
		if res.TargetDeployment.DeploymentID != good.DeploymentID || res.TargetDeployment.Version != "v2.5.2" || res.TargetDeployment.GitCommit != "a7f3b29" || !res.TargetDeployment.HealthCheckPassed {
			t.Fatalf("target %+v", res.TargetDeployment)
		}
		ev, err := e.store.GetRollbackEvent(ctx, res.EventID)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{roman.StepValidate, roman.StepSnapshot, roman.StepIdentifyTarget, roman.StepMarkRolledBack, roman.StepRecordDeployment, roman.StepExecute, roman.StepVerify, roman.StepComplete}
		if len(ev.RollbackSteps) != len(want) {
			t.Fatalf("steps %+v", ev.RollbackSteps)
		}
		for i, s := range ev.RollbackSteps {
			if s.Name != want[i] || s.Status != roman.StepStatusSuccess {
				t.Fatalf("step %d = %s/%s, want %s/success", i, s.Name, s.Status, want[i])
			}
		}
		if ev.Status != roman.RollbackSuccess || ev.CompletedAt == nil || ev.TriggerType != roman.TriggerManual || ev.Environment != "production" {
			t.Fatalf("event %+v", ev)
		}
		was, _ := e.store.GetDeployment(ctx, bad.DeploymentID)
		if was.Status != roman.StatusRolledBack || was.RolledBackAt == nil {
			t.Fatalf("bad deployment %+v", was)
		}
		nd, err := e.store.GetDeployment(ctx, res.NewDeploymentID)
		if err != nil {
			t.Fatal(err)
		}
		if nd.Version != "v2.5.2" || nd.GitCommit != "a7f3b29" || nd.RollbackFrom == nil || *nd.RollbackFrom != bad.DeploymentID || nd.Status != roman.StatusSuccess || !nd.HealthCheckPassed {
			t.Fatalf("new deployment %+v", nd)
		}
		if len(e.exec.reqs) != 1 || e.exec.reqs[0].Target.DeploymentID != good.DeploymentID {
			t.Fatalf("executor calls %+v", e.exec.reqs)
		}
		snap, err := e.snaps.Get(ctx, res.SnapshotID)
		if err != nil || snap.SnapshotType != roman.SnapshotPreRollback || snap.EnvironmentConfig["discord_webhook_url"] != roman.Redacted {
			t.Fatalf("snapshot %+v %v", snap, err)
		}
		vals, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackValidation, DeploymentID: bad.DeploymentID})
		if len(vals) != 1 || vals[0].Severity != roman.SeverityInfo {
			t.Fatalf("validation events %+v", vals)
		}
		// A second rollback of the same deployment names the event that did it.
		_, err = e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "again"})
		var re *roman.Error
		if !errors.As(err, &re) || re.Code != roman.ECONFLICT || re.EventID != res.EventID {
			t.Fatalf("second rollback: %v", err)
		}
	})
}

func TestRejectedRollbackChangesOnlyTheAuditLog(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		bad, _, err := e.deps.Record(ctx, &roman.Deployment{Environment: "staging", Version: "v1.0.0", GitCommit: "c0ffee1", GitBranch: "main", Status: roman.StatusSuccess})
		if err != nil {
			t.Fatal(err)
		}
		before, _ := e.store.ListDeployments(ctx, roman.DeploymentFilter{Environment: "staging"})
		_, err = e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "first deploy is broken"})
		var rej *roman.RejectedError
		if !errors.As(err, &rej) || rej.Validation.Compliant || len(rej.Validation.Violations) != 1 || rej.Validation.Violations[0] != policy.MsgNoTarget {
			t.Fatalf("want rejection for no target, got %v %+v", err, rej)
		}
		after, _ := e.store.ListDeployments(ctx, roman.DeploymentFilter{Environment: "staging"})
		if len(after) != len(before) || after[0].Status != roman.StatusSuccess || len(after[0].ConstitutionalValidation) != 0 {
			t.Fatalf("deployments changed: %+v", after[0])
		}
		ev, err := e.store.GetRollbackEvent(ctx, rej.EventID)
		if err != nil || ev.Status != roman.RollbackAborted || ev.CompletedAt == nil || len(ev.RollbackSteps) != 1 {
			t.Fatalf("aborted event %+v %v", ev, err)
		}
		rows, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackValidation, Severity: roman.SeverityError})
		if len(rows) != 1 {
			t.Fatalf("rejections logged: %d", len(rows))
		}
		if len(e.exec.reqs) != 0 {
			t.Fatal("executor ran on a rejected rollback")
		}
		// The environment is free again: the aborted event is finished.
		if _, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "retry"}); !errors.As(err, &rej) {
			t.Fatalf("retry: %v", err)
		}
	})
}

func TestAutomaticRollbackOfStableSystemRejected(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		_, bad := e.seedScenario(t, "production")
		_, err := e.svc.Execute(context.Background(), roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "spike", TriggerType: roman.TriggerAutomatic})
		var rej *roman.RejectedError
		if !errors.As(err, &rej) || rej.Validation.Violations[0] != "System already stable: error rate 0/minute" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestExecutorFailureFailsEvent(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		e.exec.err = errors.New("platform unreachable")
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Success || res.Status != roman.RollbackFailed {
			t.Fatalf("result %+v", res)
		}
		nd, _ := e.store.GetDeployment(ctx, res.NewDeploymentID)
		if nd.Status != roman.StatusFailed {
			t.Fatalf("new deployment %s", nd.Status)
		}
		crit, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackFailed})
		if len(crit) != 1 || crit[0].Severity != roman.SeverityCritical {
			t.Fatalf("failure events %+v", crit)
		}
	})
}

func TestRequestChecks(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		for _, tc := range []struct {
			req  roman.RollbackRequest
			code string
		}{
			{roman.RollbackRequest{DeploymentID: "abc-123", TriggerReason: "x"}, roman.EINVALID},
			{roman.RollbackRequest{DeploymentID: bad.DeploymentID}, roman.EINVALID},
			{roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "x", InitiatedBy: "nope"}, roman.EINVALID},
			{roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "x", Override: true}, roman.EFORBIDDEN},
			{roman.RollbackRequest{DeploymentID: roman.NewUUID(), TriggerReason: "x"}, roman.ENOTFOUND},
		} {
			if _, err := e.svc.Execute(ctx, tc.req); roman.ErrorCode(err) != tc.code {
				t.Errorf("%+v: got %v, want %s", tc.req, err, tc.code)
			}
		}
		if evs, _ := e.store.ListRollbackEvents(ctx, roman.RollbackFilter{}); len(evs) != 0 {
			t.Fatalf("bad requests wrote %d events", len(evs))
		}
	})
}

func TestCheck(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		res, err := e.svc.Check(ctx, bad.DeploymentID)
		if err != nil || res.ShouldRollback || res.Health.Status != roman.HealthHealthy || res.Health.ErrorRatePerMinute != 0 {
			t.Fatalf("check %+v %v", res, err)
		}
		e.errors(t, bad, 9, 30*time.Second)
		res, _ = e.svc.Check(ctx, bad.DeploymentID)
		if !res.ShouldRollback || res.Reason != "High error rate: 9 errors/minute" {
			t.Fatalf("check %+v", res)
		}
	})
}

// flakyStore fails the first writes of a final rollback status, as a
// database that is briefly unreachable does.
type flakyStore struct {
	rollback.Store
	mu       sync.Mutex
	failures int
}

func (f *flakyStore) UpdateRollbackEvent(ctx context.Context, id string, u roman.RollbackEventUpdate) error {
	f.mu.Lock()
	fail := u.Status != nil && *u.Status == roman.RollbackSuccess && f.failures > 0
	if fail {
		f.failures--
	}
	f.mu.Unlock()
	if fail {
		return &roman.Error{Code: roman.EINTERNAL, Err: errors.New("connection reset by peer")}
	}
	return f.Store.UpdateRollbackEvent(ctx, id, u)
}

// TestFinalStatusWriteIsRetried: a database that fails the write of the
// final status for a moment does not leave the event unfinished (which
// would block the environment's next rollback until a restart).
func TestFinalStatusWriteIsRetried(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		e.svc.Store = &flakyStore{Store: e.store, failures: 2}
		var waits []time.Duration
		e.svc.Sleep = func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			e.clock.Add(d)
			return nil
		}
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
		if err != nil || res.Status != roman.RollbackSuccess {
			t.Fatalf("%+v %v", res, err)
		}
		e.drain(t)
		if ev, _ := e.store.GetRollbackEvent(ctx, res.EventID); ev.Status != roman.RollbackSuccess || ev.CompletedAt == nil {
			t.Fatalf("event %s after a brief database failure", ev.Status)
		}
		if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
			t.Fatalf("waits before the retries: %v", waits)
		}
	})
}
