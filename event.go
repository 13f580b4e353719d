package roman

import (
	"encoding/json"
	"time"
)

// Severities of roman_events rows.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityError    = "error"
	SeverityCritical = "critical"
)

// Event types of roman_events rows written by roman.
const (
	EventRollbackValidation = "rollback_validation"
	EventRollbackStarted    = "rollback_started"
	EventRollbackCompleted  = "rollback_completed"
	EventRollbackFailed     = "rollback_failed"
	EventDeploymentRecorded = "deployment_recorded"
	EventDeploymentStatus   = "deployment_status"
	EventAdminKeyCreated    = "admin_key_created"
	// EventAlertUndeliverable: the alert sender gave up on an outbox row
	// (too old, or refused for good by its channel).
	EventAlertUndeliverable = "alert_undeliverable"
	// EventDiscordApproval: an allow-listed Discord user asked for a
	// rollback with /approve rollback.
	EventDiscordApproval = "discord_approval"
	// EventDiscordRefused: a Discord user who is not on the allow-list
	// tried /approve rollback.
	EventDiscordRefused = "discord_approval_refused"
)

// RomanEvent is one row of ops.roman_events, the decision and audit log.
// Metadata always carries "deployment_id" when the event is about one, so the
// seed's query `metadata->>'deployment_id' = ...` finds it.
type RomanEvent struct {
	ID        int64           `json:"id"`
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	Severity  string          `json:"severity"`
	Message   string          `json:"message"`
	Metadata  json.RawMessage `json:"metadata"`
	Timestamp time.Time       `json:"timestamp"`
	// Alert, when set, is written to the alert outbox in the same
	// transaction as the row (one outbox row per channel the store's
	// AlertRouter picks), so the alert exists exactly when the decision it
	// reports does. It is not a column of roman_events.
	Alert *Alert `json:"-"`
}

// RomanEventFilter selects roman events, newest first.
type RomanEventFilter struct {
	EventType string
	// EventTypes, when set, keeps events of any of these types (and
	// EventType, when also set, of that one only).
	EventTypes   []string
	Severity     string
	DeploymentID string
	// Environment matches metadata.environment.
	Environment string
	// Service matches metadata.service; an event without one belongs to
	// the service "default".
	Service string
	// Since, when set, keeps events at or after it.
	Since *time.Time
	Limit int
}

// Migration is one row of ops.migration_history.
type Migration struct {
	ID                 int64           `json:"id"`
	DeploymentID       string          `json:"deployment_id"`
	MigrationName      string          `json:"migration_name"`
	MigrationHash      string          `json:"migration_hash"`
	AppliedAt          time.Time       `json:"applied_at"`
	RolledBackAt       *time.Time      `json:"rolled_back_at"`
	RollbackSuccessful *bool           `json:"rollback_successful"`
	ExecutionTimeMS    *int64          `json:"execution_time_ms"`
	ErrorMessage       *string         `json:"error_message"`
	RollbackScript     *string         `json:"rollback_script"`
	Metadata           json.RawMessage `json:"metadata"`
}

// ErrorEvent is one ingested application error (table error_events).
type ErrorEvent struct {
	ID           int64  `json:"id"`
	DeploymentID string `json:"deployment_id"`
	// Service is the service of the deployment the event is attributed to
	// when it names no deployment_id (empty is the default service). It is
	// not stored: the deployment says which service the event is of.
	Service     string    `json:"service,omitempty"`
	Environment string    `json:"environment"`
	OccurredAt  time.Time `json:"occurred_at"`
	Message     string    `json:"message"`
	Severity    string    `json:"severity"`
	Fingerprint string    `json:"fingerprint"`
	// ErrorType and Stack are optional inputs of roman's own fingerprint
	// (Fingerprint) for an event that comes without one. They are not
	// stored.
	ErrorType string `json:"error_type,omitempty"`
	Stack     string `json:"stack,omitempty"`
}

// MetricSample is one ingested metric value (table metric_samples).
type MetricSample struct {
	ID           int64  `json:"id"`
	DeploymentID string `json:"deployment_id"`
	// Service is as in ErrorEvent.
	Service     string    `json:"service,omitempty"`
	Environment string    `json:"environment"`
	Name        string    `json:"name"`
	Value       float64   `json:"value"`
	At          time.Time `json:"at"`
}
