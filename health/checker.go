// Package health computes the health of a deployment from the signals roman
// knows about: ingested error events and metric samples in the store.
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

// Checker computes SPEC §4 health objects.
type Checker struct {
	Store roman.Store
	// Thresholds returns the trigger limits of an environment.
	Thresholds func(env string) roman.Thresholds
	Clock      roman.Clock
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

// Inputs gathers the measured signals of deployment d at time now.
func (c *Checker) Inputs(ctx context.Context, d *roman.Deployment, now time.Time) (roman.HealthInputs, error) {
	last1, last5, err := c.Store.CountErrors(ctx, d.DeploymentID, now)
	if err != nil {
		return roman.HealthInputs{}, err
	}
	metrics, err := c.Store.LatestMetrics(ctx, d.DeploymentID, now.Add(-MetricMaxAge), now)
	if err != nil {
		return roman.HealthInputs{}, err
	}
	return roman.HealthInputs{ErrorsLastMinute: last1, ErrorsLast5Minutes: last5, Metrics: metrics}, nil
}
