package rollback

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/odyssey-1/roman"
)

// alert is the alert that rides on a run's decision row: a
// rollback started (triggered), completed, failed or aborted (failed,
// manual intervention required), or rejected by the constitution. Other
// rows carry none. The store writes it to the alert outbox in the same
// transaction as the row, so alerting never delays the rollback and no
// alert is lost.
func (r *run) alert(ctx context.Context, typ string, meta map[string]any) *roman.Alert {
	r.mu.Lock()
	res := r.result
	failure, _ := r.meta["failure"].(string)
	r.mu.Unlock()
	var kind string
	switch typ {
	case roman.EventRollbackStarted:
		kind = roman.AlertRollbackTriggered
	case roman.EventRollbackCompleted:
		kind = roman.AlertRollbackCompleted
	case roman.EventRollbackFailed:
		kind = roman.AlertRollbackFailed
	case roman.EventRollbackValidation:
		if res.Validation.Compliant {
			return nil
		}
		kind = roman.AlertConstitutionalViolation
	default:
		return nil
	}
	a := &roman.Alert{
		Kind: kind, RollbackEventID: r.ev.EventID, DeploymentID: r.bad.DeploymentID, Version: r.bad.Version,
		Service: r.bad.Service, Environment: r.bad.Environment, Reason: r.ev.TriggerReason, Trigger: r.ev.TriggerType,
		Why: r.req.Why,
	}
	if r.ev.InitiatedBy != nil {
		a.InitiatedBy = *r.ev.InitiatedBy
	}
	// The target: the result's, else what the row says.
	if t := res.TargetDeployment; t != nil {
		a.TargetDeploymentID, a.TargetVersion, a.TargetCommit = t.DeploymentID, t.Version, t.GitCommit
	} else if t, ok := meta["target"].(map[string]any); ok {
		a.TargetDeploymentID, _ = t["deployment_id"].(string)
		a.TargetVersion, _ = t["version"].(string)
		a.TargetCommit, _ = t["git_commit"].(string)
	} else {
		a.TargetDeploymentID, _ = meta["target_deployment_id"].(string)
		a.TargetVersion, _ = meta["target_version"].(string)
		a.TargetCommit, _ = meta["target_commit"].(string)
	}
	// The verdict, once there is one (a failure before validation ran
	// shows no status).
	if v := res.Validation; v.Compliant || len(v.Violations) > 0 {
		a.Validation = roman.ValidationStatus(v)
		a.Warnings = v.Warnings
		if kind == roman.AlertConstitutionalViolation {
			a.Violations = v.Violations
		}
	}
	switch kind {
	case roman.AlertRollbackFailed:
		a.Detail = failure
		if a.Detail == "" {
			a.Detail = res.Error
		}
	case roman.AlertRollbackCompleted:
		if ms, ok := meta["duration_ms"].(float64); ok {
			s := ms / 1000
			a.DurationSeconds = &s
		}
	case roman.AlertRollbackTriggered:
		var err error
		if a.NewErrors, err = roman.AlertNewErrors(context.WithoutCancel(ctx), r.s.Fingerprints, r.bad.DeploymentID); err != nil {
			r.s.Logger.Error("reading new errors for an alert failed", "deployment_id", r.bad.DeploymentID, "err", err)
		}
	}
	return a
}

// addAlertEvent writes one roman_events row that carries an alert. A failed
// write is logged loudly instead of returned: the audit log must not make a
// rollback fail after the change it records has happened.
func addAlertEvent(ctx context.Context, st roman.EventStore, clock roman.Clock, log *slog.Logger, typ, sev, msg string, meta map[string]any, a *roman.Alert) {
	raw, _ := json.Marshal(meta)
	e := &roman.RomanEvent{EventID: roman.NewUUID(), EventType: typ, Severity: sev, Message: msg, Metadata: raw,
		Timestamp: roman.UTC(clock()), Alert: a}
	if err := st.AddRomanEvent(context.WithoutCancel(ctx), e); err != nil {
		log.Error("writing roman_events row failed", "event_type", typ, "err", err)
	}
}
