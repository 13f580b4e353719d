package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
)

// run is one rollback in progress.
type run struct {
	s      *Service
	ev     *roman.RollbackEvent
	bad    *roman.Deployment
	req    roman.RollbackRequest
	result roman.RollbackResult // guarded by mu once the run is in the background

	mu        sync.Mutex
	startedAt time.Time
	// newID is the id of the deployment row the rollback records, fixed in
	// the plan before the row is created.
	newID string
	// done holds the steps a previous process finished (resume only).
	done map[string]roman.RollbackStep
	// meta is the event's metadata, rewritten whole on each change.
	meta map[string]any
	// prevStatus is the bad deployment's status before the rollback marked
	// it rolled_back (kept in the plan), what a failure before the redeploy
	// restores.
	prevStatus string
	// marked is set once the bad deployment is marked rolled_back and
	// redeployed once the executor redeployed the target: a failure in
	// between leaves the bad release running, so its mark is undone.
	marked, redeployed bool
	// pre is the bad deployment's health and judgement as Execute read
	// them (nil: the validation reads them).
	pre *preRead
	// handoff is closed when the caller may be answered: the run finished,
	// parked, or entered a verify window.
	handoff     chan struct{}
	handoffOnce sync.Once
}

// newRun prepares a run of ev.
func newRun(s *Service, ev *roman.RollbackEvent, bad *roman.Deployment, req roman.RollbackRequest) *run {
	r := &run{s: s, ev: ev, bad: bad, req: req, startedAt: s.Clock(), done: map[string]roman.RollbackStep{}, handoff: make(chan struct{})}
	if bad.Status != roman.StatusRolledBack {
		r.prevStatus = bad.Status
	}
	r.meta = map[string]any{}
	_ = json.Unmarshal(ev.Metadata, &r.meta)
	if r.meta == nil {
		r.meta = map[string]any{}
	}
	return r
}

// step runs fn as the named step and appends it to rollback_steps with its
// outcome. A step's error text is recorded only when fn marks it safe to show
// (a *roman.Error message); internal details go to the log.
func (r *run) step(ctx context.Context, name string, fn func() (any, error)) error {
	st, err := r.runStep(ctx, name, fn)
	if errors.Is(err, errParked) {
		return err
	}
	if aerr := r.record(ctx, st); err == nil {
		err = aerr
	}
	return err
}

// runStep runs fn as the named step and returns the step as
// rollback_steps will hold it, not yet recorded (see step), with fn's
// error. errParked, and no step, when a graceful shutdown stopped it.
func (r *run) runStep(ctx context.Context, name string, fn func() (any, error)) (roman.RollbackStep, error) {
	started := roman.UTC(r.s.Clock())
	detail, err := fn()
	if err != nil && (parked(ctx) || errors.Is(err, errParked)) {
		// A graceful shutdown stopped the step: nothing is recorded, so the
		// next start resumes from here.
		r.s.Logger.Warn("rollback parked for shutdown", "event_id", r.ev.EventID, "step", name)
		return roman.RollbackStep{}, errParked
	}
	st := roman.RollbackStep{Name: name, Status: roman.StepStatusSuccess, StartedAt: started, FinishedAt: roman.UTC(r.s.Clock())}
	if err != nil {
		st.Status = roman.StepStatusFailed
		r.s.Logger.Error("rollback step failed", "event_id", r.ev.EventID, "step", name, "err", err)
		detail = map[string]any{"error": roman.ErrorMessage(err), "detail": detail}
	}
	if detail != nil {
		st.Detail = mustJSON(detail)
	}
	return st, err
}

// record appends steps to rollback_steps: one step alone, several in one
// write. It returns the store's error, logged.
func (r *run) record(ctx context.Context, steps ...roman.RollbackStep) error {
	defer r.publish()
	var err error
	if len(steps) == 1 {
		err = r.s.Store.AppendRollbackStep(ctx, r.ev.EventID, steps[0])
	} else {
		err = r.s.Store.UpdateRollbackEvent(ctx, r.ev.EventID, roman.RollbackEventUpdate{Steps: steps})
	}
	if err != nil {
		r.s.Logger.Error("appending rollback step failed", "event_id", r.ev.EventID, "step", steps[0].Name, "steps", len(steps), "err", err)
	}
	return err
}

// finalStatusRetries are the waits before each new attempt at writing a
// run's final status when the database failed it.
var finalStatusRetries = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}

// setStatus writes the event's status (and the update u). The final status
// is what frees the environment for its next rollback (one unfinished
// rollback per environment), so a write of it that the database failed is
// tried again for about half a minute rather than leave the event
// unfinished until the next start.
func (r *run) setStatus(ctx context.Context, status string, u roman.RollbackEventUpdate) error {
	u.Status = &status
	final := status == roman.RollbackSuccess || status == roman.RollbackFailed || status == roman.RollbackAborted
	if final {
		u.CompletedAt = ptrTime(roman.UTC(r.s.Clock()))
	}
	err := r.s.Store.UpdateRollbackEvent(ctx, r.ev.EventID, u)
	sleep := r.s.Sleep
	if sleep == nil {
		sleep = roman.Sleep
	}
	for i := 0; err != nil && final && i < len(finalStatusRetries) && retryable(err); i++ {
		r.s.Logger.Warn("writing the rollback's final status failed; retrying", "event_id", r.ev.EventID, "status", status, "err", err)
		if sleep(ctx, finalStatusRetries[i]) != nil {
			break
		}
		err = r.s.Store.UpdateRollbackEvent(ctx, r.ev.EventID, u)
	}
	if err != nil {
		r.s.Logger.Error("updating rollback event failed", "event_id", r.ev.EventID, "status", status, "err", err)
	}
	r.ev.Status = status
	r.publish()
	return err
}

// retryable reports whether a store error may go away by itself (the
// database was unreachable or busy), as opposed to a refusal.
func retryable(err error) bool {
	switch roman.ErrorCode(err) {
	case roman.EINTERNAL, roman.EUNAVAILABLE:
		return true
	}
	return false
}

// publish tells the hub the event (and the deployments it touches) changed.
func (r *run) publish() {
	r.s.Hub.Publish(roman.Change{Kind: roman.ChangeRollback, Service: r.bad.Service, Environment: r.bad.Environment, DeploymentID: r.bad.DeploymentID, EventID: r.ev.EventID})
}

func (r *run) event(ctx context.Context, typ, sev, msg string, meta map[string]any) {
	meta["deployment_id"] = r.bad.DeploymentID
	meta["event_id"] = r.ev.EventID
	meta["environment"] = r.bad.Environment
	meta["service"] = roman.ServiceOrDefault(r.bad.Service)
	// Decision rows that people must hear about carry an alert (alerts.go).
	addAlertEvent(ctx, r.s.Store, r.s.Clock, r.s.Logger, typ, sev, msg, meta, r.alert(ctx, typ, meta))
}

// run executes the steps in order: the quick ones (validate, snapshot,
// target, migrations, mark, record) on the caller's goroutine, so a
// rejection or conflict is answered at once; then execute, verify and
// complete in the background (see start). Steps that a previous process
// finished (on resume) are skipped.
func (r *run) run(ctx context.Context) (*roman.RollbackResult, error) {
	s := r.s
	res := &r.result
	res.EventID = r.ev.EventID

	// 1. validate (a resumed in_progress event was validated already).
	var target *roman.Deployment
	var verdict roman.Validation
	if r.ev.Status == roman.RollbackInProgress {
		var err error
		if target, verdict, err = r.restoreValidation(ctx); err != nil {
			return r.fail(ctx, "could not resume the validated rollback", err)
		}
	} else {
		var in roman.ValidationInput
		validated, err := r.runStep(ctx, roman.StepValidate, func() (any, error) {
			var err error
			if in, err = s.validationInput(ctx, r.req, r.bad, r.pre); err != nil {
				return nil, err
			}
			if verdict, err = s.Validator.Validate(ctx, in); err != nil {
				return nil, err
			}
			return verdict, nil
		})
		if err != nil || !verdict.Compliant {
			if !errors.Is(err, errParked) {
				if aerr := r.record(ctx, validated); err == nil && aerr != nil {
					err = aerr
				}
			}
			if err != nil {
				return r.fail(ctx, "validation could not run", err)
			}
		}
		res.Validation = verdict
		if !verdict.Compliant {
			r.logValidation(ctx, in, verdict)
			r.setStatus(ctx, roman.RollbackAborted, roman.RollbackEventUpdate{ConstitutionalValidation: mustJSON(verdict)})
			return nil, &roman.RejectedError{EventID: r.ev.EventID, Validation: verdict}
		}
		target = in.Target
		r.newID = roman.NewUUID()
		plan := map[string]any{
			"target_deployment_id": target.DeploymentID, "target_version": target.Version, "target_commit": target.GitCommit,
			"executor": s.Executor(r.bad.Environment).Name(), "with_migrations": r.req.WithMigrations,
			"new_deployment_id": r.newID, "bad_status": r.bad.Status,
		}
		// The validate step is recorded with the status it leads to, in
		// one write.
		if err := r.setStatus(ctx, roman.RollbackInProgress, roman.RollbackEventUpdate{ConstitutionalValidation: mustJSON(verdict),
			RollbackPlan: mustJSON(plan), Steps: []roman.RollbackStep{validated}}); err != nil {
			return r.fail(ctx, "validation could not run", err)
		}
		r.logValidation(ctx, in, verdict)
		r.event(ctx, roman.EventRollbackStarted, roman.SeverityWarning,
			fmt.Sprintf("Rollback of %s initiated (%s): %s", r.bad.Version, r.ev.TriggerType, r.ev.TriggerReason),
			map[string]any{"target_deployment_id": target.DeploymentID, "target_version": target.Version, "target_commit": target.GitCommit, "trigger_type": r.ev.TriggerType,
				"trigger_reason": r.ev.TriggerReason})
	}
	res.Validation = verdict
	if _, ok := r.done[roman.StepUndoMarkRolledBack]; ok {
		// A previous process failed this rollback before its target was
		// redeployed and gave the bad release its status back, but stopped
		// before it failed the event: the failure is finished, not the
		// rollback.
		if nd, err := s.Store.GetDeployment(ctx, r.newID); err == nil && nd.Status == roman.StatusInProgress {
			r.finishDeployment(ctx, nd, roman.StatusFailed, nil)
		}
		r.marked = true
		return r.fail(ctx, "the rollback failed before its target was redeployed and roman stopped before recording the failure", nil)
	}

	// 2. pre_rollback snapshot. An audit snapshot that cannot be taken must
	// not hold up undoing a bad deploy: the failed step is recorded and the
	// rollback goes on.
	// The snapshot step and the identify_target step that follows at
	// once are recorded together, in one write.
	var steps []roman.RollbackStep
	if st, ok := r.done[roman.StepSnapshot]; ok {
		var d struct {
			SnapshotID string `json:"snapshot_id"`
		}
		_ = json.Unmarshal(st.Detail, &d)
		res.SnapshotID = d.SnapshotID
	} else if st, err := r.runStep(ctx, roman.StepSnapshot, func() (any, error) {
		snap, err := s.Snapshots.Create(ctx, r.bad.DeploymentID, roman.SnapshotPreRollback)
		if err != nil {
			return nil, err
		}
		res.SnapshotID = snap.SnapshotID
		return map[string]any{"snapshot_id": snap.SnapshotID}, nil
	}); !errors.Is(err, errParked) {
		steps = append(steps, st)
	}

	// 3. identify target (found during validation; recorded here).
	if _, ok := r.done[roman.StepIdentifyTarget]; !ok {
		st, _ := r.runStep(ctx, roman.StepIdentifyTarget, func() (any, error) {
			return map[string]any{"deployment_id": target.DeploymentID, "version": target.Version, "git_commit": target.GitCommit, "deployed_at": target.DeployedAt}, nil
		})
		steps = append(steps, st)
	}
	if len(steps) > 0 {
		_ = r.record(ctx, steps...)
	}
	res.TargetDeployment = &roman.TargetDeployment{
		DeploymentID: target.DeploymentID, Version: target.Version, GitCommit: target.GitCommit,
		DeployedAt: target.DeployedAt, HealthCheckPassed: target.HealthCheckPassed,
	}

	// 3b. migration rollback scripts (manual rollbacks with with_migrations
	// only), before anything is changed: a failure aborts the rollback.
	if r.runsMigrations() {
		if res, err, stop := r.migrations(ctx); stop {
			return res, err
		}
	}

	// 4. mark the bad deployment rolled_back (skipped when a previous
	// process did).
	if _, ok := r.done[roman.StepMarkRolledBack]; !ok {
		if err := r.step(ctx, roman.StepMarkRolledBack, func() (any, error) {
			if cur, err := s.Store.GetDeployment(ctx, r.bad.DeploymentID); err == nil && cur.Status == roman.StatusRolledBack {
				return map[string]any{"deployment_id": r.bad.DeploymentID, "already": true, "previous_status": r.prevStatus}, nil
			}
			st := roman.StatusRolledBack
			now := roman.UTC(s.Clock())
			_, err := s.Store.UpdateDeployment(ctx, r.bad.DeploymentID, roman.DeploymentUpdate{
				Status: &st, RolledBackAt: &now, ConstitutionalValidation: mustJSON(verdict),
			})
			return map[string]any{"deployment_id": r.bad.DeploymentID, "previous_status": r.prevStatus}, err
		}); err != nil {
			return r.fail(ctx, "could not mark the deployment rolled_back", err)
		}
	}
	r.marked = true

	// 5. record the new deployment of the target's version. Its id was
	// fixed in the plan before, so a resumed run finds the row instead of
	// recording a second one.
	nd, err := r.recordDeployment(ctx, target)
	if err != nil {
		return r.fail(ctx, "could not record the new deployment", err)
	}
	res.NewDeploymentID = nd.DeploymentID

	// 6-8. execute, verify, complete: in the background.
	return r.background(ctx, target, nd)
}

// finish runs the executor, verifies the rolled-back system and completes
// the event. ctx is the service's background context: when a graceful
// shutdown cancels it, the run parks (stays in_progress, resumed on the next
// start) instead of failing.
func (r *run) finish(ctx context.Context, target, nd *roman.Deployment) {
	s := r.s
	// 6. execute.
	if _, ok := r.done[roman.StepExecute]; !ok {
		exec := s.Executor(r.bad.Environment)
		started, progress := r.startedStep(roman.StepExecute)
		if started {
			if !exec.Resumable(progress) {
				r.interrupted(ctx, roman.StepExecute, nd)
				return
			}
		} else {
			progress = nil
		}
		r.markStarted(ctx, roman.StepExecute, progress)
		timeout := s.ExecutorTimeout
		if timeout <= 0 {
			timeout = DefaultExecutorTimeout
		}
		timedOut := false
		err := r.step(ctx, roman.StepExecute, func() (any, error) {
			ectx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			detail, err := exec.Execute(ectx, roman.ExecuteRequest{
				EventID: r.ev.EventID, Environment: r.bad.Environment, BadDeployment: r.bad, Target: target, NewDeploymentID: nd.DeploymentID,
				Progress: func(d json.RawMessage) { r.markStarted(ctx, roman.StepExecute, d) }, Resume: progress,
			})
			timedOut = err != nil && errors.Is(ectx.Err(), context.DeadlineExceeded)
			return detail, err
		})
		if errors.Is(err, errParked) {
			return
		} else if err != nil {
			// The target was not redeployed: the bad release is still
			// what runs, and fail gives it its status back.
			r.finishDeployment(ctx, nd, roman.StatusFailed, nil)
			reason := "executor " + exec.Name() + " failed"
			if timedOut {
				reason = fmt.Sprintf("executor %s timed out after %s", exec.Name(), timeout)
			}
			r.fail(ctx, reason, err)
			return
		}
	}
	r.redeployed = true

	// 7. verify the rolled-back system's health for the verify window.
	healthy, verified, err := r.verify(ctx, nd)
	if errors.Is(err, errParked) {
		return
	}
	if !healthy {
		// The redeploy happened: the target is what runs and the bad
		// release stays rolled_back.
		r.finishDeployment(ctx, nd, roman.StatusFailed, mustJSON(verified))
		r.fail(ctx, fmt.Sprintf("rolled-back system still unhealthy after verification: the redeploy of %s succeeded, so %s is what runs and %s stays rolled_back",
			target.Version, target.Version, r.bad.Version), nil)
		return
	}
	r.finishDeployment(ctx, nd, roman.StatusSuccess, mustJSON(verified))

	// 8. complete.
	_ = r.step(ctx, roman.StepComplete, func() (any, error) { return nil, nil })
	r.setStatus(ctx, roman.RollbackSuccess, roman.RollbackEventUpdate{})
	r.mu.Lock()
	r.result.Success, r.result.Status = true, roman.RollbackSuccess
	r.result.DurationMS = float64(s.Clock().Sub(r.startedAt).Microseconds()) / 1000
	dur := r.result.DurationMS
	r.mu.Unlock()
	r.event(ctx, roman.EventRollbackCompleted, roman.SeverityInfo,
		fmt.Sprintf("Rollback of %s to %s complete", r.bad.Version, target.Version),
		map[string]any{"target_deployment_id": target.DeploymentID, "target_version": target.Version,
			"new_deployment_id": nd.DeploymentID, "duration_ms": dur})
}

// finishDeployment moves the new deployment to success or failed; a healthy
// verification also marks it health_check_passed.
func (r *run) finishDeployment(ctx context.Context, nd *roman.Deployment, status string, details json.RawMessage) {
	now := roman.UTC(r.s.Clock())
	passed := status == roman.StatusSuccess
	u := roman.DeploymentUpdate{Status: &status, CompletedAt: &now, HealthCheckPassed: &passed, HealthCheckDetails: details}
	if _, err := r.s.Store.UpdateDeployment(ctx, nd.DeploymentID, u); err != nil {
		r.s.Logger.Error("finishing the new deployment failed", "deployment_id", nd.DeploymentID, "err", err)
	}
}

// fail marks the event failed, records why and returns the result with
// success false. A rollback that marked the bad deployment rolled_back but
// did not redeploy its target (the executor failed, timed out or was
// interrupted) first takes the mark back (undoMark): the bad release is
// still what runs. The failure message and the alert say which release
// is live. When a graceful shutdown stopped the run (a resumed run's
// quick steps run on the background context) nothing is recorded and
// errParked is returned: the event stays unfinished and the next start
// resumes it, with no false "manual intervention required" alert.
func (r *run) fail(ctx context.Context, reason string, err error) (*roman.RollbackResult, error) {
	if errors.Is(err, errParked) || parked(ctx) {
		r.s.Logger.Warn("rollback parked for shutdown", "event_id", r.ev.EventID, "while", reason)
		return nil, errParked
	}
	msg := reason
	if err != nil {
		msg += ": " + roman.ErrorMessage(err)
	}
	if undone := r.undoMark(ctx); undone != "" {
		msg += "; " + undone
	}
	liveID, liveVersion := r.bad.DeploymentID, r.bad.Version
	r.mu.Lock()
	if t := r.result.TargetDeployment; r.redeployed && t != nil {
		liveID, liveVersion = t.DeploymentID, t.Version
	}
	r.meta["caller"], r.meta["override"], r.meta["with_migrations"], r.meta["failure"] = r.req.Caller, r.req.Override, r.req.WithMigrations, msg
	r.meta["live_deployment_id"] = liveID
	meta := mustJSON(r.meta)
	r.mu.Unlock()
	r.setStatus(ctx, roman.RollbackFailed, roman.RollbackEventUpdate{Metadata: meta})
	r.event(ctx, roman.EventRollbackFailed, roman.SeverityCritical, "Rollback failed, manual intervention required: "+msg,
		map[string]any{"live_deployment_id": liveID, "live_version": liveVersion, "bad_release_live": !r.redeployed})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.result.Success, r.result.Status, r.result.Error = false, roman.RollbackFailed, msg
	res := r.result
	return &res, nil
}

// undoMark gives the bad deployment its previous status back and clears
// rolled_back_at when the rollback marked it but did not redeploy the
// target, so that errors reported by environment count for it again and a
// retry is accepted at once. The undo is the undo_mark_rolled_back step
// and a deployment_status roman_events row. It returns the sentence the
// failure message adds ("" when there was nothing to undo).
func (r *run) undoMark(ctx context.Context) string {
	if !r.marked || r.redeployed {
		return ""
	}
	ctx = context.WithoutCancel(ctx)
	to := r.prevStatus
	if to == "" {
		// An event from before the plan kept the status: a release is
		// normally rolled back from success.
		to = roman.StatusSuccess
	}
	err := r.step(ctx, roman.StepUndoMarkRolledBack, func() (any, error) {
		_, err := r.s.Store.UpdateDeployment(ctx, r.bad.DeploymentID, roman.DeploymentUpdate{UndoRollbackTo: &to})
		return map[string]any{"deployment_id": r.bad.DeploymentID, "status": to,
			"reason": "the target was not redeployed: " + r.bad.Version + " is still what runs"}, err
	})
	if err != nil {
		return fmt.Sprintf("the target was not redeployed, so %s is still live, but it could not be given its status back and stays marked rolled_back: %s",
			r.bad.Version, roman.ErrorMessage(err))
	}
	r.s.Hub.Publish(roman.Change{Kind: roman.ChangeDeployment, Environment: r.bad.Environment, DeploymentID: r.bad.DeploymentID})
	r.event(ctx, roman.EventDeploymentStatus, roman.SeverityWarning,
		fmt.Sprintf("Deployment %s is %s again: its rollback failed before the target was redeployed, so it is still what runs", r.bad.Version, to),
		map[string]any{"from": roman.StatusRolledBack, "to": to, "reason": "rollback_failed"})
	return fmt.Sprintf("the target was not redeployed, so %s is still live: its status is %s again and a retry is accepted", r.bad.Version, to)
}

// logValidation writes the rollback_validation decision row.
func (r *run) logValidation(ctx context.Context, in roman.ValidationInput, v roman.Validation) {
	sev, msg := roman.SeverityInfo, "Rollback approved by the constitution"
	if !v.Compliant {
		sev, msg = roman.SeverityError, "Constitutional validation failed"
	}
	var target any
	if in.Target != nil {
		target = map[string]any{"deployment_id": in.Target.DeploymentID, "version": in.Target.Version, "git_commit": in.Target.GitCommit}
	}
	r.event(ctx, roman.EventRollbackValidation, sev, msg, map[string]any{
		"verdict": v, "rules": v.Rules, "trigger": in.Trigger, "initiated_by": in.InitiatedBy, "override": in.Override,
		"caller": r.req.Caller, "entropy": in.Entropy, "health": in.Health, "database": in.Database, "target": target, "action": in.Action,
	})
}
