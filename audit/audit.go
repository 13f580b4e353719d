// Package audit reads the audit trail back: it builds the decision
// timeline of one deployment (why did, or didn't, it roll back) from the
// deployments row, its roman_events rows, its rollback events and their
// steps, its snapshots and the rollbacks that went back to it, and lists
// the roman_events rows for `roman events`.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// maxRows bounds each list the timeline reads (the stores' largest page).
const maxRows = 1000

// Service implements roman.AuditService over the stores.
type Service struct {
	Deployments roman.DeploymentStore
	Rollbacks   roman.RollbackStore
	Audit       roman.EventStore
	Snapshots   roman.SnapshotStore
}

var _ roman.AuditService = (*Service)(nil)

// Events returns roman_events rows newest first, as the filter selects them.
func (s *Service) Events(ctx context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
	return s.Audit.ListRomanEvents(ctx, f)
}

// eventKinds maps the roman_events types roman writes today to timeline
// kinds; any other type keeps its own name as its kind (a watch_breach, the
// reading that keeps a release from ever being healthy, stays
// "watch_breach" so that it stands out from warnings).
var eventKinds = map[string]string{
	roman.EventWatchStarted:           roman.ExplainWatch,
	roman.EventHealthWarning:          roman.ExplainReading,
	roman.EventHealthAlert:            roman.ExplainReading,
	roman.EventAutoRollbackTriggered:  roman.ExplainTrigger,
	roman.EventAutoRollbackSuppressed: roman.ExplainSuppressed,
	roman.EventManualIntervention:     roman.ExplainIntervention,
	roman.EventRollbackValidation:     roman.ExplainValidation,
	roman.EventRollbackStarted:        roman.ExplainRollback,
	roman.EventRollbackCompleted:      roman.ExplainRollbackResult,
	roman.EventRollbackFailed:         roman.ExplainRollbackResult,
	roman.EventDeploymentStatus:       roman.ExplainStatus,
	roman.EventWatchPassed:            roman.ExplainWindowEnd,
	roman.EventWatchUnverified:        roman.ExplainWindowEnd,
	roman.EventWatchFailed:            roman.ExplainWindowEnd,
}

// timeline collects entries; the order of equal times is the order added.
type timeline struct{ entries []*roman.ExplainEntry }

func (t *timeline) add(at time.Time, kind, severity, summary string, details any) {
	t.entries = append(t.entries, &roman.ExplainEntry{At: at.UTC(), Kind: kind, Severity: severity,
		Summary: oneLine(summary), Details: mustJSON(details)})
}

// Explain returns the decision timeline of a deployment, oldest first.
func (s *Service) Explain(ctx context.Context, deploymentID string) (*roman.Explanation, error) {
	d, err := s.Deployments.GetDeployment(ctx, deploymentID)
	if err != nil {
		return nil, err
	}
	events, err := s.Audit.ListRomanEvents(ctx, roman.RomanEventFilter{DeploymentID: deploymentID, Limit: maxRows})
	if err != nil {
		return nil, err
	}
	reverse(events)
	rollbacks, err := s.Rollbacks.ListRollbackEvents(ctx, roman.RollbackFilter{DeploymentID: deploymentID, Limit: maxRows})
	if err != nil {
		return nil, err
	}
	reverse(rollbacks)
	targeted, err := s.Rollbacks.ListRollbackEvents(ctx, roman.RollbackFilter{TargetDeploymentID: deploymentID, Limit: maxRows})
	if err != nil {
		return nil, err
	}
	reverse(targeted)
	snaps, err := s.Snapshots.ListSnapshots(ctx, deploymentID)
	if err != nil {
		return nil, err
	}

	var t timeline
	recorded(&t, d)
	completed := false
	for _, ev := range events {
		if ev.EventType == roman.EventDeploymentRecorded {
			continue // the deployments row above says it
		}
		// The rollback events below tell their start and end with their
		// steps; the matching roman_events rows would say it twice.
		if len(rollbacks) > 0 && (ev.EventType == roman.EventRollbackStarted ||
			ev.EventType == roman.EventRollbackCompleted || ev.EventType == roman.EventRollbackFailed) {
			continue
		}
		kind, ok := eventKinds[ev.EventType]
		if !ok {
			kind = ev.EventType
		}
		summary := ev.Message
		switch ev.EventType {
		case roman.EventDeploymentStatus:
			var m struct{ To string }
			_ = json.Unmarshal(ev.Metadata, &m)
			if m.To == roman.StatusSuccess || m.To == roman.StatusFailed {
				kind, completed = roman.ExplainCompleted, true
			}
		case roman.EventRollbackValidation:
			summary = validationSummary(ev)
		}
		t.add(ev.Timestamp, kind, ev.Severity, summary, map[string]any{
			"event_id": ev.EventID, "event_type": ev.EventType, "message": ev.Message, "metadata": rawOrNull(ev.Metadata),
		})
	}
	if !completed && d.CompletedAt != nil {
		t.add(*d.CompletedAt, roman.ExplainCompleted, roman.SeverityInfo,
			fmt.Sprintf("Deployment completed (status %s)", d.Status), map[string]any{"completed_at": d.CompletedAt})
	}
	for _, sn := range snaps {
		t.add(sn.CreatedAt, roman.ExplainSnapshot, roman.SeverityInfo,
			fmt.Sprintf("Snapshot %s taken (%s)", sn.SnapshotType, sn.SnapshotID), map[string]any{
				"snapshot_id": sn.SnapshotID, "snapshot_type": sn.SnapshotType,
				"database_schema_hash": sn.DatabaseSchemaHash, "table_counts": sn.TableCounts,
			})
	}
	for _, rb := range rollbacks {
		rollbackEntries(&t, rb)
	}
	for _, rb := range targeted {
		t.add(rb.InitiatedAt, roman.ExplainTargeted, roman.SeverityInfo,
			fmt.Sprintf("Rollback %s of deployment %s went back to this release (%s, status %s): %s",
				rb.EventID, rb.DeploymentID, rb.TriggerType, rb.Status, rb.TriggerReason),
			map[string]any{"event_id": rb.EventID, "deployment_id": rb.DeploymentID, "status": rb.Status,
				"trigger_type": rb.TriggerType, "trigger_reason": rb.TriggerReason})
	}
	sort.SliceStable(t.entries, func(i, j int) bool { return t.entries[i].At.Before(t.entries[j].At) })

	v := verdict(d, events, rollbacks)
	at := d.DeployedAt
	if n := len(t.entries); n > 0 {
		at = t.entries[n-1].At
	}
	sev := roman.SeverityInfo
	switch {
	case v.RolledBack:
		sev = roman.SeverityWarning
	case !v.HealthCheckPassed && d.Status == roman.StatusSuccess && hasBreach(events):
		sev = roman.SeverityCritical
	}
	t.add(at, roman.ExplainVerdictKind, sev, v.Why, map[string]any{
		"status": d.Status, "health_check_passed": d.HealthCheckPassed,
		"health_check_details": rawOrNull(d.HealthCheckDetails), "rolled_back_at": d.RolledBackAt,
	})
	return &roman.Explanation{Deployment: d, Verdict: v, Timeline: t.entries}, nil
}

// recorded adds the deployments row's own entry.
func recorded(t *timeline, d *roman.Deployment) {
	summary := fmt.Sprintf("Deployment of %s (commit %s, branch %s) to %s recorded", d.Version,
		roman.ShortCommit(d.GitCommit), d.GitBranch, d.Environment)
	if d.RollbackFrom != nil {
		summary += fmt.Sprintf(" by the rollback of deployment %s", *d.RollbackFrom)
	}
	t.add(d.DeployedAt, roman.ExplainRecorded, roman.SeverityInfo, summary, map[string]any{
		"deployment_id": d.DeploymentID, "environment": d.Environment, "version": d.Version,
		"git_commit": d.GitCommit, "git_branch": d.GitBranch, "deployed_by": d.DeployedBy,
		"rollback_from": d.RollbackFrom, "metadata": rawOrNull(d.Metadata),
	})
}

// rollbackEntries adds a rollback event of the deployment: its request,
// each of its steps as it finished, and its outcome.
func rollbackEntries(t *timeline, rb *roman.RollbackEvent) {
	summary := fmt.Sprintf("Rollback %s requested (%s): %s", rb.EventID, rb.TriggerType, rb.TriggerReason)
	var plan struct {
		Version string `json:"target_version"`
		Target  string `json:"target_deployment_id"`
	}
	_ = json.Unmarshal(rb.RollbackPlan, &plan)
	if plan.Version != "" {
		summary += fmt.Sprintf("; target %s (deployment %s)", plan.Version, plan.Target)
	}
	t.add(rb.InitiatedAt, roman.ExplainRollback, roman.SeverityWarning, summary, map[string]any{
		"event_id": rb.EventID, "trigger_type": rb.TriggerType, "trigger_reason": rb.TriggerReason,
		"initiated_by": rb.InitiatedBy, "status": rb.Status, "rollback_plan": rawOrNull(rb.RollbackPlan),
		"constitutional_validation": rawOrNull(rb.ConstitutionalValidation),
	})
	for _, st := range rb.RollbackSteps {
		sev := roman.SeverityInfo
		switch st.Status {
		case roman.StepStatusFailed:
			sev = roman.SeverityError
		case roman.StepStatusSkipped:
			sev = roman.SeverityWarning
		}
		at := st.FinishedAt
		if at.IsZero() {
			at = st.StartedAt
		}
		s := fmt.Sprintf("Rollback step %s: %s", st.Name, st.Status)
		if msg := detailText(st.Detail); msg != "" {
			s += " (" + msg + ")"
		}
		t.add(at, roman.ExplainRollbackStep, sev, s, map[string]any{"event_id": rb.EventID, "step": st})
	}
	if rb.CompletedAt != nil {
		sev := roman.SeverityInfo
		if rb.Status != roman.RollbackSuccess {
			sev = roman.SeverityError
		}
		s := fmt.Sprintf("Rollback %s finished: %s", rb.EventID, rb.Status)
		if msg := detailText(rb.Metadata); msg != "" {
			s += " (" + msg + ")"
		}
		t.add(*rb.CompletedAt, roman.ExplainRollbackResult, sev, s, map[string]any{
			"event_id": rb.EventID, "status": rb.Status, "metadata": rawOrNull(rb.Metadata)})
	}
}

// detailText picks a short reason out of a JSON object: its "error",
// "reason" or "message".
func detailText(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	for _, k := range []string{"error", "reason", "message"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// validationSummary says what the constitution decided and which rules
// spoke.
func validationSummary(ev *roman.RomanEvent) string {
	var m struct {
		Verdict roman.Validation `json:"verdict"`
		Trigger string           `json:"trigger"`
	}
	if json.Unmarshal(ev.Metadata, &m) != nil {
		return ev.Message
	}
	s := ev.Message
	if m.Trigger != "" {
		s += " (" + m.Trigger + ")"
	}
	var findings []string
	for _, r := range m.Verdict.Results {
		findings = append(findings, fmt.Sprintf("%s %s: %s", r.Rule, r.Severity, r.Message))
	}
	if len(findings) == 0 {
		findings = append(append(findings, m.Verdict.Violations...), m.Verdict.Warnings...)
	}
	if len(findings) == 0 {
		return s + ": every rule passed"
	}
	return s + ": " + strings.Join(findings, "; ")
}

// verdict answers why the deployment did or didn't roll back.
func verdict(d *roman.Deployment, events []*roman.RomanEvent, rollbacks []*roman.RollbackEvent) roman.ExplainVerdict {
	v := roman.ExplainVerdict{Status: d.Status, HealthCheckPassed: d.HealthCheckPassed}
	last := func(types ...string) *roman.RomanEvent {
		for i := len(events) - 1; i >= 0; i-- {
			for _, t := range types {
				if events[i].EventType == t {
					return events[i]
				}
			}
		}
		return nil
	}
	var lastRB *roman.RollbackEvent
	if n := len(rollbacks); n > 0 {
		lastRB = rollbacks[n-1]
	}
	switch {
	case d.Status == roman.StatusRolledBack:
		v.RolledBack = true
		v.Why = "Rolled back"
		for i := len(rollbacks) - 1; i >= 0; i-- {
			rb := rollbacks[i]
			if rb.Status == roman.RollbackSuccess || rb.Status == roman.RollbackFailed || !rb.Finished() {
				v.Why = fmt.Sprintf("Rolled back by rollback %s (%s): %s; the rollback is %s", rb.EventID, rb.TriggerType, rb.TriggerReason, rb.Status)
				break
			}
		}
	case lastRB != nil && lastRB.Status == roman.RollbackAborted:
		v.Why = fmt.Sprintf("Not rolled back: rollback %s (%s) was rejected by the constitution", lastRB.EventID, lastRB.TriggerType)
		var val roman.Validation
		if json.Unmarshal(lastRB.ConstitutionalValidation, &val) == nil && len(val.Violations) > 0 {
			v.Why += ": " + strings.Join(val.Violations, "; ")
		}
	case lastRB != nil && lastRB.Status == roman.RollbackFailed:
		v.Why = fmt.Sprintf("Not rolled back: rollback %s failed", lastRB.EventID)
		if msg := detailText(lastRB.Metadata); msg != "" {
			v.Why += ": " + msg
		}
	case lastRB != nil && !lastRB.Finished():
		v.Why = fmt.Sprintf("A rollback is under way: rollback %s is %s", lastRB.EventID, lastRB.Status)
	case last(roman.EventManualIntervention) != nil:
		v.Why = "Not rolled back: manual intervention required: " + last(roman.EventManualIntervention).Message
	case last(roman.EventAutoRollbackSuppressed) != nil:
		v.Why = "Not rolled back: the automatic rollback was suppressed: " + last(roman.EventAutoRollbackSuppressed).Message
	case last(roman.EventHealthAlert) != nil:
		v.Why = "Not rolled back: a trigger fired where roman only alerts: " + last(roman.EventHealthAlert).Message
	case last(roman.EventWatchFailed) != nil:
		v.Why = "Not rolled back, and not marked healthy: " + last(roman.EventWatchFailed).Message
	case last(roman.EventWatchBreach) != nil:
		v.Why = "Not rolled back so far, and never healthy again: a trigger fired in its window: " + last(roman.EventWatchBreach).Message
	case d.HealthCheckPassed && last(roman.EventWatchPassed) != nil:
		v.Why = "Not rolled back: the watch window passed with no trigger firing"
	case d.HealthCheckPassed:
		v.Why = "Not rolled back: the release passed its health check"
	case last(roman.EventWatchUnverified) != nil:
		v.Why = "Not rolled back, and not marked healthy: " + last(roman.EventWatchUnverified).Message
	case d.Status == roman.StatusPending || d.Status == roman.StatusInProgress:
		v.Why = fmt.Sprintf("Not rolled back: the deployment has not completed (status %s), so it is not watched yet", d.Status)
	case d.Status == roman.StatusFailed:
		v.Why = "Not rolled back: the deployment failed and was not rolled back"
	case last(roman.EventWatchStarted) != nil:
		v.Why = "Not rolled back so far: no trigger has fired while roman watched it"
	default:
		v.Why = "Not rolled back: no trigger fired and roman has no record of watching it"
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].EventType != roman.EventHealthJudgement {
			continue
		}
		var m struct {
			Judgement *roman.Judgement `json:"judgement"`
		}
		if json.Unmarshal(events[i].Metadata, &m) == nil && m.Judgement != nil && !m.Judgement.Shadow {
			v.Judge, v.JudgeVerdict, v.JudgeWhy = m.Judgement.Judge, m.Judgement.Verdict, m.Judgement.Why
			break
		}
	}
	return v
}

// hasBreach reports whether a trigger fired for the deployment.
func hasBreach(events []*roman.RomanEvent) bool {
	for _, ev := range events {
		switch ev.EventType {
		case roman.EventAutoRollbackTriggered, roman.EventAutoRollbackSuppressed, roman.EventHealthAlert, roman.EventManualIntervention:
			return true
		}
	}
	return false
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// oneLine folds a summary onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func rawOrNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
