package rollback_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/rollback"
)

// resumable is the recording executor that says a started run may go on.
type resumable struct{ *recordingExecutor }

func (resumable) Resumable(json.RawMessage) bool { return true }

// restart returns a new service on the same store, as a new process would
// build it, with exec as the environment's executor.
func (e *env) restart(exec roman.Executor) *rollback.Service {
	old := e.svc
	e.svc = &rollback.Service{Store: old.Store, Validator: old.Validator, Snapshots: old.Snapshots, Health: old.Health,
		Thresholds: old.Thresholds, Executor: func(string) roman.Executor { return exec }, Clock: old.Clock, Logger: old.Logger}
	return e.svc
}

// pendingEvent records a manual rollback event of bad ("bug") that crashed
// before its validation finished, with the given metadata.
func (e *env) pendingEvent(t *testing.T, bad *roman.Deployment, metadata string) *roman.RollbackEvent {
	t.Helper()
	ev := &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: bad.DeploymentID, TriggerType: roman.TriggerManual,
		TriggerReason: "bug", Status: roman.RollbackPending, Metadata: json.RawMessage(metadata)}
	if err := e.store.CreateRollbackEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// parkMidExecute starts a rollback whose executor blocks, then shuts the
// service down with no time left, so the run parks in the execute step.
func (e *env) parkMidExecute(t *testing.T, bad *roman.Deployment) *roman.RollbackEvent {
	t.Helper()
	ctx := context.Background()
	ex, res, err := e.executeBlocked(bad)
	if err != nil {
		t.Fatal(err)
	}
	<-ex.started
	gone, cancel := context.WithCancel(ctx)
	cancel()
	e.svc.Drain(gone)
	ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
	if ev.Status != roman.RollbackInProgress || len(ev.RollbackSteps) != 5 || ev.RollbackSteps[4].Name != roman.StepRecordDeployment {
		t.Fatalf("a parked rollback must stay in_progress after record_deployment: %s %+v", ev.Status, ev.RollbackSteps)
	}
	var meta map[string]any
	_ = json.Unmarshal(ev.Metadata, &meta)
	if meta["started_step"] != roman.StepExecute || meta["executor_progress"] == nil {
		t.Fatalf("metadata %v", meta)
	}
	return ev
}

func (e *env) rollbackRows(t *testing.T, bad *roman.Deployment) []*roman.Deployment {
	t.Helper()
	all, _ := e.store.ListDeployments(context.Background(), roman.DeploymentFilter{Environment: bad.Environment})
	var out []*roman.Deployment
	for _, d := range all {
		if d.RollbackFrom != nil && *d.RollbackFrom == bad.DeploymentID {
			out = append(out, d)
		}
	}
	return out
}

// TestResumeResumableExecutor: after a restart a run parked in a resumable
// executor continues with the progress it recorded, and completes without
// a second deployment row.
func TestResumeResumableExecutor(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		ev := e.parkMidExecute(t, bad)
		rec := resumable{&recordingExecutor{}}
		svc := e.restart(rec)
		if n, err := svc.Resume(ctx); err != nil || n != 1 {
			t.Fatalf("Resume: %d %v", n, err)
		}
		e.drain(t)
		got, _ := e.store.GetRollbackEvent(ctx, ev.EventID)
		if got.Status != roman.RollbackSuccess {
			t.Fatalf("resumed event %s: %+v", got.Status, got.RollbackSteps)
		}
		names := []string{}
		for _, s := range got.RollbackSteps {
			names = append(names, s.Name)
		}
		if strings.Join(names, ",") != "validate,pre_rollback_snapshot,identify_target,mark_rolled_back,record_deployment,execute,verify,complete" {
			t.Fatalf("steps %v", names)
		}
		if len(rec.reqs) != 1 || string(rec.reqs[0].Resume) != `{"executor":"blocking","step":1}` {
			t.Fatalf("executor calls %+v", rec.reqs)
		}
		rows := e.rollbackRows(t, bad)
		if len(rows) != 1 || rows[0].Status != roman.StatusSuccess || rows[0].DeploymentID != rec.reqs[0].NewDeploymentID {
			t.Fatalf("rollback deployment rows %+v", rows)
		}
		resumed, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: rollback.EventRollbackResumed})
		if len(resumed) != 1 {
			t.Fatalf("resume not logged: %+v", resumed)
		}
	})
}

// TestResumeInterrupted: an executor that cannot be resumed (a command, a
// webhook) fails the event with reason "interrupted" and an alert row, and
// is not run again.
func TestResumeInterrupted(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		ev := e.parkMidExecute(t, bad)
		rec := &recordingExecutor{}
		svc := e.restart(rec)
		if _, err := svc.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		got, _ := e.store.GetRollbackEvent(ctx, ev.EventID)
		var meta map[string]any
		_ = json.Unmarshal(got.Metadata, &meta)
		if got.Status != roman.RollbackFailed || got.CompletedAt == nil || meta["reason"] != "interrupted" || !strings.HasPrefix(meta["failure"].(string), "interrupted") {
			t.Fatalf("event %s %v", got.Status, meta)
		}
		if len(rec.reqs) != 0 {
			t.Fatal("a non-resumable executor ran again after the restart")
		}
		rows := e.rollbackRows(t, bad)
		if len(rows) != 1 || rows[0].Status != roman.StatusFailed {
			t.Fatalf("rollback rows %+v", rows)
		}
		crit, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackFailed, Severity: roman.SeverityCritical})
		if len(crit) != 1 || !strings.Contains(crit[0].Message, "interrupted") {
			t.Fatalf("alert rows %+v", crit)
		}
		// Nothing is left unfinished: a new rollback of the environment is
		// possible (the target is the new bad deployment's predecessor).
		if evs, _ := e.store.ListRollbackEvents(ctx, roman.RollbackFilter{Status: roman.RollbackInProgress}); len(evs) != 0 {
			t.Fatalf("still in progress: %d", len(evs))
		}
	})
}

// TestResumePendingEvent: an event that crashed before validation finished
// is validated and run from the start.
func TestResumePendingEvent(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		ev := e.pendingEvent(t, bad, `{"caller":"ci"}`)
		if n, err := e.svc.Resume(ctx); err != nil || n != 1 {
			t.Fatalf("%d %v", n, err)
		}
		e.drain(t)
		got, _ := e.store.GetRollbackEvent(ctx, ev.EventID)
		if got.Status != roman.RollbackSuccess || len(got.RollbackSteps) != 8 || len(e.rollbackRows(t, bad)) != 1 {
			t.Fatalf("event %s steps %d", got.Status, len(got.RollbackSteps))
		}
		if n, _ := e.svc.Resume(ctx); n != 0 {
			t.Fatalf("a finished event was resumed again")
		}
	})
}

// TestDrainFinishesInFlight: a graceful shutdown with time left waits for
// the running rollback to finish.
func TestDrainFinishesInFlight(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		ex, res, err := e.executeBlocked(bad)
		if err != nil {
			t.Fatal(err)
		}
		<-ex.started
		go close(ex.release)
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		e.svc.Drain(dctx)
		if dctx.Err() != nil {
			t.Fatal("Drain gave up although the executor finished")
		}
		if got, _ := e.store.GetRollbackEvent(ctx, res.EventID); got.Status != roman.RollbackSuccess {
			t.Fatalf("event %s", got.Status)
		}
	})
}

// TestDrainParksVerification: a graceful shutdown does not wait for a
// verify window: the run parks at once and resumes on the next start.
func TestDrainParksVerification(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		e.svc.VerifyWindow = func(string) time.Duration { return time.Hour }
		sleeping := make(chan struct{}, 1)
		e.svc.Sleep = func(ctx context.Context, d time.Duration) error {
			select {
			case sleeping <- struct{}{}:
			default:
			}
			<-ctx.Done() // the fake clock never moves: only a shutdown ends the window
			return ctx.Err()
		}
		res, err := e.svc.Execute(ctx, roman.RollbackRequest{DeploymentID: bad.DeploymentID, TriggerReason: "bug"})
		if err != nil || res.Status != roman.RollbackInProgress {
			t.Fatalf("%+v %v", res, err)
		}
		<-sleeping
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		e.svc.Drain(dctx)
		if dctx.Err() != nil {
			t.Fatal("Drain waited for the verify window")
		}
		ev, _ := e.store.GetRollbackEvent(ctx, res.EventID)
		if ev.Status != roman.RollbackInProgress || len(ev.RollbackSteps) != 6 {
			t.Fatalf("parked event %s with %d steps", ev.Status, len(ev.RollbackSteps))
		}
		svc := e.restart(resumable{&recordingExecutor{}})
		if n, err := svc.Resume(ctx); err != nil || n != 1 {
			t.Fatalf("%d %v", n, err)
		}
		e.drain(t)
		if ev, _ = e.store.GetRollbackEvent(ctx, res.EventID); ev.Status != roman.RollbackSuccess || len(ev.RollbackSteps) != 8 {
			t.Fatalf("resumed event %s with %d steps", ev.Status, len(ev.RollbackSteps))
		}
	})
}

// blockingHealth is a health checker that blocks until its context ends.
type blockingHealth struct{ entered chan struct{} }

func (b blockingHealth) Check(ctx context.Context, d *roman.Deployment) (roman.Health, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return roman.Health{}, ctx.Err()
}

// TestDrainParksResumedValidation: a graceful shutdown that stops a resumed
// rollback in one of its quick steps (here validation) parks it: the event
// stays unfinished, no failure row or alert is written, and the next start
// runs it to the end.
func TestDrainParksResumedValidation(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, bad := e.seedScenario(t, "production")
		ev := e.pendingEvent(t, bad, `{"caller":"ci"}`)
		checker := e.svc.Health
		svc := e.restart(&recordingExecutor{})
		bh := blockingHealth{entered: make(chan struct{}, 1)}
		svc.Health = bh
		if n, err := svc.Resume(ctx); err != nil || n != 1 {
			t.Fatalf("Resume: %d %v", n, err)
		}
		<-bh.entered
		gone, cancel := context.WithCancel(ctx)
		cancel()
		svc.Drain(gone)

		got, _ := e.store.GetRollbackEvent(ctx, ev.EventID)
		if got.Status != roman.RollbackPending || got.CompletedAt != nil {
			t.Fatalf("a rollback parked in validation must stay pending: %s", got.Status)
		}
		if failed, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackFailed}); len(failed) != 0 {
			t.Fatalf("a parked rollback was reported failed: %+v", failed)
		}

		svc = e.restart(&recordingExecutor{})
		svc.Health = checker
		if n, err := svc.Resume(ctx); err != nil || n != 1 {
			t.Fatalf("second Resume: %d %v", n, err)
		}
		e.drain(t)
		if got, _ = e.store.GetRollbackEvent(ctx, ev.EventID); got.Status != roman.RollbackSuccess {
			t.Fatalf("resumed event %s %+v", got.Status, got.RollbackSteps)
		}
	})
}
