package roman

import (
	"context"
	"encoding/json"
	"time"
)

// Rollback event statuses (seed: ops.rollback_events.status).
const (
	RollbackPending    = "pending"
	RollbackInProgress = "in_progress"
	RollbackSuccess    = "success"
	RollbackFailed     = "failed"
	RollbackAborted    = "aborted"
)

// Trigger types (seed: ops.rollback_events.trigger_type).
const (
	TriggerAutomatic               = "automatic"
	TriggerManual                  = "manual"
	TriggerConstitutionalViolation = "constitutional_violation"
)

// Rollback step names, in the order a rollback runs them.
const (
	StepValidate       = "validate"
	StepSnapshot       = "pre_rollback_snapshot"
	StepIdentifyTarget = "identify_target"
	// StepMigrations runs the bad deployment's migration rollback scripts;
	// only manual rollbacks with with_migrations have it.
	StepMigrations       = "rollback_migrations"
	StepMarkRolledBack   = "mark_rolled_back"
	StepRecordDeployment = "record_deployment"
	StepExecute          = "execute"
	StepVerify           = "verify"
	StepComplete         = "complete"
	// StepUndoMarkRolledBack takes back the mark_rolled_back step of a
	// rollback that failed before its target was redeployed (the executor
	// failed, timed out or was interrupted): the bad release is still what
	// runs, so it gets its previous status back. Only failed rollbacks have
	// it.
	StepUndoMarkRolledBack = "undo_mark_rolled_back"
)

// Step statuses.
const (
	StepStatusSuccess = "success"
	StepStatusFailed  = "failed"
	StepStatusSkipped = "skipped"
)

// RollbackStep is one element of rollback_steps, appended as it happens.
type RollbackStep struct {
	Name       string          `json:"name"`
	Status     string          `json:"status"`
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt time.Time       `json:"finished_at"`
	Detail     json.RawMessage `json:"detail,omitempty"`
}

// RollbackEvent is one row of ops.rollback_events, column for column, plus
// the service and environment it belongs to (the exactly-once index is per
// service and environment).
type RollbackEvent struct {
	ID                       int64           `json:"id"`
	EventID                  string          `json:"event_id"`
	DeploymentID             string          `json:"deployment_id"`
	Service                  string          `json:"service"`
	Environment              string          `json:"environment"`
	TriggerType              string          `json:"trigger_type"`
	TriggerReason            string          `json:"trigger_reason"`
	InitiatedBy              *string         `json:"initiated_by"`
	InitiatedAt              time.Time       `json:"initiated_at"`
	Status                   string          `json:"status"`
	RollbackPlan             json.RawMessage `json:"rollback_plan"`
	RollbackSteps            []RollbackStep  `json:"rollback_steps"`
	ConstitutionalValidation json.RawMessage `json:"constitutional_validation"`
	CompletedAt              *time.Time      `json:"completed_at"`
	Metadata                 json.RawMessage `json:"metadata"`
}

// Finished reports whether the event has reached a final status.
func (e *RollbackEvent) Finished() bool {
	switch e.Status {
	case RollbackSuccess, RollbackFailed, RollbackAborted:
		return true
	}
	return false
}

// RollbackEventUpdate is a partial update of a rollback event. Nil or empty
// fields are left unchanged.
type RollbackEventUpdate struct {
	Status                   *string
	RollbackPlan             json.RawMessage
	ConstitutionalValidation json.RawMessage
	CompletedAt              *time.Time
	Metadata                 json.RawMessage
	// Steps are appended to rollback_steps, in order, in the same write
	// as the fields above: a step and the status it leads to in one
	// round trip.
	Steps []RollbackStep
}

// RollbackFilter selects rollback events, newest first.
type RollbackFilter struct {
	// Service, when set, selects the events of one service.
	Service      string
	Environment  string
	DeploymentID string
	// TargetDeploymentID keeps the rollbacks whose plan went back to this
	// deployment (rollback_plan.target_deployment_id).
	TargetDeploymentID string
	Status             string
	Since              *time.Time
	Limit              int
}

// Validation is the constitution's verdict (seed: validation object).
type Validation struct {
	Compliant  bool     `json:"compliant"`
	Violations []string `json:"violations"`
	Warnings   []string `json:"warnings"`
	// Rules names the rules that produced violations or warnings.
	Rules []string `json:"rules,omitempty"`
	// Override is true when an admin override turned violations into warnings.
	Override bool `json:"override,omitempty"`
	// Results lists, rule by rule, each finding behind Violations and
	// Warnings, so the audit trail says which rule said what.
	Results []RuleResult `json:"results,omitempty"`
}

// RuleResult is one rule's finding in a Validation.
type RuleResult struct {
	// Rule is the rule's name.
	Rule string `json:"rule"`
	// Law is the law or concern the rule enforces.
	Law string `json:"law,omitempty"`
	// Severity is the finding's effective severity: "violation" (rejects)
	// or "warning" (reported only).
	Severity string `json:"severity"`
	// Message is the rendered message, as it appears in Violations or
	// Warnings.
	Message string `json:"message"`
	// Overridden is true when the rule found a violation that an admin
	// override turned into a warning.
	Overridden bool `json:"overridden,omitempty"`
	// Error is the evaluation error when the rule could not be evaluated;
	// such a rule counts as violated (fail closed).
	Error string `json:"error,omitempty"`
}

// ActionProfile is the seed's rollback action profile, evaluated by the
// constitution.
type ActionProfile struct {
	MethodType      string  `json:"method_type"`
	RiskToLife      float64 `json:"risk_to_life"`
	EntropyIncrease float64 `json:"entropy_increase"`
	GeometricRatio  float64 `json:"geometric_ratio"`
	TargetFrequency float64 `json:"target_frequency"`
	Description     string  `json:"description"`
}

// RollbackProfile returns the seed's profile of a rollback for reason.
func RollbackProfile(reason string) ActionProfile {
	return ActionProfile{
		MethodType:      "harmonic_resonance",
		RiskToLife:      0,
		EntropyIncrease: -0.1,
		GeometricRatio:  1.618,
		TargetFrequency: 7.83,
		Description:     "Rollback deployment: " + reason,
	}
}

// DatabaseState says whether the application database is consistent enough to
// roll back (constitution rule 7).
type DatabaseState struct {
	Consistent bool   `json:"consistent"`
	Reason     string `json:"reason"`
}

// ValidationInput is everything the constitution may look at.
type ValidationInput struct {
	Action      ActionProfile `json:"action"`
	Trigger     string        `json:"trigger"`
	Deployment  *Deployment   `json:"deployment"`
	Target      *Deployment   `json:"target"`
	Environment string        `json:"environment"`
	Health      Health        `json:"health"`
	Thresholds  Thresholds    `json:"thresholds"`
	Entropy     float64       `json:"entropy"`
	Database    DatabaseState `json:"database"`
	InitiatedBy string        `json:"initiated_by"`
	Override    bool          `json:"override"`
	Now         time.Time     `json:"now"`
	// Judgement is the judge's newest acting verdict about the deployment
	// (a health_judgement row), nil when none was recorded.
	Judgement *Judgement `json:"judgement"`
}

// Validator approves or rejects a rollback. It returns an error only when it
// cannot decide at all (EINTERNAL); a rule that fails to evaluate is a
// violation, not an error.
type Validator interface {
	Validate(ctx context.Context, in ValidationInput) (Validation, error)
}

// RollbackRequest asks for a rollback of a deployment (seed: POST
// /auto-rollback body, plus with_migrations and override).
type RollbackRequest struct {
	DeploymentID   string `json:"deployment_id"`
	TriggerReason  string `json:"trigger_reason"`
	InitiatedBy    string `json:"initiated_by,omitempty"`
	TriggerType    string `json:"trigger_type,omitempty"`
	WithMigrations bool   `json:"with_migrations,omitempty"`
	Override       bool   `json:"override,omitempty"`
	// Caller names the API key or user behind the request, for the audit
	// trail. It is never a secret.
	Caller string `json:"-"`
	// Admin is true when the caller holds the admin role (needed for override).
	Admin bool `json:"-"`
	// DetectedAt is when the monitor first saw the signal behind an
	// automatic rollback (the arrival of the ingested batch), so the time to
	// the recorded rollback event can be measured. Zero for other rollbacks.
	DetectedAt time.Time `json:"-"`
	// Why is the judge's one-line explanation of an automatic trigger
	// ("Why: 42 errors in 3 min …"), carried into the trigger's alerts.
	Why string `json:"-"`
	// Judgement is the acting judge's judgement behind an automatic
	// trigger: the constitution's `judgement` when set, else the newest
	// stored health_judgement of the deployment is.
	Judgement *Judgement `json:"-"`
}

// TargetDeployment is the seed's target_deployment object.
type TargetDeployment struct {
	DeploymentID      string    `json:"deployment_id"`
	Version           string    `json:"version"`
	GitCommit         string    `json:"git_commit"`
	DeployedAt        time.Time `json:"deployed_at"`
	HealthCheckPassed bool      `json:"health_check_passed"`
}

// RollbackResult is the seed's POST /auto-rollback success response, plus the
// id of the deployment row the rollback recorded and the event's status.
type RollbackResult struct {
	Success          bool              `json:"success"`
	EventID          string            `json:"event_id"`
	Status           string            `json:"status"`
	TargetDeployment *TargetDeployment `json:"target_deployment"`
	NewDeploymentID  string            `json:"new_deployment_id,omitempty"`
	SnapshotID       string            `json:"snapshot_id"`
	Validation       Validation        `json:"validation"`
	DurationMS       float64           `json:"duration_ms"`
	Error            string            `json:"error,omitempty"`
}

// RejectedError is returned by RollbackService.Execute when the constitution
// rejects a rollback (code EREJECTED); the API answers 422 with the seed's
// rejection body.
type RejectedError struct {
	EventID    string
	Validation Validation
}

// Error implements error.
func (e *RejectedError) Error() string { return "Constitutional validation failed" }

// RollbackService runs and reports rollbacks.
type RollbackService interface {
	// Execute validates and runs a rollback. It returns *RejectedError when the
	// constitution rejects it, ECONFLICT when another rollback of the
	// environment is unfinished or the deployment is already rolled back,
	// ENOTFOUND for an unknown deployment, EFORBIDDEN for an override asked
	// by a non-admin.
	Execute(ctx context.Context, req RollbackRequest) (*RollbackResult, error)
	// Validate answers the verdict for a would-be rollback without changing
	// anything.
	Validate(ctx context.Context, req RollbackRequest) (Validation, error)
	// Check computes a deployment's health and whether it should roll back.
	Check(ctx context.Context, deploymentID string) (*CheckResult, error)
	// History returns rollback events newest first.
	History(ctx context.Context, f RollbackFilter) ([]*RollbackEvent, error)
}

// ExecuteRequest is what an executor is asked to deploy.
type ExecuteRequest struct {
	EventID         string
	Environment     string
	BadDeployment   *Deployment
	Target          *Deployment
	NewDeploymentID string
	// Progress, when set, records what the executor has started so far (for
	// example the id of a dispatched GitHub run) durably, so that a restart
	// can continue the same run instead of starting another one. Executors
	// call it as soon as they know something worth resuming from.
	Progress func(detail json.RawMessage)
	// Resume is the last Progress detail recorded before a crash, or nil on
	// a first attempt.
	Resume json.RawMessage
}

// Executor redeploys the target version on the platform.
type Executor interface {
	// Name is the executor kind (none, command, github, webhook).
	Name() string
	// Execute runs the redeploy and waits for it (bounded by ctx). The
	// returned detail is recorded in the execute step.
	Execute(ctx context.Context, req ExecuteRequest) (detail json.RawMessage, err error)
	// Resumable reports whether an execution that was interrupted by a
	// crash may be continued: whether Execute may be called again with
	// ExecuteRequest.Resume set to progress (nil when the executor never
	// reported any). An executor that answers false is never resumed once
	// it has started: its event is marked failed ("interrupted") instead,
	// because running an unknown command or webhook twice may not be safe.
	Resumable(progress json.RawMessage) bool
}
