package web

import (
	"context"
	"encoding/json"
	"net/http"
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
	Health      *roman.Health    `json:"health"`
	HealthError string           `json:"health_error,omitempty"`
	Watch       Watch            `json:"watch"`
	Thresholds  roman.Thresholds `json:"thresholds"`
	Chart       Chart            `json:"chart"`
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
	s, err := d.Build(r.Context(), rng, span)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, s)
}

// Build computes the dashboard's data for the range ending now.
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
	versions := map[string]string{} // deployment_id → version
	version := func(id string) string {
		if v, ok := versions[id]; ok {
			return v
		}
		v := ""
		if dep, err := st.GetDeployment(ctx, id); err == nil {
			v = dep.Version
		}
		versions[id] = v
		return v
	}
	for _, e := range events {
		rs := RollbackSummary{RollbackEvent: e, Version: version(e.DeploymentID)}
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
	active, err := st.ActiveDeployments(ctx)
	if err != nil {
		return nil, err
	}
	for _, dep := range active {
		es, err := d.environment(ctx, dep, now, version)
		if err != nil {
			return nil, err
		}
		s.Environments = append(s.Environments, es)
	}
	return s, nil
}

// environment builds one environment's status.
func (d *Dashboard) environment(ctx context.Context, dep *roman.Deployment, now time.Time, version func(string) string) (EnvironmentStatus, error) {
	env := dep.Environment
	es := EnvironmentStatus{Environment: env, Service: roman.ServiceOrDefault(dep.Service), Deployment: dep, Thresholds: d.cfg.Thresholds(env)}
	if dep.RollbackFrom != nil {
		es.RolledBackFrom = version(*dep.RollbackFrom)
	}
	if d.cfg.Health != nil {
		if h, err := d.cfg.Health.Check(ctx, dep); err != nil {
			es.HealthError = roman.ErrorMessage(err)
		} else {
			es.Health = &h
		}
	}
	es.Watch = watchState(dep, d.cfg.WatchWindow(env), now)
	var err error
	es.Chart, err = d.chart(ctx, dep, now)
	return es, err
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
