package rollback

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/odyssey-1/roman"
)

// run is one rollback in progress.
type run struct {
	s      *Service
	ev     *roman.RollbackEvent
	bad    *roman.Deployment
	req    roman.RollbackRequest
	result roman.RollbackResult
}

// step runs fn as the named step and appends it to rollback_steps with its
// outcome. A step's error text is recorded only when fn marks it safe to show
// (a *roman.Error message); internal details go to the log.
func (r *run) step(ctx context.Context, name string, fn func() (any, error)) error {
	started := roman.UTC(r.s.Clock())
	detail, err := fn()
	st := roman.RollbackStep{Name: name, Status: roman.StepStatusSuccess, StartedAt: started, FinishedAt: roman.UTC(r.s.Clock())}
	if err != nil {
		st.Status = roman.StepStatusFailed
		r.s.Logger.Error("rollback step failed", "event_id", r.ev.EventID, "step", name, "err", err)
		detail = map[string]any{"error": roman.ErrorMessage(err), "detail": detail}
	}
	if detail != nil {
		st.Detail = mustJSON(detail)
	}
	defer r.publish()
	if aerr := r.s.Store.AppendRollbackStep(ctx, r.ev.EventID, st); aerr != nil {
		r.s.Logger.Error("appending rollback step failed", "event_id", r.ev.EventID, "step", name, "err", aerr)
		if err == nil {
			err = aerr
		}
	}
	return err
}

func (r *run) setStatus(ctx context.Context, status string, u roman.RollbackEventUpdate) {
	u.Status = &status
	if status == roman.RollbackSuccess || status == roman.RollbackFailed || status == roman.RollbackAborted {
		u.CompletedAt = ptrTime(roman.UTC(r.s.Clock()))
	}
	if err := r.s.Store.UpdateRollbackEvent(ctx, r.ev.EventID, u); err != nil {
		r.s.Logger.Error("updating rollback event failed", "event_id", r.ev.EventID, "status", status, "err", err)
	}
	r.ev.Status = status
	r.publish()
}

// publish tells the hub the event (and the deployments it touches) changed.
func (r *run) publish() {
	r.s.Hub.Publish(roman.Change{Kind: roman.ChangeRollback, Environment: r.bad.Environment, DeploymentID: r.bad.DeploymentID, EventID: r.ev.EventID})
}

func (r *run) event(ctx context.Context, typ, sev, msg string, meta map[string]any) {
	meta["deployment_id"] = r.bad.DeploymentID
	meta["event_id"] = r.ev.EventID
	meta["environment"] = r.bad.Environment
	addEvent(ctx, r.s.Store, r.s.Clock, r.s.Logger, typ, sev, msg, meta)
}

// run executes the steps in order.
func (r *run) run(ctx context.Context) (*roman.RollbackResult, error) {
	s := r.s
	startedAt := s.Clock()
	res := &r.result
	res.EventID = r.ev.EventID

	// 1. validate
	var in roman.ValidationInput
	var verdict roman.Validation
	err := r.step(ctx, roman.StepValidate, func() (any, error) {
		var err error
		if in, err = s.validationInput(ctx, r.req, r.bad); err != nil {
			return nil, err
		}
		if verdict, err = s.Validator.Validate(ctx, in); err != nil {
			return nil, err
		}
		return verdict, nil
	})
	if err != nil {
		return r.fail(ctx, "validation could not run", err)
	}
	res.Validation = verdict
	r.logValidation(ctx, in, verdict)
	if !verdict.Compliant {
		r.setStatus(ctx, roman.RollbackAborted, roman.RollbackEventUpdate{ConstitutionalValidation: mustJSON(verdict)})
		return nil, &roman.RejectedError{EventID: r.ev.EventID, Validation: verdict}
	}
	plan := map[string]any{
		"target_deployment_id": in.Target.DeploymentID, "target_version": in.Target.Version, "target_commit": in.Target.GitCommit,
		"executor": s.Executor(r.bad.Environment).Name(), "with_migrations": r.req.WithMigrations,
	}
	r.setStatus(ctx, roman.RollbackInProgress, roman.RollbackEventUpdate{ConstitutionalValidation: mustJSON(verdict), RollbackPlan: mustJSON(plan)})
	r.event(ctx, roman.EventRollbackStarted, roman.SeverityWarning,
		fmt.Sprintf("Rollback of %s initiated (%s): %s", r.bad.Version, r.ev.TriggerType, r.ev.TriggerReason),
		map[string]any{"target_version": in.Target.Version, "target_commit": in.Target.GitCommit, "trigger_type": r.ev.TriggerType})

	// 2. pre_rollback snapshot. An audit snapshot that cannot be taken must
	// not hold up undoing a bad deploy: the failed step is recorded and the
	// rollback goes on.
	_ = r.step(ctx, roman.StepSnapshot, func() (any, error) {
		snap, err := s.Snapshots.Create(ctx, r.bad.DeploymentID, roman.SnapshotPreRollback)
		if err != nil {
			return nil, err
		}
		res.SnapshotID = snap.SnapshotID
		return map[string]any{"snapshot_id": snap.SnapshotID}, nil
	})

	// 3. identify target (found during validation; recorded here).
	target := in.Target
	_ = r.step(ctx, roman.StepIdentifyTarget, func() (any, error) {
		return map[string]any{"deployment_id": target.DeploymentID, "version": target.Version, "git_commit": target.GitCommit, "deployed_at": target.DeployedAt}, nil
	})
	res.TargetDeployment = &roman.TargetDeployment{
		DeploymentID: target.DeploymentID, Version: target.Version, GitCommit: target.GitCommit,
		DeployedAt: target.DeployedAt, HealthCheckPassed: target.HealthCheckPassed,
	}

	// 4. mark the bad deployment rolled_back.
	if err := r.step(ctx, roman.StepMarkRolledBack, func() (any, error) {
		st := roman.StatusRolledBack
		now := roman.UTC(s.Clock())
		_, err := s.Store.UpdateDeployment(ctx, r.bad.DeploymentID, roman.DeploymentUpdate{
			Status: &st, RolledBackAt: &now, ConstitutionalValidation: mustJSON(verdict),
		})
		return map[string]any{"deployment_id": r.bad.DeploymentID}, err
	}); err != nil {
		return r.fail(ctx, "could not mark the deployment rolled_back", err)
	}

	// 5. record the new deployment of the target's version.
	nd := &roman.Deployment{
		DeploymentID: roman.NewUUID(), Environment: r.bad.Environment,
		Version: target.Version, GitCommit: target.GitCommit, GitBranch: target.GitBranch,
		DeployedAt: roman.UTC(s.Clock()), Status: roman.StatusInProgress,
		RollbackFrom: &r.bad.DeploymentID,
		Metadata:     mustJSON(map[string]any{"rollback_event_id": r.ev.EventID}),
	}
	if r.ev.InitiatedBy != nil {
		nd.DeployedBy = r.ev.InitiatedBy
	}
	if err := r.step(ctx, roman.StepRecordDeployment, func() (any, error) {
		return map[string]any{"deployment_id": nd.DeploymentID, "version": nd.Version}, s.Store.CreateDeployment(ctx, nd)
	}); err != nil {
		return r.fail(ctx, "could not record the new deployment", err)
	}
	res.NewDeploymentID = nd.DeploymentID

	// 6. execute.
	exec := s.Executor(r.bad.Environment)
	if err := r.step(ctx, roman.StepExecute, func() (any, error) {
		timeout := s.ExecutorTimeout
		if timeout <= 0 {
			timeout = DefaultExecutorTimeout
		}
		ectx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		detail, err := exec.Execute(ectx, roman.ExecuteRequest{
			EventID: r.ev.EventID, Environment: r.bad.Environment, BadDeployment: r.bad, Target: target, NewDeploymentID: nd.DeploymentID,
		})
		return detail, err
	}); err != nil {
		r.finishDeployment(ctx, nd, roman.StatusFailed, nil)
		return r.fail(ctx, "executor "+exec.Name()+" failed", err)
	}

	// 7. verify the rolled-back system's health.
	var healthy bool
	var verified roman.Health
	_ = r.step(ctx, roman.StepVerify, func() (any, error) {
		h, err := s.Health.Check(ctx, nd)
		if err != nil {
			return nil, err
		}
		verified, healthy = h, h.Reason == ""
		return map[string]any{"health": h}, nil
	})
	if !healthy {
		r.finishDeployment(ctx, nd, roman.StatusFailed, mustJSON(verified))
		return r.fail(ctx, "rolled-back system still unhealthy: manual intervention required", nil)
	}
	r.finishDeployment(ctx, nd, roman.StatusSuccess, mustJSON(verified))

	// 8. complete.
	_ = r.step(ctx, roman.StepComplete, func() (any, error) { return nil, nil })
	r.setStatus(ctx, roman.RollbackSuccess, roman.RollbackEventUpdate{})
	res.Success, res.Status = true, roman.RollbackSuccess
	res.DurationMS = float64(s.Clock().Sub(startedAt).Microseconds()) / 1000
	r.event(ctx, roman.EventRollbackCompleted, roman.SeverityInfo,
		fmt.Sprintf("Rollback of %s to %s complete", r.bad.Version, target.Version),
		map[string]any{"target_version": target.Version, "new_deployment_id": nd.DeploymentID, "duration_ms": res.DurationMS})
	return res, nil
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
// success false.
func (r *run) fail(ctx context.Context, reason string, err error) (*roman.RollbackResult, error) {
	msg := reason
	if err != nil {
		msg += ": " + roman.ErrorMessage(err)
	}
	r.setStatus(ctx, roman.RollbackFailed, roman.RollbackEventUpdate{Metadata: mustJSON(map[string]any{
		"caller": r.req.Caller, "override": r.req.Override, "with_migrations": r.req.WithMigrations, "failure": msg,
	})})
	r.event(ctx, roman.EventRollbackFailed, roman.SeverityCritical, "Rollback failed, manual intervention required: "+msg, map[string]any{})
	r.result.Success, r.result.Status, r.result.Error = false, roman.RollbackFailed, msg
	return &r.result, nil
}

// logValidation writes the rollback_validation decision row.
func (r *run) logValidation(ctx context.Context, in roman.ValidationInput, v roman.Validation) {
	sev, msg := roman.SeverityInfo, "Rollback approved by the constitution"
	if !v.Compliant {
		sev, msg = roman.SeverityError, "Constitutional validation failed"
	}
	var target any
	if in.Target != nil {
		target = map[string]any{"deployment_id": in.Target.DeploymentID, "version": in.Target.Version}
	}
	r.event(ctx, roman.EventRollbackValidation, sev, msg, map[string]any{
		"verdict": v, "rules": v.Rules, "trigger": in.Trigger, "initiated_by": in.InitiatedBy, "override": in.Override,
		"caller": r.req.Caller, "entropy": in.Entropy, "health": in.Health, "database": in.Database, "target": target, "action": in.Action,
	})
}
