package roman

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Health statuses.
const (
	HealthHealthy   = "healthy"
	HealthDegraded  = "degraded"
	HealthUnhealthy = "unhealthy"
)

// Health is the health object, the /check response's "health".
// Every signal key is always present; a signal no source gives is null.
type Health struct {
	Healthy                       bool     `json:"healthy"`
	Status                        string   `json:"status"`
	ErrorRatePerMinute            float64  `json:"error_rate_per_minute"`
	RecentErrors                  int64    `json:"recent_errors"`
	DatabaseConnections           *float64 `json:"database_connections"`
	DatabaseConnectionUtilization *float64 `json:"database_connection_utilization"`
	ActiveQueries                 *float64 `json:"active_queries"`
	P95ResponseTimeMS             *float64 `json:"p95_response_time_ms"`
	MemoryUsagePercent            *float64 `json:"memory_usage_percent"`
	// Reason is the text of the first trigger that fired, or "".
	Reason string `json:"reason,omitempty"`
	// Warnings lists warning texts (never a rollback).
	Warnings []string `json:"warnings"`
	// Unknown maps a signal that a source could not measure to the reason.
	Unknown map[string]string `json:"unknown,omitempty"`
	// NewErrors, when the release has any, counts its events of
	// fingerprints no earlier release had (the new_errors signal).
	NewErrors *NewErrorCounts `json:"new_errors,omitempty"`
	Timestamp time.Time       `json:"timestamp"`
	// Alerts are the firing alerts of other tools (Alertmanager)
	// attributed to the deployment: triggers and warnings.
	Alerts []FiringAlert `json:"alerts,omitempty"`
}

// Metric names of samples and pulled signals.
const (
	MetricDatabaseConnections           = "database_connections"
	MetricDatabaseConnectionUtilization = "database_connection_utilization"
	MetricActiveQueries                 = "active_queries"
	MetricP95ResponseTimeMS             = "p95_response_time_ms"
	MetricMemoryUsagePercent            = "memory_usage_percent"
)

// Thresholds are the trigger and warning limits of the health rules. All are
// configurable per environment.
type Thresholds struct {
	ErrorRate         float64 `yaml:"error_rate" json:"error_rate"`                   // errors/minute, trigger when >
	RecentErrors      int64   `yaml:"recent_errors" json:"recent_errors"`             // errors in 5 minutes, trigger when >
	DBConnections     float64 `yaml:"db_connections" json:"db_connections"`           // percent utilisation, trigger when >
	WarnErrorRate     float64 `yaml:"warn_error_rate" json:"warn_error_rate"`         // errors/minute, warning when >=
	WarnP95MS         float64 `yaml:"warn_p95_ms" json:"warn_p95_ms"`                 // ms, warning when >
	WarnMemoryPercent float64 `yaml:"warn_memory_percent" json:"warn_memory_percent"` // percent, warning when >
	// NewErrorsMin is how many events of fingerprints no earlier release
	// had make the new_errors signal fire (config new_errors_min); 0
	// switches the signal off.
	NewErrorsMin int64 `yaml:"new_errors_min" json:"new_errors_min"`
	// NewErrorsAction is what the signal does: NewErrorsWarn (a warning;
	// also when empty) or NewErrorsRollback (a trigger) (config
	// new_errors_action).
	NewErrorsAction string `yaml:"new_errors_action" json:"new_errors_action"`
}

// DefaultThresholds are the seed's numbers.
func DefaultThresholds() Thresholds {
	return Thresholds{ErrorRate: 5, RecentErrors: 50, DBConnections: 90, WarnErrorRate: 1, WarnP95MS: 5000, WarnMemoryPercent: 95,
		NewErrorsMin: DefaultNewErrorsMin, NewErrorsAction: NewErrorsWarn}
}

// Validate checks that every limit is a number within its range (percentages
// at most 100) and that the warning error rate is not above the trigger. The
// problems are FieldErrors named "thresholds.<key>", joined.
func (t Thresholds) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Field: "thresholds." + key, Message: fmt.Sprintf(format, args...)})
	}
	limit := func(key string, x, hi float64) {
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			add(key, "not a number")
		case x < 0:
			add(key, "must not be negative, got %g", x)
		case x > hi:
			add(key, "must be at most %g, got %g", hi, x)
		}
	}
	limit("error_rate", t.ErrorRate, math.Inf(1))
	if t.RecentErrors < 0 {
		add("recent_errors", "must not be negative, got %d", t.RecentErrors)
	}
	limit("db_connections", t.DBConnections, 100)
	limit("warn_error_rate", t.WarnErrorRate, math.Inf(1))
	limit("warn_p95_ms", t.WarnP95MS, math.Inf(1))
	limit("warn_memory_percent", t.WarnMemoryPercent, 100)
	if t.WarnErrorRate > t.ErrorRate {
		add("warn_error_rate", "%g is above the error_rate trigger %g", t.WarnErrorRate, t.ErrorRate)
	}
	// The new-error settings are top-level keys, not thresholds.<key>.
	if t.NewErrorsMin < 0 {
		errs = append(errs, &FieldError{Field: "new_errors_min", Message: fmt.Sprintf("must not be negative, got %d (0 switches the signal off)", t.NewErrorsMin)})
	}
	if t.NewErrorsAction != "" && !ValidNewErrorsAction(t.NewErrorsAction) {
		errs = append(errs, &FieldError{Field: "new_errors_action", Message: fmt.Sprintf("unknown action %q (want warn or rollback)", t.NewErrorsAction)})
	}
	return errors.Join(errs...)
}

// HealthInputs are the measured signals health is computed from.
type HealthInputs struct {
	ErrorsLastMinute   int64 // errors with occurred_at in (now-60s, now]
	ErrorsLast5Minutes int64 // errors with occurred_at in (now-5m, now]
	// Metrics holds the latest value of each measured signal by metric name.
	Metrics map[string]float64
	// Unknown maps a signal whose source failed to the reason.
	Unknown map[string]string
	// Sustained holds, for a sampled signal, the value its last N readings
	// all reached (the smallest of them) when there are N readings, N being
	// the environment's consecutive_breaches. Triggers on sampled signals
	// fire on this value, so one flaky sample does not roll back a release.
	// A signal missing here has not breached N times in a row; nil means
	// "use Metrics" (N = 1).
	Sustained map[string]float64
	// NewErrors counts the release's events of fingerprints no earlier
	// release had (the new_errors signal); zero when not measured.
	NewErrors NewErrorCounts
	// Alerts are the firing alerts of other tools attributed to the
	// deployment, oldest first: a trigger alert that started after the
	// release is a trigger, any other a warning.
	Alerts []FiringAlert
}

// EvaluateHealth computes the health object from inputs: the triggers in
// rules' order (the first that fires is the reason), then the warnings. It
// is a pure function so that the monitor, /check and tests agree.
func EvaluateHealth(in HealthInputs, t Thresholds, now time.Time) Health {
	h := Health{
		ErrorRatePerMinute: float64(in.ErrorsLastMinute),
		RecentErrors:       in.ErrorsLast5Minutes,
		Warnings:           []string{},
		Timestamp:          UTC(now),
	}
	// A sampled error rate or count (pulled from Prometheus, or pushed as a
	// metric sample) counts when it is worse than the counted events.
	sustained := in.Sustained
	if sustained == nil {
		sustained = in.Metrics
	}
	rateT, recentT := h.ErrorRatePerMinute, h.RecentErrors
	if v, ok := in.Metrics[SignalErrorRate]; ok && v > h.ErrorRatePerMinute {
		h.ErrorRatePerMinute = v
	}
	if v, ok := in.Metrics[SignalRecentErrors]; ok && roundCount(v) > h.RecentErrors {
		h.RecentErrors = roundCount(v)
	}
	if v, ok := sustained[SignalErrorRate]; ok && v > rateT {
		rateT = v
	}
	if v, ok := sustained[SignalRecentErrors]; ok && roundCount(v) > recentT {
		recentT = roundCount(v)
	}
	util, utilOK := sustained[MetricDatabaseConnectionUtilization]
	metric := func(name string) *float64 {
		if v, ok := in.Metrics[name]; ok {
			return &v
		}
		return nil
	}
	h.DatabaseConnections = metric(MetricDatabaseConnections)
	h.DatabaseConnectionUtilization = metric(MetricDatabaseConnectionUtilization)
	h.ActiveQueries = metric(MetricActiveQueries)
	h.P95ResponseTimeMS = metric(MetricP95ResponseTimeMS)
	h.MemoryUsagePercent = metric(MetricMemoryUsagePercent)
	if in.NewErrors.Events > 0 {
		ne := in.NewErrors
		h.NewErrors = &ne
	}
	newErrors := t.NewErrorsMin > 0 && in.NewErrors.Events >= t.NewErrorsMin
	if len(in.Unknown) > 0 {
		h.Unknown = make(map[string]string, len(in.Unknown))
		for k, v := range in.Unknown {
			h.Unknown[k] = v
		}
	}

	switch {
	case rateT > t.ErrorRate:
		h.Reason = "High error rate: " + FormatErrorRate(h.ErrorRatePerMinute)
	case recentT > t.RecentErrors:
		h.Reason = "Too many recent errors: " + strconv.FormatInt(h.RecentErrors, 10) + " in 5 minutes"
	case utilOK && h.DatabaseConnectionUtilization != nil && util > t.DBConnections:
		h.Reason = "Database connection utilization at " + FormatRate(*h.DatabaseConnectionUtilization) + "%"
	case newErrors && t.NewErrorsAction == NewErrorsRollback:
		h.Reason = NewErrorsReason(in.NewErrors)
	}
	if newErrors && t.NewErrorsAction != NewErrorsRollback {
		h.Warnings = append(h.Warnings, NewErrorsReason(in.NewErrors))
	}

	if h.P95ResponseTimeMS != nil && *h.P95ResponseTimeMS > t.WarnP95MS {
		h.Warnings = append(h.Warnings, warnP95+FormatRate(*h.P95ResponseTimeMS)+" ms")
	}
	if h.MemoryUsagePercent != nil && *h.MemoryUsagePercent > t.WarnMemoryPercent {
		h.Warnings = append(h.Warnings, warnMemory+FormatRate(*h.MemoryUsagePercent)+"%")
	}
	if h.Reason == "" && h.ErrorRatePerMinute >= t.WarnErrorRate {
		h.Warnings = append(h.Warnings, warnErrorRate+FormatErrorRate(h.ErrorRatePerMinute))
	}
	evaluateAlerts(&h, in.Alerts)

	switch {
	case h.Reason != "":
		h.Healthy, h.Status = false, HealthUnhealthy
	case len(h.Warnings) > 0:
		h.Healthy, h.Status = true, HealthDegraded
	default:
		h.Healthy, h.Status = true, HealthHealthy
	}
	return h
}

// The beginnings of the warning texts, one per warning signal.
const (
	warnP95       = "Slow responses: p95 "
	warnMemory    = "Memory usage at "
	warnErrorRate = "Elevated error rate: "
)

// WarningSignal names the signal a warning text of Health.Warnings is about:
// SignalErrorRate, MetricP95ResponseTimeMS, MetricMemoryUsagePercent or
// SignalNewErrors, "alert:<alertname>" for a firing alert of another tool,
// or "" for a text that is no health warning.
func WarningSignal(text string) string {
	switch {
	case strings.HasPrefix(text, warnErrorRate):
		return SignalErrorRate
	case strings.HasPrefix(text, warnP95):
		return MetricP95ResponseTimeMS
	case strings.HasPrefix(text, warnMemory):
		return MetricMemoryUsagePercent
	case IsNewErrorsText(text):
		return SignalNewErrors
	}
	return alertWarningSignal(text)
}

// roundCount rounds a sampled count to the nearest whole number, halves up
// (as floor(x + 0.5) does in ops.get_deployment_health).
func roundCount(v float64) int64 { return int64(math.Floor(v + 0.5)) }

// Stable reports whether the system counts as stable for the constitution's
// stability rule: error rate below the warning rate and no trigger firing.
func (h Health) Stable(t Thresholds) bool {
	return h.Reason == "" && h.ErrorRatePerMinute < t.WarnErrorRate
}

// Entropy is the system entropy the constitution judges: min(1, error rate / error-rate
// trigger).
func (h Health) Entropy(t Thresholds) float64 {
	if t.ErrorRate <= 0 {
		return 1
	}
	e := h.ErrorRatePerMinute / t.ErrorRate
	if e > 1 {
		e = 1
	}
	return e
}

// FormatRate prints a number with at most one decimal and none when whole:
// 9 → "9", 8.5 → "8.5", 0.25 → "0.3".
func FormatRate(v float64) string {
	return strconv.FormatFloat(float64(int64(v*10+sign(v)*0.5))/10, 'f', -1, 64)
}

// FormatErrorRate prints an error rate for people, as FormatRate prints the
// number, with the noun agreeing with it: "1 error/minute", "0 errors/minute",
// "8.5 errors/minute", "9 errors/minute". A rate that prints as 1 (0.96, for
// instance) is singular, since the text is what people read.
func FormatErrorRate(v float64) string {
	n := FormatRate(v)
	if n == "1" {
		return n + " error/minute"
	}
	return n + " errors/minute"
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

// CheckResult is the /auto-rollback/check response.
type CheckResult struct {
	DeploymentID   string `json:"deployment_id"`
	ShouldRollback bool   `json:"should_rollback"`
	Reason         string `json:"reason"`
	Health         Health `json:"health"`
	// Suppressed is true when the monitor did not roll the deployment back
	// automatically although a trigger fired (storm protection, a
	// constitutional rejection, or a rollback that could not run), so a
	// human must act.
	Suppressed bool `json:"suppressed"`
	// SuppressedBy is the kind of suppression: rollback_deployment,
	// cooldown, max_auto_rollbacks, conflict, rejected or failed.
	SuppressedBy string `json:"suppressed_by,omitempty"`
	// SuppressedReason says why, in a sentence.
	SuppressedReason string `json:"suppressed_reason,omitempty"`
	// SuppressedUntil is when automatic rollbacks resume (the cooldown's
	// end); absent when only a human can lift the suppression.
	SuppressedUntil *time.Time `json:"suppressed_until,omitempty"`
	// Command is what to run to roll the deployment back by hand.
	Command string `json:"command,omitempty"`
	// Judgement is the judge's newest acting verdict about the deployment,
	// with its evidence; absent when the monitor recorded none (the
	// threshold judge without shadow mode records none).
	Judgement *Judgement `json:"judgement,omitempty"`
}
