package rollback

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/odyssey-1/roman"
)

// EventRollbackResumed is the roman_events type of a rollback picked up
// again after a restart.
const EventRollbackResumed = "rollback_resumed"

// Resume picks up every unfinished (pending or in_progress) rollback event
// after a restart (crash safety). Each continues from its last
// finished step where the steps left are idempotent, in the background;
// where a step that cannot be repeated safely was cut off (a command or
// webhook executor, migration scripts, a GitHub dispatch whose run was not
// yet recorded), the event is failed with reason "interrupted" and a
// critical roman_events row. Per step:
//
//   - validate: read-only; a pending event is validated again.
//   - pre_rollback_snapshot: taken again if it was not recorded.
//   - identify_target: the target is read back from the plan.
//   - rollback_migrations: not repeatable: interrupted when started.
//   - mark_rolled_back: skipped when the deployment is rolled_back already.
//   - record_deployment: the row's id is in the plan; an existing row is
//     reused, never duplicated.
//   - execute: resumed only when the executor says so for the progress it
//     recorded (none: always; github: once the run id is known, the same
//     run is followed); otherwise interrupted.
//   - verify: the window starts again.
//   - complete: repeatable.
//
// With Claim set, only the events it claims are resumed (several
// replicas). It returns how many events it resumed; their runs go on after
// it returns.
func (s *Service) Resume(ctx context.Context) (int, error) {
	var evs []*roman.RollbackEvent
	for _, st := range []string{roman.RollbackPending, roman.RollbackInProgress} {
		list, err := s.Store.ListRollbackEvents(ctx, roman.RollbackFilter{Status: st, Limit: 1000})
		if err != nil {
			return 0, err
		}
		evs = append(evs, list...)
	}
	if s.Claim != nil {
		claimed := evs[:0]
		for _, ev := range evs {
			if s.Claim(ctx, ev) {
				claimed = append(claimed, ev)
			}
		}
		evs = claimed
	}
	for _, ev := range evs {
		bad, err := s.Store.GetDeployment(ctx, ev.DeploymentID)
		if err != nil {
			return 0, err
		}
		r := newRun(s, ev, bad, requestOf(ev))
		for _, st := range ev.RollbackSteps {
			if st.Status == roman.StepStatusSuccess || st.Status == roman.StepStatusSkipped {
				r.done[st.Name] = st
			}
		}
		steps := make([]string, 0, len(r.done))
		for _, st := range ev.RollbackSteps {
			if _, ok := r.done[st.Name]; ok {
				steps = append(steps, st.Name)
			}
		}
		s.Logger.Warn("resuming an unfinished rollback", "event_id", ev.EventID, "status", ev.Status, "steps_done", steps)
		r.event(ctx, EventRollbackResumed, roman.SeverityWarning,
			fmt.Sprintf("Rollback of %s resumed after a restart (status %s)", bad.Version, ev.Status),
			map[string]any{"steps_done": steps, "started_step": r.meta["started_step"]})
		s.spawn(func(bctx context.Context) {
			if _, err := r.run(bctx); err != nil {
				s.Logger.Info("resumed rollback ended", "event_id", ev.EventID, "err", err)
			}
		})
	}
	return len(evs), nil
}

// requestOf rebuilds the request of a stored event from its columns and
// metadata. An override was checked for the admin role when the event was
// created.
func requestOf(ev *roman.RollbackEvent) roman.RollbackRequest {
	var meta struct {
		Caller         string `json:"caller"`
		Override       bool   `json:"override"`
		WithMigrations bool   `json:"with_migrations"`
	}
	_ = json.Unmarshal(ev.Metadata, &meta)
	req := roman.RollbackRequest{
		DeploymentID: ev.DeploymentID, TriggerReason: ev.TriggerReason, TriggerType: ev.TriggerType,
		WithMigrations: meta.WithMigrations, Override: meta.Override, Admin: meta.Override, Caller: meta.Caller,
	}
	if ev.InitiatedBy != nil {
		req.InitiatedBy = *ev.InitiatedBy
	}
	return req
}

// restoreValidation reads back what a previous process decided for an
// in_progress event: the verdict and, from the plan, the target and the id
// of the deployment row to record.
func (r *run) restoreValidation(ctx context.Context) (*roman.Deployment, roman.Validation, error) {
	var v roman.Validation
	_ = json.Unmarshal(r.ev.ConstitutionalValidation, &v)
	var plan struct {
		Target    string `json:"target_deployment_id"`
		NewID     string `json:"new_deployment_id"`
		BadStatus string `json:"bad_status"`
	}
	if err := json.Unmarshal(r.ev.RollbackPlan, &plan); err != nil || plan.Target == "" || plan.NewID == "" {
		return nil, v, roman.Errorf(roman.EINTERNAL, "the event's rollback_plan names no target or new deployment")
	}
	target, err := r.s.Store.GetDeployment(ctx, plan.Target)
	if err != nil {
		return nil, v, err
	}
	r.newID = plan.NewID
	if r.prevStatus == "" && plan.BadStatus != roman.StatusRolledBack {
		r.prevStatus = plan.BadStatus
	}
	return target, v, nil
}
