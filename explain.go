package roman

import (
	"context"
	"encoding/json"
	"time"
)

// Kinds of the entries of an explanation's timeline. An audit event of a
// type this list does not name (one a later roman writes) keeps its
// event_type as its kind, so it shows up without code changes.
const (
	ExplainRecorded       = "recorded"
	ExplainStatus         = "status"
	ExplainCompleted      = "completed"
	ExplainSnapshot       = "snapshot"
	ExplainWatch          = "watch"
	ExplainReading        = "reading"
	ExplainTrigger        = "trigger"
	ExplainSuppressed     = "suppressed"
	ExplainIntervention   = "manual_intervention"
	ExplainValidation     = "validation"
	ExplainRollback       = "rollback"
	ExplainRollbackStep   = "rollback_step"
	ExplainRollbackResult = "rollback_result"
	ExplainTargeted       = "targeted_by_rollback"
	ExplainWindowEnd      = "window_end"
	ExplainVerdictKind    = "verdict"
)

// ExplainEntry is one step of a release's decision timeline: when it
// happened, what kind of step it was, how serious, one line a person reads,
// and the facts behind it.
type ExplainEntry struct {
	At       time.Time       `json:"at"`
	Kind     string          `json:"kind"`
	Severity string          `json:"severity"`
	Summary  string          `json:"summary"`
	Details  json.RawMessage `json:"details"`
}

// ExplainVerdict answers "why did, or didn't, this release roll back".
type ExplainVerdict struct {
	// Status is the deployment's status now.
	Status string `json:"status"`
	// HealthCheckPassed is the deployment's health_check_passed.
	HealthCheckPassed bool `json:"health_check_passed"`
	// RolledBack reports whether the release was rolled back.
	RolledBack bool `json:"rolled_back"`
	// Why is one or two sentences a person reads.
	Why string `json:"why"`
	// Judge, JudgeVerdict and JudgeWhy are the judge's newest acting
	// verdict and its why line; empty when none was recorded.
	Judge        string `json:"judge,omitempty"`
	JudgeVerdict string `json:"judge_verdict,omitempty"`
	JudgeWhy     string `json:"judge_why,omitempty"`
}

// Explanation is the decision timeline of one deployment, oldest first,
// built from the audit trail, with its verdict.
type Explanation struct {
	Deployment *Deployment     `json:"deployment"`
	Verdict    ExplainVerdict  `json:"verdict"`
	Timeline   []*ExplainEntry `json:"timeline"`
}

// AuditService reads the audit trail: the explanation of one deployment and
// the roman_events rows.
type AuditService interface {
	// Explain returns a deployment's decision timeline. ENOTFOUND for an
	// unknown deployment.
	Explain(ctx context.Context, deploymentID string) (*Explanation, error)
	// Events returns roman_events rows newest first.
	Events(ctx context.Context, f RomanEventFilter) ([]*RomanEvent, error)
}
