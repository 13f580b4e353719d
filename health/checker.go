// Package health computes the health object from roman's sources:
// the built-in ingest (error events and metric samples in the store) and the
// pulled sources (PostgreSQL's pg_stat_activity, Prometheus queries, an HTTP
// probe), each in its own file behind roman.HealthSource.
//
// Pulled sources are read by a Sampler on the monitor's ticker; their recent
// readings live in a Pulled registry that the Checker merges with what the
// store holds. When two sources give the same signal the larger (worse)
// value counts. A source that fails makes its signals unknown, with the
// reason, never a made-up value.
package health

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// MetricMaxAge is how old the newest sample of a metric may be and still
// count as the signal's current value. An older sample means "no data"
// (null), never a made-up value.
const MetricMaxAge = 5 * time.Minute

// Checker computes health objects.
type Checker struct {
	// Store holds the built-in signals: error counts and metric samples.
	Store roman.SignalStore
	// Thresholds returns the trigger limits of an environment.
	Thresholds func(env string) roman.Thresholds
	Clock      roman.Clock
	// ConsecutiveBreaches returns how many readings in a row a sampled
	// signal must breach before its trigger fires (nil: 1).
	ConsecutiveBreaches func(env string) int
	// Pulled, when set, adds the recent readings of the pulled sources.
	Pulled *Pulled
	// Fingerprints, when set, measures the new_errors signal: the
	// release's events of fingerprints no earlier release had.
	Fingerprints roman.FingerprintStore
	// Alerts, when set, adds the firing alerts of other tools
	// (Alertmanager) attributed to the deployment (alerts.go).
	Alerts roman.IntegrationAlertStore
	// AlertTriggers returns the alert names that are triggers in an
	// environment (nil: only alerts labelled roman_trigger="true").
	AlertTriggers func(env string) []string
}

// Check returns the health of deployment d at the current time.
func (c *Checker) Check(ctx context.Context, d *roman.Deployment) (roman.Health, error) {
	return c.CheckAt(ctx, d, c.Clock())
}

// CheckAt returns the health of deployment d at time now.
func (c *Checker) CheckAt(ctx context.Context, d *roman.Deployment, now time.Time) (roman.Health, error) {
	in, err := c.Inputs(ctx, d, now)
	if err != nil {
		return roman.Health{}, err
	}
	return roman.EvaluateHealth(in, c.Thresholds(d.Environment), now), nil
}

// Peaks returns the readings of d at the busiest moments of its errors
// with occurred_at in [from, to]: the end of its busiest minute and of its
// busiest five minutes. They judge moments that may have passed unseen (the
// server was down, or the errors were stored late), so only the error
// triggers are evaluated; pulled signals of the past are not replayed.
func (c *Checker) Peaks(ctx context.Context, d *roman.Deployment, from, to time.Time) ([]roman.Health, error) {
	p, err := c.Store.ErrorPeaks(ctx, d.DeploymentID, from, to)
	if err != nil {
		return nil, err
	}
	var out []roman.Health
	for _, at := range []time.Time{p.MinuteAt, p.FiveMinutesAt} {
		if at.IsZero() || len(out) == 1 && at.Equal(out[0].Timestamp) {
			continue
		}
		lastMinute, last5, err := c.Store.CountErrors(ctx, d.DeploymentID, at)
		if err != nil {
			return nil, err
		}
		in := roman.HealthInputs{ErrorsLastMinute: lastMinute, ErrorsLast5Minutes: last5}
		out = append(out, roman.EvaluateHealth(in, c.Thresholds(d.Environment), at))
	}
	return out, nil
}

// breaches returns the consecutive-breach count of env, at least 1.
func (c *Checker) breaches(env string) int {
	if c.ConsecutiveBreaches == nil {
		return 1
	}
	return max(c.ConsecutiveBreaches(env), 1)
}

// Inputs gathers the measured signals of deployment d at time now: the
// built-in counts and samples, merged with the pulled sources' readings.
func (c *Checker) Inputs(ctx context.Context, d *roman.Deployment, now time.Time) (roman.HealthInputs, error) {
	n := c.breaches(d.Environment)
	in, err := builtinInputs(ctx, c.Store, d.DeploymentID, now, n)
	if err != nil {
		return roman.HealthInputs{}, err
	}
	if c.measuresNewErrors(d.Environment) {
		counts, err := c.Fingerprints.NewErrorsBatch(ctx, []string{d.DeploymentID})
		if err != nil {
			return roman.HealthInputs{}, err
		}
		in.NewErrors = counts[d.DeploymentID]
	}
	c.addPulled(&in, d, now, n)
	if err := c.addAlerts(ctx, []*roman.Deployment{d}, []*roman.HealthInputs{&in}); err != nil {
		return roman.HealthInputs{}, err
	}
	return in, nil
}

// measuresNewErrors reports whether the new_errors signal is read for env:
// a store to read it from and a minimum that switches it on.
func (c *Checker) measuresNewErrors(env string) bool {
	return c.Fingerprints != nil && c.Thresholds(env).NewErrorsMin > 0
}

// addPulled merges the pulled sources' readings of d into in.
func (c *Checker) addPulled(in *roman.HealthInputs, d *roman.Deployment, now time.Time, n int) {
	if c.Pulled != nil {
		latest, sustained, unknown := c.Pulled.read(d.DeploymentID, now, n)
		mergeMax(in.Metrics, latest)
		mergeMax(in.Sustained, sustained)
		for sig, why := range unknown {
			if _, known := in.Metrics[sig]; known {
				continue // another source measured it
			}
			if in.Unknown == nil {
				in.Unknown = map[string]string{}
			}
			in.Unknown[sig] = why
		}
	}
}

// mergeMax puts every value of src into dst, keeping the larger one where
// both have the signal.
func mergeMax(dst, src map[string]float64) {
	for k, v := range src {
		if old, ok := dst[k]; !ok || v > old {
			dst[k] = v
		}
	}
}
