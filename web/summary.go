package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
)

// DefaultRange is the summary's time range when none is asked for (the
// seed's "last 24 hours").
const DefaultRange = "24h"

// Range limits.
const (
	minRange = time.Minute
	maxRange = 90 * 24 * time.Hour
	// maxRollbacks is how many rollbacks of the range the summary lists.
	maxRollbacks = 50
)

// parseRange reads a time range: a Go duration ("90m", "24h") or a number
// of days ("7d"), between one minute and 90 days.
func parseRange(s string) (time.Duration, error) {
	if s == "" {
		s = DefaultRange
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, roman.Errorf(roman.EINVALID, "invalid range %q: want a duration such as 1h, 24h or 7d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, roman.Errorf(roman.EINVALID, "invalid range %q: want a duration such as 1h, 24h or 7d", s)
		}
	}
	if d < minRange || d > maxRange {
		return 0, roman.Errorf(roman.EINVALID, "invalid range %q: must be between 1m and 90d", s)
	}
	return d, nil
}

// Summary is everything the dashboard shows, as JSON (GET
// /app/admin/roman-dashboard/summary).
type Summary struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Range is the time range asked for, Since its start.
	Range string    `json:"range"`
	Since time.Time `json:"since"`
	// Stats are the rollback figures of the range.
	Stats roman.RollbackStats `json:"stats"`
	// Environments lists the current deployment of each service in each
	// environment, a card each.
	Environments []EnvironmentStatus `json:"environments"`
	// Rollbacks are the range's rollbacks, newest first (at most 50), with
	// their steps.
	Rollbacks []RollbackSummary `json:"rollbacks"`
}

// EnvironmentStatus is the current deployment of one service in one
// environment, its live health, its watch window and its error-rate chart.
type EnvironmentStatus struct {
	Environment string `json:"environment"`
	// Service is the deployment's service.
	Service    string            `json:"service"`
	Deployment *roman.Deployment `json:"deployment"`
	// RolledBackFrom is the version this deployment replaced by a rollback,
	// when it was recorded by one.
	RolledBackFrom string `json:"rolled_back_from,omitempty"`
	// Health is null when it could not be computed (HealthError says why).
	Health      *roman.Health `json:"health"`
	HealthError string        `json:"health_error,omitempty"`
	Watch       Watch         `json:"watch"`
	// Decision is the latest decision roman recorded about the card's
	// deployment (a breach, a suppressed rollback, a window's verdict), or
	// null when there is none yet.
	Decision *Decision `json:"decision"`
	// Rollback, for a deployment recorded by a rollback, is the decision
	// that rolled the previous release back; null otherwise.
	Rollback *Decision `json:"rollback"`
	// ExplainURL is the dashboard page with the deployment's decision
	// timeline and verdict.
	ExplainURL string `json:"explain_url"`
	// Judgement is the judge's newest acting verdict about the deployment
	// with its why line, or null when none was recorded.
	Judgement  *roman.Judgement `json:"judgement"`
	Thresholds roman.Thresholds `json:"thresholds"`
	Chart      Chart            `json:"chart"`
	// NewErrors lists up to maxCardNewErrors fingerprints the release
	// introduced (no earlier release of its service and environment had
	// them), most events first; empty when it has none.
	NewErrors []roman.ErrorGroup `json:"new_errors"`
}

// maxCardNewErrors is how many new errors a card lists.
const maxCardNewErrors = 5

// Decision is one decision roman recorded about a release, as a card shows
// it: what kind it was, why, when, and what a person can do about it.
type Decision struct {
	// Kind is one of the Decision… constants.
	Kind string `json:"kind"`
	// Severity is the roman_events row's (info, warning, error, critical).
	Severity string `json:"severity"`
	// Reason is why: the trigger's reason for a breach or a rollback, the
	// suppression's reason, or the window verdict's message.
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// SuppressedBy names what kept an automatic rollback from running
	// (cooldown, max_auto_rollbacks, rollback_deployment, rejected, failed,
	// conflict); SuppressedUntil is when a cooldown ends.
	SuppressedBy    string     `json:"suppressed_by,omitempty"`
	SuppressedUntil *time.Time `json:"suppressed_until,omitempty"`
	// Command is the command a person runs to roll the release back by
	// hand, when roman did not.
	Command string `json:"command,omitempty"`
	// DeploymentID and Version name the release the decision is about,
	// TargetVersion the version a rollback went back to.
	DeploymentID  string `json:"deployment_id"`
	Version       string `json:"version"`
	TargetVersion string `json:"target_version,omitempty"`
	// Status is a rollback's status (rollback decisions only).
	Status string `json:"status,omitempty"`
	// ExplainURL is the dashboard page with the release's timeline.
	ExplainURL string `json:"explain_url"`
}

// Decision kinds.
const (
	DecisionBreach             = "breach"
	DecisionSuppressed         = "suppressed"
	DecisionManualIntervention = "manual_intervention"
	DecisionAlertOnly          = "alert_only"
	DecisionRollbackTriggered  = "rollback_triggered"
	DecisionWindowPassed       = "window_passed"
	DecisionWindowFailed       = "window_failed"
	DecisionWindowUnverified   = "window_unverified"
	DecisionRolledBack         = "rolled_back"
)

// decisionKinds maps the roman_events types a card shows to their kinds.
var decisionKinds = map[string]string{
	roman.EventWatchBreach:            DecisionBreach,
	roman.EventAutoRollbackSuppressed: DecisionSuppressed,
	roman.EventManualIntervention:     DecisionManualIntervention,
	roman.EventHealthAlert:            DecisionAlertOnly,
	roman.EventAutoRollbackTriggered:  DecisionRollbackTriggered,
	roman.EventWatchPassed:            DecisionWindowPassed,
	roman.EventWatchFailed:            DecisionWindowFailed,
	roman.EventWatchUnverified:        DecisionWindowUnverified,
}

// maxDecisionRows bounds the roman_events rows read per card, and only
// rows of the decision types (decisionTypes) are read: decisions are a
// handful per release (one breach per signal, one suppression per kind,
// one verdict), so the newest of them is among these however many other
// rows (validations, steps, alerts) the release has.
const maxDecisionRows = 20

// decisionTypes are the types of decisionKinds in a fixed order (one
// statement text for every card).
var decisionTypes = func() []string {
	out := make([]string, 0, len(decisionKinds))
	for typ := range decisionKinds {
		out = append(out, typ)
	}
	sort.Strings(out)
	return out
}()

// ExplainPath returns the dashboard page that explains a deployment.
func ExplainPath(deploymentID string) string {
	return BasePath + "/explain/" + url.PathEscape(deploymentID)
}

// Watch is a deployment's watch window.
type Watch struct {
	// State is watching (inside the window), passed (health_check_passed),
	// ended (window over without a pass) or pending (not completed).
	State            string     `json:"state"`
	EndsAt           *time.Time `json:"ends_at"`
	RemainingSeconds float64    `json:"remaining_seconds"`
}

// Watch states.
const (
	WatchWatching = "watching"
	WatchPassed   = "passed"
	WatchEnded    = "ended"
	WatchPending  = "pending"
)

// RollbackSummary is a rollback event with the versions it went from and
// to, and its duration.
type RollbackSummary struct {
	*roman.RollbackEvent
	// Version is the rolled-back deployment's version, TargetVersion the
	// version restored (from the rollback plan; empty when it never got
	// that far).
	Version       string `json:"version"`
	TargetVersion string `json:"target_version"`
	// DurationSeconds is completed_at − initiated_at; null while unfinished.
	DurationSeconds *float64 `json:"duration_seconds"`
}

// Summary answers GET /app/admin/roman-dashboard/summary: the Summary for
// ?range= (default 24h). It implements api.DashboardHandlers.
func (d *Dashboard) Summary(w http.ResponseWriter, r *http.Request) error {
	rng := r.URL.Query().Get("range")
	span, err := parseRange(rng)
	if err != nil {
		return err
	}
	if rng == "" {
		rng = DefaultRange
	}
	// Refreshing dashboards share builds: at most one runs at a time.
	s, err := d.summaries.do(r.Context(), rng, func(ctx context.Context) (*Summary, error) { return d.Build(ctx, rng, span) })
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, s)
}

// Build computes the dashboard's data for the range ending now. With a
// store that reads every card at once (roman.DashboardStore) a summary
// costs the same few statements however many cards it has; otherwise
// each card is read on its own. Both give the same summary.
func (d *Dashboard) Build(ctx context.Context, rng string, span time.Duration) (*Summary, error) {
	st := d.cfg.Store
	now := roman.UTC(d.cfg.Clock())
	since := now.Add(-span)
	s := &Summary{GeneratedAt: now, Range: rng, Since: since, Environments: []EnvironmentStatus{}, Rollbacks: []RollbackSummary{}}
	var err error
	if s.Stats, err = st.RollbackStats(ctx, since); err != nil {
		return nil, err
	}
	events, err := st.ListRollbackEvents(ctx, roman.RollbackFilter{Since: &since, Limit: maxRollbacks})
	if err != nil {
		return nil, err
	}
	active, err := st.ActiveDeployments(ctx)
	if err != nil {
		return nil, err
	}
	var r cardReads
	if cs, ok := st.(roman.DashboardStore); ok && !d.perCard {
		r, err = d.batchedReads(ctx, cs, events, active, now)
	} else {
		r = d.perCardReads()
	}
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		rs := RollbackSummary{RollbackEvent: e, Version: r.version(ctx, e.DeploymentID)}
		var plan struct {
			TargetVersion string `json:"target_version"`
		}
		if len(e.RollbackPlan) > 0 && json.Unmarshal(e.RollbackPlan, &plan) == nil {
			rs.TargetVersion = plan.TargetVersion
		}
		if e.CompletedAt != nil {
			sec := e.CompletedAt.Sub(e.InitiatedAt).Seconds()
			rs.DurationSeconds = &sec
		}
		s.Rollbacks = append(s.Rollbacks, rs)
	}
	for _, dep := range active {
		es, err := d.environment(ctx, dep, now, r)
		if err != nil {
			return nil, err
		}
		s.Environments = append(s.Environments, es)
	}
	return s, nil
}

// environment builds one environment's status from r's reads.
func (d *Dashboard) environment(ctx context.Context, dep *roman.Deployment, now time.Time, r cardReads) (EnvironmentStatus, error) {
	env := dep.Environment
	es := EnvironmentStatus{Environment: env, Service: roman.ServiceOrDefault(dep.Service), Deployment: dep, Thresholds: d.cfg.Thresholds(env)}
	if dep.RollbackFrom != nil {
		es.RolledBackFrom = r.version(ctx, *dep.RollbackFrom)
	}
	if d.cfg.Health != nil {
		if h, err := r.health(ctx, dep); err != nil {
			es.HealthError = roman.ErrorMessage(err)
		} else {
			es.Health = &h
		}
	}
	es.NewErrors = []roman.ErrorGroup{}
	if d.cfg.Fingerprints != nil && es.Health != nil && es.Health.NewErrors != nil {
		// Read only when the health says there are some: a bounded,
		// pre-aggregated read of the cards that have new errors.
		gs, err := r.newErrors(ctx, dep)
		if err != nil {
			return es, err
		}
		es.NewErrors = gs
	}
	es.Watch = watchState(dep, d.cfg.WatchWindow(env), now)
	es.ExplainURL = ExplainPath(dep.DeploymentID)
	evs, err := r.decisionRows(ctx, dep)
	if err != nil {
		return es, err
	}
	es.Decision = decisionOf(dep, evs)
	if evs, err = r.judgementRows(ctx, dep); err != nil {
		return es, err
	}
	es.Judgement = judgementOf(evs)
	if dep.RollbackFrom != nil {
		ev, err := r.latestRollback(ctx, *dep.RollbackFrom)
		if err != nil {
			return es, err
		}
		es.Rollback = rollbackDecisionOf(ev, r.deployment(ctx, *dep.RollbackFrom), dep)
	}
	es.Chart, err = d.chart(ctx, dep, now, r)
	return es, err
}

// judgementOf is the newest acting verdict among a deployment's newest
// health_judgement rows (newest first), or nil.
func judgementOf(evs []*roman.RomanEvent) *roman.Judgement {
	for _, ev := range evs {
		var m struct {
			Judgement *roman.Judgement `json:"judgement"`
		}
		if json.Unmarshal(ev.Metadata, &m) == nil && m.Judgement != nil && !m.Judgement.Shadow {
			return m.Judgement
		}
	}
	return nil
}

// decisionOf reads the latest decision about dep from its newest
// roman_events rows of the decision types (newest first). A window that
// failed after a suppressed or rejected rollback keeps that rollback's
// command, so the card still says what to run.
func decisionOf(dep *roman.Deployment, evs []*roman.RomanEvent) *Decision {
	var out *Decision
	for _, ev := range evs { // newest first
		kind, ok := decisionKinds[ev.EventType]
		if !ok {
			continue
		}
		var m struct {
			Reason          string     `json:"reason"`
			SuppressedBy    string     `json:"suppressed_by"`
			SuppressedWhy   string     `json:"suppressed_reason"`
			SuppressedUntil *time.Time `json:"suppressed_until"`
			Command         string     `json:"command"`
			At              *time.Time `json:"at"`
		}
		_ = json.Unmarshal(ev.Metadata, &m)
		if out != nil {
			// Only a rollback command a later verdict left unsaid.
			if out.Command == "" && m.Command != "" && dep.Status == roman.StatusSuccess && !dep.HealthCheckPassed {
				out.Command, out.SuppressedBy = m.Command, m.SuppressedBy
			}
			if kind == DecisionSuppressed || kind == DecisionManualIntervention {
				break
			}
			continue
		}
		dc := &Decision{Kind: kind, Severity: ev.Severity, At: ev.Timestamp, DeploymentID: dep.DeploymentID,
			Version: dep.Version, ExplainURL: ExplainPath(dep.DeploymentID), Command: m.Command, SuppressedBy: m.SuppressedBy}
		switch kind {
		case DecisionSuppressed, DecisionManualIntervention:
			dc.Reason, dc.SuppressedUntil = m.SuppressedWhy, m.SuppressedUntil
			if dc.Reason == "" {
				dc.Reason = ev.Message
			}
		case DecisionBreach:
			dc.Reason = m.Reason
			if m.At != nil {
				dc.At = *m.At
			}
		case DecisionAlertOnly, DecisionRollbackTriggered:
			dc.Reason = m.Reason
		default:
			dc.Reason = ev.Message
		}
		if dc.Reason == "" {
			dc.Reason = ev.Message
		}
		out = dc
		if kind != DecisionWindowFailed {
			break
		}
	}
	return out
}

// rollbackDecisionOf says how the deployment bad (nil when it could not
// be read) was rolled back to cur by ev, its newest rollback event (nil:
// none).
func rollbackDecisionOf(ev *roman.RollbackEvent, bad, cur *roman.Deployment) *Decision {
	if ev == nil {
		return nil
	}
	badID := *cur.RollbackFrom
	dc := &Decision{Kind: DecisionRolledBack, Severity: roman.SeverityWarning, Reason: ev.TriggerReason, At: ev.InitiatedAt,
		DeploymentID: badID, TargetVersion: cur.Version, Status: ev.Status, ExplainURL: ExplainPath(badID)}
	if bad != nil {
		dc.Version = bad.Version
	}
	return dc
}

// watchState says where a deployment is in its watch window.
func watchState(dep *roman.Deployment, window time.Duration, now time.Time) Watch {
	switch {
	case dep.CompletedAt == nil:
		return Watch{State: WatchPending}
	case dep.HealthCheckPassed:
		return Watch{State: WatchPassed}
	}
	end := dep.CompletedAt.Add(window)
	if window > 0 && now.Before(end) {
		return Watch{State: WatchWatching, EndsAt: &end, RemainingSeconds: end.Sub(now).Seconds()}
	}
	return Watch{State: WatchEnded, EndsAt: &end}
}
