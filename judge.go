package roman

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Judges of a (service, environment).
const (
	// JudgeThreshold decides on the fixed health triggers (the default).
	JudgeThreshold = "threshold"
	// JudgeBaseline decides on a regression against the replaced release.
	JudgeBaseline = "baseline"
)

// Verdicts of a judgement.
const (
	VerdictPass         = "pass"
	VerdictFail         = "fail"
	VerdictInconclusive = "inconclusive"
)

// SignalRegression is the signal of a judgement that compared the release's
// error rate with its baseline's; SignalRequests is the signal of one that
// could not, for want of request counts.
const (
	SignalRegression = "error_rate_regression"
	SignalRequests   = "requests"
)

// MetricRequests is the metric sample name of request counts: each sample is
// the number of requests served in the minute before its at.
const MetricRequests = "requests"

// Event types of the judge: a health_judgement row records a verdict (a
// change, a trigger, a suppression or a window's end) with its evidence; a
// watch_extended row a window extended because it ended inconclusive.
const (
	EventHealthJudgement = "health_judgement"
	EventWatchExtended   = "watch_extended"
)

// MaxJudgeExtensions is how many times a window that ends inconclusive is
// extended before a human must decide.
const MaxJudgeExtensions = 2

// JudgeSettings are the judge's settings of one environment.
type JudgeSettings struct {
	// Judge is JudgeThreshold or JudgeBaseline.
	Judge string `json:"judge"`
	// Shadow also evaluates the other judge and records its verdicts
	// without acting on them.
	Shadow bool `json:"judge_shadow"`
	// BaselineWindow is how long before the new release's deployed_at the
	// replaced release is measured.
	BaselineWindow time.Duration `json:"baseline_window"`
	// MaxRatio: a release whose error rate is at most MaxRatio times its
	// baseline's counts as no worse.
	MaxRatio float64 `json:"max_ratio"`
	// FalsePositiveRate bounds the chance, over a whole window, of failing
	// a release that is no worse than its baseline.
	FalsePositiveRate float64 `json:"false_positive_rate"`
	// MinErrors is how many errors the release needs before it can fail.
	MinErrors int64 `json:"min_errors"`
	// MinRequests is how many requests the release's window needs when the
	// environment reports request counts.
	MinRequests float64 `json:"min_requests"`
	// Extend is how much longer a window that ends inconclusive is watched
	// (at most MaxJudgeExtensions times).
	Extend time.Duration `json:"extend"`
}

// DefaultJudgeSettings are the defaults: the threshold judge, and the
// baseline judge's parameters for when it is chosen.
func DefaultJudgeSettings() JudgeSettings {
	return JudgeSettings{Judge: JudgeThreshold, BaselineWindow: 30 * time.Minute, MaxRatio: 1.5,
		FalsePositiveRate: 0.01, MinErrors: 5, MinRequests: 100, Extend: 5 * time.Minute}
}

// Validate checks every judge setting; the problems are FieldErrors named by
// the settings' keys, joined.
func (s JudgeSettings) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Field: key, Message: fmt.Sprintf(format, args...)})
	}
	if s.Judge != JudgeThreshold && s.Judge != JudgeBaseline {
		add("judge", "must be threshold or baseline, got %q", s.Judge)
	}
	if s.BaselineWindow < time.Minute {
		add("baseline_window", "must be at least 1m, got %s", s.BaselineWindow)
	}
	switch {
	case math.IsNaN(s.MaxRatio) || math.IsInf(s.MaxRatio, 0):
		add("max_ratio", "not a number")
	case s.MaxRatio < 1:
		add("max_ratio", "must be at least 1 (a release as bad as its baseline is no regression), got %g", s.MaxRatio)
	}
	if math.IsNaN(s.FalsePositiveRate) || s.FalsePositiveRate <= 0 || s.FalsePositiveRate >= 0.5 {
		add("false_positive_rate", "must be above 0 and below 0.5, got %g", s.FalsePositiveRate)
	}
	if s.MinErrors < 1 {
		add("min_errors", "must be at least 1, got %d", s.MinErrors)
	}
	if math.IsNaN(s.MinRequests) || math.IsInf(s.MinRequests, 0) || s.MinRequests < 0 {
		add("min_requests", "must be a number, at least 0, got %g", s.MinRequests)
	}
	if s.Extend < 0 {
		add("extend", "must not be negative, got %s", s.Extend)
	}
	return errors.Join(errs...)
}

// Other returns the judge that is not s.Judge: the one shadow mode records.
func (s JudgeSettings) Other() string {
	if s.Judge == JudgeBaseline {
		return JudgeThreshold
	}
	return JudgeBaseline
}

// BaselineSample is what the judge knows of the replaced release over the
// baseline window.
type BaselineSample struct {
	DeploymentID string
	Version      string
	From, To     time.Time
	Errors       int64
	// Requests is the request count of the window, nil when none reported.
	Requests *float64
}

// JudgeInput is what a judgement is made of.
type JudgeInput struct {
	// Now is the time of the judgement; DeployedAt the release's.
	Now, DeployedAt time.Time
	// Errors counts the release's errors by occurred_at in
	// [DeployedAt, Now], or up to RequestsUntil when Requests is set.
	Errors int64
	// Requests is the release's request count since DeployedAt, nil when
	// none was reported; RequestsUntil is the at of its newest sample.
	Requests      *float64
	RequestsUntil time.Time
	// Baseline is nil when the release replaced none (a service's first
	// deployment) or its predecessor has no time to measure.
	Baseline *BaselineSample
	// Health is the absolute health now (the threshold triggers).
	Health Health
	// Horizon is how long after DeployedAt the release can be watched at
	// most (its window's end plus every extension), Window the part up
	// to the end of its first window. With a Horizon the test adds the
	// bounded-horizon boundary (docs/judge.md); zero leaves the e-process
	// alone.
	Horizon, Window time.Duration
	// SkipTest tells Judge that the sequential test cannot reject: it did
	// not at the same error count earlier (the e-value only falls between
	// errors). The statistic is then left out (EValue 1, PValue 1).
	SkipTest bool
}

// JudgementBaseline is the baseline part of a judgement.
type JudgementBaseline struct {
	DeploymentID string    `json:"deployment_id"`
	Version      string    `json:"version"`
	WindowStart  time.Time `json:"window_start"`
	WindowEnd    time.Time `json:"window_end"`
	Minutes      float64   `json:"minutes"`
	Errors       int64     `json:"errors"`
	Requests     *float64  `json:"requests"`
	// Rate is errors per minute, or per request when counted per request.
	Rate float64 `json:"rate"`
}

// JudgementLimits are the limits a judgement applied.
type JudgementLimits struct {
	MaxRatio          float64 `json:"max_ratio"`
	FalsePositiveRate float64 `json:"false_positive_rate"`
	MinErrors         int64   `json:"min_errors"`
	MinRequests       float64 `json:"min_requests"`
	// EValueThreshold is the e-value that fails: 1/false_positive_rate,
	// or 1/(its share) when the bounded-horizon boundary takes the rest.
	EValueThreshold float64 `json:"e_value_threshold"`
	// HorizonMinutes is how long after the deployment the bounded-horizon
	// boundary covers; 0 when it does not apply.
	HorizonMinutes float64 `json:"horizon_minutes"`
	// ErrorRate, RecentErrors and DBConnections are the threshold
	// triggers.
	ErrorRate     float64 `json:"error_rate"`
	RecentErrors  int64   `json:"recent_errors"`
	DBConnections float64 `json:"db_connections"`
}

// Judgement is one verdict of a judge about a release, with its evidence.
type Judgement struct {
	Judge string `json:"judge"`
	// Shadow is set on a verdict recorded without acting on it.
	Shadow  bool   `json:"shadow"`
	Verdict string `json:"verdict"`
	// Signal names what decided the verdict.
	Signal string `json:"signal"`
	// Reason is the trigger's reason text when the verdict is fail.
	Reason string `json:"reason"`
	// Why is the one line that explains the verdict in an alert.
	Why string `json:"why"`
	// Note says what else the judge did, e.g. that it fell back to the
	// thresholds for a first deployment.
	Note string `json:"note"`
	// Fallback is set when the baseline judge applied the thresholds for
	// want of an earlier release.
	Fallback    bool      `json:"fallback"`
	At          time.Time `json:"at"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Minutes     float64   `json:"minutes"`
	Errors      int64     `json:"errors"`
	Requests    *float64  `json:"requests"`
	// Unit is "minute" or "request": what rates are per.
	Unit     string             `json:"unit"`
	Rate     float64            `json:"rate"`
	Baseline *JudgementBaseline `json:"baseline"`
	// Ratio is the release's rate over the baseline's; nil when the
	// baseline had no errors or there is no baseline.
	Ratio *float64 `json:"ratio"`
	// Statistic is the natural logarithm of EValue.
	Statistic float64 `json:"statistic"`
	// EValue is the sequential test's e-value; PValue = min(1, 1/EValue)
	// is its anytime-valid p-value.
	EValue float64 `json:"e_value"`
	PValue float64 `json:"p_value"`
	// CriticalErrors is the bounded-horizon boundary's critical count at
	// the release's exposure: as many errors fail. 0 when the boundary
	// does not apply (no horizon, beyond it, or a baseline above its
	// largest count).
	CriticalErrors int64           `json:"critical_errors"`
	Limits         JudgementLimits `json:"limits"`
}

// Judge judges a release with the judge named kind (JudgeThreshold or
// JudgeBaseline). It is a pure function of its input, so the monitor, the
// check endpoint, the simulation and tests agree.
func Judge(kind string, in JudgeInput, s JudgeSettings, t Thresholds) Judgement {
	j := Judgement{Judge: kind, At: UTC(in.Now), WindowStart: UTC(in.DeployedAt), WindowEnd: UTC(in.Now),
		Errors: in.Errors, Requests: in.Requests, Unit: "minute", PValue: 1, EValue: 1,
		Limits: JudgementLimits{MaxRatio: s.MaxRatio, FalsePositiveRate: s.FalsePositiveRate, MinErrors: s.MinErrors,
			MinRequests: s.MinRequests, EValueThreshold: 1 / s.FalsePositiveRate,
			ErrorRate: t.ErrorRate, RecentErrors: t.RecentErrors, DBConnections: t.DBConnections}}
	end := in.Now
	if in.Requests != nil && !in.RequestsUntil.IsZero() {
		end = in.RequestsUntil
		j.WindowEnd = UTC(end)
	}
	j.Minutes = math.Max(0, end.Sub(in.DeployedAt).Minutes())
	perRequest := in.Baseline != nil && in.Baseline.Requests != nil && *in.Baseline.Requests > 0
	if perRequest {
		j.Unit = "request"
	}
	exposure := j.Minutes
	if perRequest {
		exposure = 0
		if in.Requests != nil {
			exposure = *in.Requests
		}
	}
	if exposure > 0 {
		j.Rate = float64(in.Errors) / exposure
	}
	var bexp float64
	if b := in.Baseline; b != nil {
		jb := &JudgementBaseline{DeploymentID: b.DeploymentID, Version: b.Version, WindowStart: UTC(b.From), WindowEnd: UTC(b.To),
			Minutes: b.To.Sub(b.From).Minutes(), Errors: b.Errors, Requests: b.Requests}
		bexp = jb.Minutes
		if perRequest {
			bexp = *b.Requests
		}
		if bexp > 0 {
			jb.Rate = float64(b.Errors) / bexp
			j.Baseline = jb
		}
	}
	// The sequential test, whenever there is something to compare.
	tested := j.Baseline != nil && exposure > 0 && !in.SkipTest
	boundaryRejects := false
	if in.Horizon > 0 && in.Window > 0 {
		// The bounded-horizon boundary takes boundShare of the level,
		// the e-process the rest (docs/judge.md).
		j.Limits.EValueThreshold = 1 / ((1 - boundShare) * s.FalsePositiveRate)
	}
	if tested {
		j.Statistic, _ = RegressionEValue(j.Baseline.Errors, bexp, in.Errors, exposure, s.MaxRatio)
		j.EValue = math.Min(math.Exp(j.Statistic), 1e300)
		j.PValue = math.Min(1, math.Exp(-j.Statistic))
		if in.Horizon > 0 && in.Window > 0 {
			hexp, wexp := in.Horizon.Minutes(), in.Window.Minutes()
			if perRequest {
				// The baseline's requests per minute over the horizon.
				hexp, wexp = hexp*bexp/j.Baseline.Minutes, wexp*bexp/j.Baseline.Minutes
			}
			// As BoundaryFor(…).Reject, without waiting for a boundary
			// not computed yet (boundaryCheck).
			applies, rejects, crit := boundaryCheck(j.Baseline.Errors, bexp, hexp, wexp, s.MaxRatio, s.FalsePositiveRate, s.MinErrors, in.Errors, exposure)
			if applies {
				j.Limits.HorizonMinutes = in.Horizon.Minutes()
				boundaryRejects, j.CriticalErrors = rejects, crit
			}
		}
	}
	if j.Baseline != nil && exposure > 0 && j.Baseline.Errors > 0 {
		r := j.Rate / j.Baseline.Rate
		j.Ratio = &r
	}
	regression := tested && in.Errors >= s.MinErrors &&
		(boundaryRejects || j.Statistic >= math.Log(j.Limits.EValueThreshold))
	if regression && boundaryRejects {
		// The boundary rejects at the false-positive rate: the test's
		// p-value is at most that.
		j.PValue = math.Min(j.PValue, s.FalsePositiveRate)
	}
	h := in.Health

	if kind != JudgeBaseline || j.Baseline == nil {
		// The thresholds: the seed's triggers.
		if kind == JudgeBaseline {
			j.Fallback = true
			j.Note = "no earlier release of the service to compare with: the threshold triggers were applied"
		}
		switch {
		case h.Reason != "":
			j.Verdict, j.Signal, j.Reason = VerdictFail, thresholdSignal(h.Reason), h.Reason
			j.Why = ThresholdWhy(h, t)
		case len(h.Unknown) > 0:
			j.Verdict, j.Signal = VerdictInconclusive, firstKey(h.Unknown)
			j.Why = "Why: " + unknownWhy(h.Unknown)
		default:
			j.Verdict, j.Signal = VerdictPass, SignalErrorRate
			j.Why = "Why: no trigger fired (" + FormatErrorRate(h.ErrorRatePerMinute) + ", " +
				strconv.FormatInt(h.RecentErrors, 10) + " in 5 minutes)"
		}
		return j
	}

	// The baseline judge.
	dbReason := h.Reason != "" && thresholdSignal(h.Reason) == MetricDatabaseConnectionUtilization
	switch {
	case dbReason:
		// The DB-connection trigger stays absolute.
		j.Verdict, j.Signal, j.Reason = VerdictFail, MetricDatabaseConnectionUtilization, h.Reason
		j.Why = ThresholdWhy(h, t)
	case regression:
		j.Verdict, j.Signal = VerdictFail, SignalRegression
		j.Reason = regressionReason(j)
		j.Why = regressionWhy(j)
	case perRequest && (in.Requests == nil || *in.Requests < s.MinRequests):
		j.Verdict, j.Signal = VerdictInconclusive, SignalRequests
		got := "none"
		if in.Requests != nil {
			got = FormatRate(*in.Requests)
		}
		j.Why = fmt.Sprintf("Why: %s on %s reported request counts but this release's window has %s (at least %s needed): no traffic is not health",
			errorsIn(j.Baseline.Errors, j.Baseline.Minutes), j.Baseline.Version, got, FormatRate(s.MinRequests))
	case len(h.Unknown) > 0:
		j.Verdict, j.Signal = VerdictInconclusive, firstKey(h.Unknown)
		j.Why = "Why: " + unknownWhy(h.Unknown)
	case h.Reason != "":
		// Above the absolute triggers without a significant regression:
		// the previous release ran as badly.
		j.Verdict, j.Signal = VerdictInconclusive, thresholdSignal(h.Reason)
		j.Note = h.Reason + ", but no significant regression against " + j.Baseline.Version + ": alert, no rollback"
		j.Why = regressionWhy(j)
	default:
		j.Verdict, j.Signal = VerdictPass, SignalRegression
		j.Why = regressionWhy(j)
	}
	return j
}

// thresholdSignal names the signal of a threshold trigger's reason.
func thresholdSignal(reason string) string {
	switch {
	case strings.HasPrefix(reason, "High error rate"):
		return SignalErrorRate
	case strings.HasPrefix(reason, "Too many recent errors"):
		return SignalRecentErrors
	case strings.HasPrefix(reason, "Database connection"):
		return MetricDatabaseConnectionUtilization
	}
	return reason
}

// ThresholdWhy is the why line of a threshold trigger: "Why: 9 errors in
// the last minute, above the trigger of 5/minute".
func ThresholdWhy(h Health, t Thresholds) string {
	switch thresholdSignal(h.Reason) {
	case SignalErrorRate:
		return fmt.Sprintf("Why: %s in the last minute, above the trigger of %s/minute", plural(h.ErrorRatePerMinute, "error"), FormatRate(t.ErrorRate))
	case SignalRecentErrors:
		return fmt.Sprintf("Why: %d errors in the last 5 minutes, above the trigger of %d", h.RecentErrors, t.RecentErrors)
	case MetricDatabaseConnectionUtilization:
		return fmt.Sprintf("Why: database connection utilization %s%%, above the trigger of %s%% (absolute under both judges)",
			FormatRate(deref(h.DatabaseConnectionUtilization)), FormatRate(t.DBConnections))
	}
	return "Why: " + h.Reason
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func plural(v float64, noun string) string {
	n := FormatRate(v)
	if n == "1" {
		return n + " " + noun
	}
	return n + " " + noun + "s"
}

func firstKey(m map[string]string) string {
	k := ""
	for s := range m {
		if k == "" || s < k {
			k = s
		}
	}
	return k
}

func unknownWhy(m map[string]string) string {
	k := firstKey(m)
	return k + " is unknown (" + m[k] + "): no data is not health"
}

// errorsIn prints "9 in 30 min".
func errorsIn(n int64, minutes float64) string {
	return strconv.FormatInt(n, 10) + " in " + FormatRate(minutes) + " min"
}

// rateText prints a rate of a judgement in its unit: "14/minute" or
// "0.35% of requests".
func rateText(rate float64, unit string) string {
	if unit == "request" {
		return formatSig(rate*100) + "% of requests"
	}
	return FormatRate(rate) + "/minute"
}

// formatSig prints v with two significant digits (at most one decimal when
// at least 1).
func formatSig(v float64) string {
	if v >= 1 || v == 0 {
		return FormatRate(v)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// ratioText prints "47x", or "new errors" for a zero baseline.
func ratioText(j Judgement) string {
	if j.Ratio == nil {
		return "no errors on the baseline"
	}
	return FormatRate(*j.Ratio) + "x"
}

// PValueText prints an anytime-valid p-value: "p < 0.0001" or "p = 0.003".
func PValueText(p float64) string {
	if p < 0.0001 {
		return "p < 0.0001"
	}
	if p >= 1 {
		return "p = 1"
	}
	return "p = " + strconv.FormatFloat(p, 'g', 2, 64)
}

// regressionWhy is the why line of a comparison with the baseline:
// "Why: 42 errors in 3 min (14/minute) vs 9 in 30 min (0.3/minute) on
// v2.5.2 — 47x, p < 0.0001".
func regressionWhy(j Judgement) string {
	b := j.Baseline
	p := PValueText(j.PValue)
	if j.Statistic == 0 && j.EValue == 1 && j.PValue == 1 {
		p = "not significant"
	}
	if j.Unit == "request" {
		return fmt.Sprintf("Why: %d errors in %s requests over %s min (%s) vs %d in %s requests over %s min (%s) on %s — %s, %s",
			j.Errors, FormatRate(deref(j.Requests)), FormatRate(j.Minutes), rateText(j.Rate, j.Unit),
			b.Errors, FormatRate(deref(b.Requests)), FormatRate(b.Minutes), rateText(b.Rate, j.Unit), b.Version, ratioText(j), p)
	}
	return fmt.Sprintf("Why: %d errors in %s min (%s) vs %s (%s) on %s — %s, %s",
		j.Errors, FormatRate(j.Minutes), rateText(j.Rate, j.Unit), errorsIn(b.Errors, b.Minutes), rateText(b.Rate, j.Unit),
		b.Version, ratioText(j), p)
}

// regressionReason is the reason text of a regression:
// "Error rate regression: 14 errors/minute vs 0.3 on v2.5.2 (47x)".
func regressionReason(j Judgement) string {
	b := j.Baseline
	if j.Unit == "request" {
		return fmt.Sprintf("Error rate regression: %s vs %s on %s (%s)", rateText(j.Rate, j.Unit), formatSig(b.Rate*100)+"%", b.Version, ratioText(j))
	}
	return fmt.Sprintf("Error rate regression: %s vs %s on %s (%s)", FormatErrorRate(j.Rate), FormatRate(b.Rate), b.Version, ratioText(j))
}

// JudgeCounts are a deployment's counts over a window, as the judge reads
// them: errors by occurred_at, and the request samples (metric samples named
// MetricRequests).
type JudgeCounts struct {
	Errors int64
	// Requests is the sum of the request samples, RequestSamples how many
	// there were and RequestsUntil the at of the newest.
	Requests       float64
	RequestSamples int
	RequestsUntil  time.Time
}

// JudgeStore is what the baseline judge reads besides health. *sqldb.DB
// implements it.
type JudgeStore interface {
	// PreviousDeployment returns the deployment d replaced: the newest of
	// its (service, environment) deployed before it whose status is
	// success, or nil when there is none.
	PreviousDeployment(ctx context.Context, d *Deployment) (*Deployment, error)
	// JudgeCounts returns a deployment's errors with occurred_at in
	// [from, to] and its request samples with at in (from, to].
	JudgeCounts(ctx context.Context, deploymentID string, from, to time.Time) (JudgeCounts, error)
}
