package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
)

// DefaultResponseWait bounds how long POST /auto-rollback waits for the
// executor before answering with status in_progress.
const DefaultResponseWait = 30 * time.Second

// errDraining is the cancellation cause of the background context during a
// graceful shutdown; errParked is what a step returns when it stopped for
// it.
var (
	errDraining = errors.New("roman is shutting down")
	errParked   = errors.New("rollback parked for shutdown")
)

// parked reports whether ctx was cancelled by a graceful shutdown.
func parked(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), errDraining)
}

// background runs the steps that may take long (execute, verify) outside
// the request, so that a rollback survives its caller and a graceful
// shutdown can wait for it or park it. Execute waits in start.
type background struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	// draining is closed when Drain starts: runs that are only verifying
	// park at once (verification is repeatable), executors get the time.
	draining  chan struct{}
	drainOnce sync.Once
}

func (b *background) init() {
	b.once.Do(func() {
		// Rollbacks are decisions: their reads use the store's decision
		// connections (roman.ForDecisions), which dashboards cannot take.
		b.ctx, b.cancel = context.WithCancelCause(roman.ForDecisions(context.Background()))
		b.draining = make(chan struct{})
	})
}

// spawn runs fn in the background with the service's background context.
func (s *Service) spawn(fn func(ctx context.Context)) {
	s.bg.init()
	s.bg.wg.Add(1)
	go func() {
		defer s.bg.wg.Done()
		fn(s.bg.ctx)
	}()
}

// Drain waits for background rollbacks to finish until ctx is done; then it
// cancels them, and each parks (a run that is verifying parks at once, as
// verification is repeatable): it stays in_progress with the steps it
// finished recorded, and the next start resumes it (see Resume). Drain
// returns once every background run returned, which after the cancellation
// takes as long as the executor needs to stop (a command gets SIGTERM, then
// SIGKILL after executor.KillGrace).
func (s *Service) Drain(ctx context.Context) {
	s.bg.init()
	s.bg.drainOnce.Do(func() { close(s.bg.draining) })
	done := make(chan struct{})
	go func() {
		s.bg.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	s.Logger.Warn("graceful shutdown: parking unfinished rollbacks; they resume on the next start")
	s.bg.cancel(errDraining)
	<-done
}

// Wait waits until no rollback runs in the background, or until ctx is
// done (then it returns ctx's error). Unlike Drain it cancels nothing.
func (s *Service) Wait(ctx context.Context) error {
	s.bg.init()
	done := make(chan struct{})
	go func() {
		s.bg.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// background hands execute, verify and complete to a background goroutine
// and waits until the run finishes, parks or enters a verify window, or
// until ResponseWait passes; the answer then says in_progress and the run
// goes on.
func (r *run) background(ctx context.Context, target, nd *roman.Deployment) (*roman.RollbackResult, error) {
	r.s.spawn(func(bctx context.Context) {
		defer r.handedOff()
		r.finish(bctx, target, nd)
	})
	wait := r.s.ResponseWait
	if wait <= 0 {
		wait = DefaultResponseWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-r.handoff:
	case <-t.C:
	case <-ctx.Done():
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.result
	if res.Status == "" {
		// Approved and under way: the event's status is in_progress.
		res.Success, res.Status = true, roman.RollbackInProgress
	}
	return &res, nil
}

// handedOff releases the caller waiting in background.
func (r *run) handedOff() { r.handoffOnce.Do(func() { close(r.handoff) }) }

// markStarted records in the event's metadata that a step which cannot
// simply be run again has started (and, for the executor, what it reported
// so far), so that a restart knows whether it may resume or must fail the
// event as interrupted.
func (r *run) markStarted(ctx context.Context, step string, progress []byte) {
	r.mu.Lock()
	r.meta["started_step"] = step
	if progress != nil {
		r.meta["executor_progress"] = json.RawMessage(progress)
	}
	meta := mustJSON(r.meta)
	r.mu.Unlock()
	if err := r.s.Store.UpdateRollbackEvent(context.WithoutCancel(ctx), r.ev.EventID, roman.RollbackEventUpdate{Metadata: meta}); err != nil {
		r.s.Logger.Error("recording rollback progress failed", "event_id", r.ev.EventID, "step", step, "err", err)
	}
}

// startedStep reports whether a previous process started step without
// finishing it, and the executor progress it recorded.
func (r *run) startedStep(step string) (bool, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.meta["started_step"] != step {
		return false, nil
	}
	if p, ok := r.meta["executor_progress"]; ok && p != nil {
		return true, mustJSON(p)
	}
	return true, nil
}

// interrupted fails an event whose step was cut off by a crash and cannot
// be resumed safely (crash safety): the reason is "interrupted",
// with a critical roman_events row (the alert).
func (r *run) interrupted(ctx context.Context, step string, nd *roman.Deployment) {
	ctx = context.WithoutCancel(ctx)
	if nd != nil {
		r.finishDeployment(ctx, nd, roman.StatusFailed, nil)
	}
	r.mu.Lock()
	r.meta["reason"] = "interrupted"
	r.mu.Unlock()
	r.fail(ctx, "interrupted: roman stopped during step "+step+", which cannot be resumed safely; check the platform's state", nil)
}

// recordDeployment creates the rollback's deployment row with the id fixed
// in the plan, or returns the row a previous process created.
func (r *run) recordDeployment(ctx context.Context, target *roman.Deployment) (*roman.Deployment, error) {
	s := r.s
	if _, ok := r.done[roman.StepRecordDeployment]; ok {
		return s.Store.GetDeployment(ctx, r.newID)
	}
	nd := &roman.Deployment{
		DeploymentID: r.newID, Service: r.bad.Service, Environment: r.bad.Environment,
		Version: target.Version, GitCommit: target.GitCommit, GitBranch: target.GitBranch,
		DeployedAt: roman.UTC(s.Clock()), Status: roman.StatusInProgress,
		RollbackFrom: &r.bad.DeploymentID,
		Metadata:     mustJSON(map[string]any{"rollback_event_id": r.ev.EventID}),
	}
	if r.ev.InitiatedBy != nil {
		nd.DeployedBy = r.ev.InitiatedBy
	}
	err := r.step(ctx, roman.StepRecordDeployment, func() (any, error) {
		err := s.Store.CreateDeployment(ctx, nd)
		if roman.ErrorCode(err) == roman.ECONFLICT {
			// A previous process created it and stopped before recording
			// the step.
			old, gerr := s.Store.GetDeployment(ctx, nd.DeploymentID)
			if gerr != nil {
				return nil, gerr
			}
			nd, err = old, nil
		}
		return map[string]any{"deployment_id": nd.DeploymentID, "version": nd.Version}, err
	})
	return nd, err
}
