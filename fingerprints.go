package roman

import (
	"context"
	"strings"
	"time"
)

// New-error actions (setting new_errors_action): what the new_errors signal
// does once a release has new_errors_min events of fingerprints that no
// earlier release had.
const (
	// NewErrorsWarn makes it a health warning (alert, never a rollback).
	NewErrorsWarn = "warn"
	// NewErrorsRollback makes it a trigger, like a high error rate.
	NewErrorsRollback = "rollback"
)

// DefaultNewErrorsMin is the default of new_errors_min.
const DefaultNewErrorsMin = 10

// SignalNewErrors names the new_errors signal (warnings, breaches, alerts).
const SignalNewErrors = "new_errors"

// MaxAlertNewErrors is how many new fingerprints an alert lists.
const MaxAlertNewErrors = 3

// NewErrorCounts are the error events of a release whose fingerprint no
// earlier release of its (service, environment) had, and how many distinct
// fingerprints they are.
type NewErrorCounts struct {
	Events       int64 `json:"events"`
	Fingerprints int64 `json:"fingerprints"`
}

// ErrorGroup is a release's errors of one fingerprint (a row of
// GET /deployments/{id}/errors).
type ErrorGroup struct {
	Fingerprint string `json:"fingerprint"`
	// New is true when no earlier release of the (service, environment)
	// had the fingerprint: this release introduced it.
	New bool `json:"new"`
	// Count is how many events of the fingerprint the release has had.
	Count int64 `json:"count"`
	// FirstSeen and LastSeen are the oldest and newest occurred_at of
	// those events.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Message is a sample message (the first event's) and ErrorType its
	// error_type, when the client sent one.
	Message   string `json:"message"`
	ErrorType string `json:"error_type,omitempty"`
	// FirstDeploymentID is the release where the fingerprint was first
	// seen: this one for a new fingerprint, an earlier one for a known one.
	FirstDeploymentID string `json:"first_deployment_id"`
}

// ErrorGroupFilter selects a release's error groups.
type ErrorGroupFilter struct {
	// NewOnly keeps only the fingerprints the release introduced.
	NewOnly bool
	// Limit bounds the list: 0 (or less) means 100, at most 1000.
	Limit int
}

// FingerprintStore remembers, per (service, environment), the release where
// each error fingerprint was first seen, and a release's errors grouped by
// fingerprint. InsertErrorEvents (SignalStore) maintains both in the
// transaction that stores the events: "earlier" is by the releases'
// deployed_at (then id), so an event of an older release stored late still
// makes the fingerprint known for the newer one. Events without a
// fingerprint are not grouped.
type FingerprintStore interface {
	// MarkNewFingerprint records fingerprint as first seen on the
	// deployment's release at `at`, unless an earlier release of the
	// deployment's (service, environment) already has it (then nothing
	// changes; a later one that had it loses it to this release). It adds
	// no events: an integration that knows an issue is new (Sentry's
	// issue.created) calls it beside storing the events. EINVALID for a
	// deployment id that is not a UUID or an empty or over-long
	// fingerprint (naming the field), ENOTFOUND for an unknown deployment,
	// else EINTERNAL.
	MarkNewFingerprint(ctx context.Context, deploymentID, fingerprint string, at time.Time) error
	// NewErrorsBatch returns, keyed by the ids as given, the new-error
	// counts of each deployment that has any, with one query. A service's
	// first release in an environment has none (there is no earlier
	// release to compare with, so every error would be "new"). An id that
	// is not a UUID, or a deployment without new errors, is absent. Only
	// EINTERNAL.
	NewErrorsBatch(ctx context.Context, deploymentIDs []string) (map[string]NewErrorCounts, error)
	// DeploymentErrors returns a release's errors grouped by fingerprint,
	// new ones first, then by count (descending), then by fingerprint.
	// ENOTFOUND for an unknown deployment, else EINTERNAL.
	DeploymentErrors(ctx context.Context, deploymentID string, f ErrorGroupFilter) ([]ErrorGroup, error)
}

// NewErrorsService answers GET /deployments/{id}/errors.
type NewErrorsService interface {
	// DeploymentErrors is FingerprintStore.DeploymentErrors behind input
	// checks: EINVALID for an id that is not a UUID or a limit out of
	// range, ENOTFOUND for an unknown deployment.
	DeploymentErrors(ctx context.Context, deploymentID string, f ErrorGroupFilter) ([]ErrorGroup, error)
}

// NewErrorsReason is the text of the new_errors signal, as a warning and as
// a trigger's reason: "New errors: 12 events of 3 fingerprints not seen
// before this release".
func NewErrorsReason(c NewErrorCounts) string {
	return "New errors: " + plural(float64(c.Events), "event") + " of " + plural(float64(c.Fingerprints), "fingerprint") +
		" not seen before this release"
}

// IsNewErrorsText reports whether a warning or reason text is the
// new_errors signal's.
func IsNewErrorsText(s string) bool { return strings.HasPrefix(s, "New errors: ") }

// ValidNewErrorsAction reports whether a is a new_errors_action.
func ValidNewErrorsAction(a string) bool { return a == NewErrorsWarn || a == NewErrorsRollback }

// AlertNewErrors returns what an alert about deploymentID lists of its new
// errors: up to MaxAlertNewErrors fingerprints it introduced, most events
// first. An alert must go out whatever happens here, so a nil store or a
// failed read gives nil (and the read's error, for the caller to log).
func AlertNewErrors(ctx context.Context, fs FingerprintStore, deploymentID string) ([]ErrorGroup, error) {
	if fs == nil || deploymentID == "" {
		return nil, nil
	}
	gs, err := fs.DeploymentErrors(ctx, deploymentID, ErrorGroupFilter{NewOnly: true, Limit: MaxAlertNewErrors})
	if err != nil || len(gs) == 0 {
		return nil, err
	}
	return gs, nil
}
