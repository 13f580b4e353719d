package roman

import (
	"context"
	"time"
)

// Signal names of the health object. Every source reports its
// values under these names; the metric names above are a subset.
const (
	SignalErrorRate    = "error_rate_per_minute"
	SignalRecentErrors = "recent_errors"
)

// Signals lists every signal of the health object, in its JSON order.
var Signals = []string{
	SignalErrorRate, SignalRecentErrors,
	MetricDatabaseConnections, MetricDatabaseConnectionUtilization, MetricActiveQueries,
	MetricP95ResponseTimeMS, MetricMemoryUsagePercent,
}

// ValidSignal reports whether name is one of Signals.
func ValidSignal(name string) bool {
	for _, s := range Signals {
		if s == name {
			return true
		}
	}
	return false
}

// HealthSource is one pluggable source of health signals: the
// built-in store counts, PostgreSQL's pg_stat_activity, a Prometheus query
// per signal, or an HTTP probe. Like argo-rollouts' metric providers it
// keeps "cannot measure" apart from "unhealthy": a source that fails reports
// its signals as unknown with the reason, which neither passes nor fails a
// deployment.
type HealthSource interface {
	// Name is the source's kind and target for logs and the health details,
	// e.g. "prometheus" or "probe"; it never contains a secret.
	Name() string
	// Signals lists the signals the source measures.
	Signals() []string
	// Measure takes one reading for deployment d at time now. A signal the
	// source could not read is in Measurement.Unknown with the reason. An
	// error means the whole source failed: every one of its signals is
	// unknown with the error's text.
	Measure(ctx context.Context, d *Deployment, now time.Time) (Measurement, error)
}

// Measurement is one reading of a HealthSource.
type Measurement struct {
	// Values maps a signal name to its value.
	Values map[string]float64
	// Unknown maps a signal the source could not read to the reason.
	Unknown map[string]string
	// Errors are application errors the source observed itself (a failed
	// HTTP probe); they are stored and counted like ingested errors.
	Errors []ErrorEvent
}

// IngestService stores what applications post: error events and metric
// samples. A batch is validated whole and stored in one
// transaction before the call returns, so a crash after a success loses
// nothing; invalid input stores nothing.
type IngestService interface {
	// IngestErrors validates and stores a batch of error events. Events
	// without a deployment_id belong to their environment's current
	// deployment. EINVALID or ENOTFOUND naming the item (events[3].message)
	// for a bad event, EUNAVAILABLE when the write path is saturated.
	IngestErrors(ctx context.Context, b ErrorBatch) (*IngestResult, error)
	// IngestMetrics validates and stores a batch of metric samples, like
	// IngestErrors (items named samples[i]).
	IngestMetrics(ctx context.Context, b MetricBatch) (*IngestResult, error)
}

// ErrorBatch is one POST /errors body.
type ErrorBatch struct {
	Events []ErrorEvent
	// Batch is true when the body was {"events": [...]}, so that error
	// messages name items as events[i]; a single event is named by its
	// field alone.
	Batch bool
}

// MetricBatch is one POST /metrics/samples body.
type MetricBatch struct {
	Samples []MetricSample
	// Batch is true when the body was {"samples": [...]}.
	Batch bool
}

// IngestResult is the answer to an accepted batch.
type IngestResult struct {
	// Accepted is how many items were stored.
	Accepted int `json:"accepted"`
	// Deployments lists the deployments the items were attributed to.
	Deployments []string `json:"deployment_ids"`
}

// Event types of the monitor's decisions in roman_events. Every
// row carries metadata.deployment_id.
const (
	// EventWatchStarted: a deployment's watch window opened.
	EventWatchStarted = "watch_started"
	// EventAutoRollbackTriggered: a trigger fired inside the window and an
	// automatic rollback was started.
	EventAutoRollbackTriggered = "auto_rollback_triggered"
	// EventAutoRollbackSuppressed: a trigger fired but storm protection (or
	// the auto_rollback mode) kept roman from rolling back.
	EventAutoRollbackSuppressed = "auto_rollback_suppressed"
	// EventManualIntervention: the constitution rejected an automatic
	// rollback (or it could not run); roman does not retry by itself.
	EventManualIntervention = "manual_intervention_required"
	// EventHealthWarning: a warning-only signal (slow responses, memory,
	// an elevated error rate).
	EventHealthWarning = "health_warning"
	// EventHealthAlert: a trigger fired where roman only alerts (after the
	// window, or with auto_rollback: never).
	EventHealthAlert = "health_alert"
	// EventWatchPassed: the window ended with no trigger; the deployment
	// is marked health_check_passed.
	EventWatchPassed = "watch_window_passed"
	// EventWatchUnverified: the window ended with no trigger but a signal
	// stayed unknown throughout, so health_check_passed is not set.
	EventWatchUnverified = "watch_window_unverified"
	// EventWatchBreach: a trigger fired inside the watch window, whatever
	// followed (a rollback, a suppression, a rejection or an alert only).
	// The row is the durable evidence that the window did not pass: a
	// restarted monitor reads it before it decides the window's end.
	EventWatchBreach = "watch_breach"
	// EventWatchFailed: the window ended with at least one breach; the
	// deployment is not marked health_check_passed.
	EventWatchFailed = "watch_window_failed"
)
