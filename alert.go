package roman

import (
	"context"
	"time"
)

// Alert kinds (the seed's "Discord Alerts" list plus health
// warnings and storm protection).
const (
	// AlertRollbackTriggered: a rollback was approved and starts (automatic
	// or manual). The seed's "🚨 ROLLBACK INITIATED".
	AlertRollbackTriggered = "rollback_triggered"
	// AlertRollbackCompleted: a rollback finished and the system is healthy.
	AlertRollbackCompleted = "rollback_completed"
	// AlertRollbackFailed: a rollback failed; manual intervention required.
	AlertRollbackFailed = "rollback_failed"
	// AlertConstitutionalViolation: the constitution rejected a rollback.
	AlertConstitutionalViolation = "constitutional_violation"
	// AlertHealthWarning: a warning-only health signal (never a rollback).
	AlertHealthWarning = "health_warning"
	// AlertRollbackSuppressed: storm protection suppressed an automatic
	// rollback.
	AlertRollbackSuppressed = "rollback_suppressed"
)

// AlertKinds lists every alert kind, in the order documentation shows them.
var AlertKinds = []string{
	AlertRollbackTriggered, AlertRollbackCompleted, AlertRollbackFailed,
	AlertConstitutionalViolation, AlertHealthWarning, AlertRollbackSuppressed,
}

// ValidAlertKind reports whether k is one of AlertKinds.
func ValidAlertKind(k string) bool {
	for _, x := range AlertKinds {
		if x == k {
			return true
		}
	}
	return false
}

// Validation statuses an alert shows ("Constitutional Status: APPROVED").
const (
	ValidationApproved   = "APPROVED"
	ValidationOverridden = "APPROVED (override)"
	ValidationRejected   = "REJECTED"
)

// ValidationStatus returns the status an alert shows for a verdict.
func ValidationStatus(v Validation) string {
	switch {
	case !v.Compliant:
		return ValidationRejected
	case v.Override:
		return ValidationOverridden
	}
	return ValidationApproved
}

// Alert tells people that something happened to a deployment. It carries the
// seed's example alert field for field (deployment and version, environment,
// reason, trigger, target version and commit, constitutional status) plus
// what the kind needs (violations, failure detail, duration).
//
// An alert is never sent directly: it rides on the roman_events row that
// reports the same decision (RomanEvent.Alert), and the store writes it to
// the alert_outbox table in the same transaction as that row, one outbox row
// per channel the AlertRouter picks. A sender delivers the outbox later, so
// a dead channel never delays a rollback and no alert is lost in a crash.
type Alert struct {
	// Kind is one of AlertKinds.
	Kind string `json:"kind"`
	// EventID is the event_id of the roman_events row that reported the
	// alert; the store fills it.
	EventID string `json:"event_id"`
	// RollbackEventID is the rollback_events row the alert is about, if any.
	RollbackEventID string `json:"rollback_event_id,omitempty"`
	// DeploymentID and Version name the deployment ("Deployment: v2.5.3
	// (abc-123)").
	DeploymentID string `json:"deployment_id,omitempty"`
	Version      string `json:"version,omitempty"`
	// Service is the deployment's service; alerts name it when it is not
	// the default one.
	Service string `json:"service,omitempty"`
	// Environment is the deployment's environment.
	Environment string `json:"environment"`
	// Reason is the trigger reason ("High error rate: 8.5 errors/minute").
	Reason string `json:"reason,omitempty"`
	// Why is the judge's one line explaining the trigger ("Why: 42 errors
	// in 3 min (14/minute) vs 9 in 30 min (0.3/minute) on v2.5.2 — 47x,
	// p < 0.0001"), or empty.
	Why string `json:"why,omitempty"`
	// Trigger is automatic, manual or constitutional_violation.
	Trigger string `json:"trigger,omitempty"`
	// TargetDeploymentID, TargetVersion and TargetCommit name the version
	// rolled back to ("Target: v2.5.2 (a7f3b29)").
	TargetDeploymentID string `json:"target_deployment_id,omitempty"`
	TargetVersion      string `json:"target_version,omitempty"`
	TargetCommit       string `json:"target_commit,omitempty"`
	// Validation is the constitutional status: ValidationApproved,
	// ValidationOverridden, ValidationRejected, or empty when the decision
	// involved no validation (health warnings, suppressions).
	Validation string `json:"validation_status,omitempty"`
	// Violations and Warnings are the constitution's findings.
	Violations []string `json:"violations,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	// InitiatedBy is the user uuid behind a manual rollback, if known.
	InitiatedBy string `json:"initiated_by,omitempty"`
	// Detail is the failure reason, the suppression reason or the warning
	// text, when the kind has one.
	Detail string `json:"detail,omitempty"`
	// DurationSeconds is a finished rollback's duration.
	DurationSeconds *float64 `json:"duration_seconds,omitempty"`
	// NewErrors lists up to MaxAlertNewErrors error fingerprints that the
	// deployment introduced (no earlier release had them), most events
	// first, on alerts about a trigger or a warning.
	NewErrors []ErrorGroup `json:"new_errors,omitempty"`
	// At is when the decision was made; the store sets it to the event's
	// timestamp.
	At time.Time `json:"at"`
}

// AlertRouter picks the channels ("discord", "slack", "webhook") an alert goes
// to, from its kind and environment. The store calls it inside the
// transaction that writes the alert's roman_events row, so it must be fast
// and must not touch the database.
type AlertRouter func(a *Alert) []string

// Alert channel names (alert_outbox.channel, and keys of alert_routes in the
// configuration).
const (
	ChannelDiscord = "discord"
	ChannelSlack   = "slack"
	ChannelWebhook = "webhook"
)

// AlertChannels lists the channel names.
var AlertChannels = []string{ChannelDiscord, ChannelSlack, ChannelWebhook}

// OutboxAlert is one row of alert_outbox: one alert for one channel.
type OutboxAlert struct {
	ID           int64  `json:"id"`
	Channel      string `json:"channel"`
	Kind         string `json:"kind"`
	Environment  string `json:"environment"`
	DeploymentID string `json:"deployment_id,omitempty"`
	// EventID is the roman_events row the alert rode on.
	EventID string `json:"event_id"`
	// OrderKey groups rows that must be delivered in order on a channel: the
	// deployment id, or "env:<environment>" for alerts about no deployment.
	OrderKey      string     `json:"order_key"`
	Alert         Alert      `json:"alert"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	ClaimedUntil  *time.Time `json:"claimed_until,omitempty"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
	// FailedAt is set when delivery was given up (too old, or refused for
	// good by the channel); a roman_events row says why.
	FailedAt  *time.Time `json:"failed_at,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// OutboxFilter selects outbox rows, oldest first.
type OutboxFilter struct {
	Channel      string
	DeploymentID string
	// Pending selects rows neither delivered nor given up.
	Pending bool
	Limit   int
}

// AlertOrderKey is the OutboxAlert.OrderKey of an alert.
func AlertOrderKey(a *Alert) string {
	if a.DeploymentID != "" {
		return a.DeploymentID
	}
	return "env:" + a.Environment
}

// Notifier delivers one alert to one channel. It reports whether a failed
// delivery is worth retrying (a 5xx, a 429, a timeout) or not (the channel
// refused the message for good, e.g. 400). Errors never contain the
// channel's URL, which is a secret.
type Notifier interface {
	Notify(ctx context.Context, a *Alert) (retry bool, err error)
}
