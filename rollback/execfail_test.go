package rollback_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// hangingExecutor never finishes by itself: it returns only when its
// context ends (the executor timeout), as a platform that does not answer.
type hangingExecutor struct{}

func (hangingExecutor) Name() string                   { return "none" }
func (hangingExecutor) Resumable(json.RawMessage) bool { return false }
func (hangingExecutor) Execute(ctx context.Context, _ roman.ExecuteRequest) (json.RawMessage, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// current is the deployment that errors reported by environment count for.
func (e *env) current(t *testing.T, env string) *roman.Deployment {
	t.Helper()
	d, err := e.store.CurrentDeployment(context.Background(), roman.DefaultService, env)
	if err != nil || d == nil {
		t.Fatalf("CurrentDeployment(%s) = %v, %v", env, d, err)
	}
	return d
}

// assertBadReleaseLive checks what a rollback that failed before its target
// was redeployed leaves: the bad release success again with no
// rolled_back_at and current for its environment, the new row failed, the
// event failed with the undo step, a deployment_status row and a
// rollback_failed alert that says the bad release is still live.
func (e *env) assertBadReleaseLive(t *testing.T, bad *roman.Deployment, eventID, detailPrefix string, alerts func() []roman.Alert) {
	t.Helper()
	ctx := context.Background()
	got, _ := e.store.GetDeployment(ctx, bad.DeploymentID)
	if got.Status != roman.StatusSuccess || got.RolledBackAt != nil {
		t.Fatalf("bad deployment after a failed redeploy: status %s, rolled_back_at %v", got.Status, got.RolledBackAt)
	}
	if cur := e.current(t, bad.Environment); cur.DeploymentID != bad.DeploymentID {
		t.Fatalf("current deployment %s (%s), want the bad release %s", cur.DeploymentID, cur.Version, bad.DeploymentID)
	}
	if rows := e.rollbackRows(t, bad); len(rows) != 1 || rows[0].Status != roman.StatusFailed {
		t.Fatalf("rollback rows %+v", rows)
	}
	ev, _ := e.store.GetRollbackEvent(ctx, eventID)
	if ev.Status != roman.RollbackFailed || ev.CompletedAt == nil {
		t.Fatalf("event %s", ev.Status)
	}
	last := ev.RollbackSteps[len(ev.RollbackSteps)-1]
	if last.Name != roman.StepUndoMarkRolledBack || last.Status != roman.StepStatusSuccess {
		t.Fatalf("last step %+v", last)
	}
	if d := stepNamed(t, ev, roman.StepUndoMarkRolledBack); d["status"] != roman.StatusSuccess || d["deployment_id"] != bad.DeploymentID {
		t.Fatalf("undo step detail %v", d)
	}
	var meta map[string]any
	_ = json.Unmarshal(ev.Metadata, &meta)
	if meta["live_deployment_id"] != bad.DeploymentID {
		t.Fatalf("event metadata %v", meta)
	}
	rows, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventDeploymentStatus, DeploymentID: bad.DeploymentID})
	if len(rows) == 0 || !strings.Contains(rows[0].Message, "is success again") {
		t.Fatalf("deployment_status rows %+v", rows)
	}
	var failed []roman.Alert
	for _, a := range alerts() {
		if a.Kind == roman.AlertRollbackFailed && a.RollbackEventID == eventID {
			failed = append(failed, a)
		}
	}
	if len(failed) != 1 || !strings.HasPrefix(failed[0].Detail, detailPrefix) ||
		!strings.Contains(failed[0].Detail, bad.Version+" is still live: its status is success again") {
		t.Fatalf("rollback_failed alerts %+v", failed)
	}
	crit, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackFailed, Severity: roman.SeverityCritical})
	if len(crit) == 0 || !strings.Contains(crit[0].Message, "manual intervention required") || !strings.Contains(crit[0].Message, "still live") {
		t.Fatalf("rollback_failed rows %+v", crit)
	}
}

// retrySucceeds rolls back again at once with a working executor: the
// environment is free and the bad release can be rolled back again.
func (e *env) retrySucceeds(t *testing.T, bad *roman.Deployment, failedEvent string) {
	t.Helper()
	ctx := context.Background()
	e.exec.err = nil
	e.svc.Executor = func(string) roman.Executor { return e.exec }
	e.svc.ExecutorTimeout = 0
	res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "retry after a failed redeploy"})
	if err != nil || res.Status != roman.RollbackSuccess || res.EventID == failedEvent {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	e.drain(t)
	got, _ := e.store.GetDeployment(ctx, bad.DeploymentID)
	if got.Status != roman.StatusRolledBack || got.RolledBackAt == nil {
		t.Fatalf("bad deployment after the retry %+v", got)
	}
	if cur := e.current(t, bad.Environment); cur.DeploymentID != res.NewDeploymentID {
		t.Fatalf("current deployment after the retry %s, want the redeploy %s", cur.DeploymentID, res.NewDeploymentID)
	}
}

// TestExecutorFailureRestoresBadRelease: when the executor fails or times
// out the target was not redeployed, so the bad release is still what
// runs: it gets its status back, the new row and the event are failed, a
// critical alert says the bad release is live, errors by environment count
// for it, and a retry is accepted at once.
func TestExecutorFailureRestoresBadRelease(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(e *env)
		prefix string
	}{
		{"fails", func(e *env) { e.exec.err = roman.Errorf(roman.EUNAVAILABLE, "platform unreachable") }, "executor none failed: platform unreachable"},
		{"times out", func(e *env) {
			e.svc.Executor = func(string) roman.Executor { return hangingExecutor{} }
			// The bound is a context deadline: a nanosecond passes at
			// once, so the test never waits.
			e.svc.ExecutorTimeout = time.Nanosecond
		}, "executor none timed out after 1ns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores(t, func(t *testing.T, e *env) {
				ctx := context.Background()
				alerts := e.routeAll(t)
				_, bad := e.seedScenario(t, "production")
				tc.setup(e)
				res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
				if err != nil || res.Success || res.Status != roman.RollbackFailed || !strings.HasPrefix(res.Error, tc.prefix) {
					t.Fatalf("Execute = %+v, %v", res, err)
				}
				e.drain(t)
				e.assertBadReleaseLive(t, bad, res.EventID, tc.prefix, alerts)
				e.retrySucceeds(t, bad, res.EventID)
			})
		})
	}
}

// TestInterruptedExecutorRestoresBadRelease: a rollback cut off in a
// non-resumable executor step and failed as interrupted after the restart
// follows the same rule: the bad release gets its status back.
func TestInterruptedExecutorRestoresBadRelease(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alerts := e.routeAll(t)
		_, bad := e.seedScenario(t, "production")
		ev := e.parkMidExecute(t, bad)
		if got, _ := e.store.GetDeployment(ctx, bad.DeploymentID); got.Status != roman.StatusRolledBack {
			t.Fatalf("parked rollback: bad deployment %s", got.Status)
		}
		e.restart(e.exec)
		if _, err := e.svc.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		e.assertBadReleaseLive(t, bad, ev.EventID, "interrupted: roman stopped during step execute", alerts)
		e.retrySucceeds(t, bad, ev.EventID)
	})
}

// TestVerifyFailureKeepsBadReleaseRolledBack: when the redeploy succeeded
// but the system is still unhealthy, the target is what runs: the bad
// release stays rolled_back, the new row and the event are failed, and the
// alert says which release runs.
func TestVerifyFailureKeepsBadReleaseRolledBack(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alerts := e.routeAll(t)
		good, bad := e.seedScenario(t, "production")
		e.unhealthyRedeploy(t, "production")
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
		if err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		if ev.Status != roman.RollbackFailed {
			t.Fatalf("event %s", ev.Status)
		}
		for _, s := range ev.RollbackSteps {
			if s.Name == roman.StepUndoMarkRolledBack {
				t.Fatalf("the mark was undone after a successful redeploy: %+v", ev.RollbackSteps)
			}
		}
		got, _ := e.store.GetDeployment(ctx, bad.DeploymentID)
		if got.Status != roman.StatusRolledBack || got.RolledBackAt == nil {
			t.Fatalf("bad deployment %+v", got)
		}
		if n, _ := e.store.GetDeployment(ctx, res.NewDeploymentID); n.Status != roman.StatusFailed {
			t.Fatalf("new deployment %s", n.Status)
		}
		var meta map[string]any
		_ = json.Unmarshal(ev.Metadata, &meta)
		if meta["live_deployment_id"] != good.DeploymentID {
			t.Fatalf("live deployment %v, want the target %s", meta["live_deployment_id"], good.DeploymentID)
		}
		var failed []roman.Alert
		for _, a := range alerts() {
			if a.Kind == roman.AlertRollbackFailed {
				failed = append(failed, a)
			}
		}
		want := "the redeploy of v2.5.2 succeeded, so v2.5.2 is what runs and v2.5.3 stays rolled_back"
		if len(failed) != 1 || !strings.HasPrefix(failed[0].Detail, "rolled-back system still unhealthy after verification") || !strings.Contains(failed[0].Detail, want) {
			t.Fatalf("rollback_failed alerts %+v", failed)
		}
		// Still rolled_back: a new request names the failed event.
		_, err = e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "again"})
		var re *roman.Error
		if !errors.As(err, &re) || re.Code != roman.ECONFLICT || re.EventID != res.EventID {
			t.Fatalf("second rollback: %v", err)
		}
	})
}
