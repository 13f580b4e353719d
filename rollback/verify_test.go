package rollback_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// withVerifyWindow gives the service a verify window on the fake clock:
// each sleep advances the clock (after onSleep, which may ingest errors).
func (e *env) withVerifyWindow(window time.Duration, onSleep func()) {
	e.svc.VerifyWindow = func(string) time.Duration { return window }
	e.svc.Sleep = func(ctx context.Context, d time.Duration) error {
		if onSleep != nil {
			onSleep()
		}
		e.clock.Add(d)
		return ctx.Err()
	}
}

func (e *env) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.svc.Wait(ctx); err != nil {
		t.Fatal("background rollbacks did not finish")
	}
}

func stepNamed(t *testing.T, ev *roman.RollbackEvent, name string) map[string]any {
	t.Helper()
	for _, s := range ev.RollbackSteps {
		if s.Name == name {
			var d map[string]any
			_ = json.Unmarshal(s.Detail, &d)
			return d
		}
	}
	t.Fatalf("no step %s in %+v", name, ev.RollbackSteps)
	return nil
}

// TestVerifyWindowHealthy: the request is answered in_progress without
// waiting for the window; the window is watched on the fake clock and the
// rollback then succeeds.
func TestVerifyWindowHealthy(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		// The window cannot move until the request is answered, so the
		// answer proves it did not wait for the window.
		answered := make(chan struct{})
		e.withVerifyWindow(time.Minute, func() { <-answered })
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
		close(answered)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Success || res.Status != roman.RollbackInProgress || res.NewDeploymentID == "" || res.TargetDeployment == nil {
			t.Fatalf("answer before verification: %+v", res)
		}
		e.drain(t)
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		if ev.Status != roman.RollbackSuccess {
			t.Fatalf("event %s", ev.Status)
		}
		v := stepNamed(t, ev, roman.StepVerify)
		if v["window_seconds"] != 60.0 || v["checks"] != 13.0 || v["healthy"] != true {
			t.Fatalf("verify detail %v", v)
		}
		nd, _ := e.store.GetDeployment(ctx, res.NewDeploymentID)
		if nd.Status != roman.StatusSuccess || !nd.HealthCheckPassed {
			t.Fatalf("new deployment %+v", nd)
		}
	})
}

// TestVerifyWindowStillUnhealthy: the redeployed version keeps failing for
// the whole window: event failed, new deployment failed, a critical
// roman_events row asking for a human.
func TestVerifyWindowStillUnhealthy(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		e.unhealthyRedeploy(t, "production")
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
		if err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		if ev.Status != roman.RollbackFailed || ev.CompletedAt == nil {
			t.Fatalf("event %+v", ev)
		}
		if v := stepNamed(t, ev, roman.StepVerify); v["healthy"] != false || v["unhealthy_checks"] != 12.0 {
			t.Fatalf("verify detail %v", v)
		}
		got, _ := e.store.GetDeployment(ctx, res.NewDeploymentID)
		if got.Status != roman.StatusFailed || got.HealthCheckPassed {
			t.Fatalf("new deployment %+v", got)
		}
		crit, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackFailed})
		if len(crit) != 1 || crit[0].Severity != roman.SeverityCritical || !strings.Contains(crit[0].Message, "manual intervention required") {
			t.Fatalf("failure rows %+v", crit)
		}
	})
}

// TestVerifyRecoversWithinWindow: errors right after the redeploy that stop
// before the window ends do not fail the rollback: the verdict is the
// system's state at the end of the window.
func TestVerifyRecoversWithinWindow(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		sleeps := 0
		e.withVerifyWindow(2*time.Minute, func() {
			sleeps++
			if sleeps == 1 {
				list, _ := e.store.ListDeployments(ctx, roman.DeploymentFilter{Environment: "production", Status: roman.StatusInProgress})
				e.errors(t, list[0], 20, 10*time.Second)
			}
		})
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
		if err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		v := stepNamed(t, ev, roman.StepVerify)
		if ev.Status != roman.RollbackSuccess || v["unhealthy_checks"].(float64) < 1 {
			t.Fatalf("event %s, verify %v", ev.Status, v)
		}
	})
}

// blockingExecutor runs until released or cancelled; Resumable is
// configurable.
type blockingExecutor struct {
	release   chan struct{}
	resumable bool
	started   chan struct{}
	once      sync.Once
}

func newBlocking(resumable bool) *blockingExecutor {
	return &blockingExecutor{release: make(chan struct{}), started: make(chan struct{}), resumable: resumable}
}

// executeBlocked asks for a rollback of bad ("bug") with an executor that
// blocks until released, and returns the executor and the answer, given
// after a ResponseWait of 1 ms.
func (e *env) executeBlocked(bad *roman.Deployment) (*blockingExecutor, *roman.RollbackResult, error) {
	ex := newBlocking(false)
	e.svc.Executor = func(string) roman.Executor { return ex }
	e.svc.ResponseWait = time.Millisecond
	res, err := e.svc.Execute(context.Background(), roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
	return ex, res, err
}

func (b *blockingExecutor) Name() string { return "blocking" }
func (b *blockingExecutor) Execute(ctx context.Context, req roman.ExecuteRequest) (json.RawMessage, error) {
	b.once.Do(func() { close(b.started) })
	if req.Progress != nil {
		req.Progress(json.RawMessage(`{"executor":"blocking","step":1}`))
	}
	select {
	case <-b.release:
		return json.RawMessage(`{"executor":"blocking"}`), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (b *blockingExecutor) Resumable(p json.RawMessage) bool { return b.resumable }

// TestSlowExecutorAnsweredInProgress: the request waits ResponseWait for
// the executor, then answers in_progress; the rollback finishes later.
func TestSlowExecutorAnsweredInProgress(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		ex, res, err := e.executeBlocked(bad)
		if err != nil || res.Status != roman.RollbackInProgress || !res.Success {
			t.Fatalf("%+v %v", res, err)
		}
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		if ev.Status != roman.RollbackInProgress {
			t.Fatalf("event %s while the executor runs", ev.Status)
		}
		// A second request meanwhile is the exactly-once conflict.
		_, bad2 := e.seedScenario(t, "production")
		_, err = e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad2.DeploymentID, TriggerReason: "again"})
		var re *roman.Error
		if roman.ErrorCode(err) != roman.ECONFLICT || !asErr(err, &re) || re.EventID != res.EventID {
			t.Fatalf("concurrent rollback: %v", err)
		}
		close(ex.release)
		e.drain(t)
		if ev, _ = e.store.GetRollbackEvent(ctx, res.EventID); ev.Status != roman.RollbackSuccess {
			t.Fatalf("event %s after release", ev.Status)
		}
	})
}

func asErr(err error, target **roman.Error) bool {
	e, ok := err.(*roman.Error)
	if ok {
		*target = e
	}
	return ok
}

// unhealthyRedeploy gives the service a one-minute verify window in which
// the redeploy a rollback records in env keeps failing: every verification
// check first posts 9 errors a minute for it.
func (e *env) unhealthyRedeploy(t *testing.T, env string) {
	t.Helper()
	var mu sync.Mutex
	var nd *roman.Deployment
	e.withVerifyWindow(time.Minute, func() {
		mu.Lock()
		defer mu.Unlock()
		if nd == nil {
			list, _ := e.store.ListDeployments(context.Background(), roman.DeploymentFilter{Environment: env, Status: roman.StatusInProgress})
			nd = list[0]
		}
		e.errors(t, nd, 9, time.Minute)
	})
}
