package health

import (
	"context"

	"github.com/odyssey-1/roman"
)

// CheckOneRead reads the check of a deployment with rd at the checker's
// clock (roman.CheckReader: one round trip on PostgreSQL) and returns what
// it read with the deployment's health, the same health Check gives. What
// the one read cannot know before it has the deployment's environment is
// read after it, only where the environment needs it: the newest n
// samples of each metric when the environment counts n > 1 consecutive
// breaches, and the firing alerts when the read found any.
func (c *Checker) CheckOneRead(ctx context.Context, rd roman.CheckReader, deploymentID string) (*roman.CheckRead, roman.Health, error) {
	now := c.Clock()
	r, err := rd.ReadCheck(ctx, roman.CheckQuery{DeploymentID: deploymentID, Now: now, MetricsSince: now.Add(-MetricMaxAge)})
	if err != nil {
		return nil, roman.Health{}, err
	}
	d := r.Deployment
	n := c.breaches(d.Environment)
	in := roman.HealthInputs{ErrorsLastMinute: r.Errors.LastMinute, ErrorsLast5Minutes: r.Errors.Last5Minutes,
		Metrics: map[string]float64{}, Sustained: map[string]float64{}}
	if n <= 1 {
		for k, v := range r.Metrics {
			in.Metrics[k], in.Sustained[k] = v, v
		}
	} else if err := recentInputs(ctx, c.Store, d.DeploymentID, now, n, &in); err != nil {
		return nil, roman.Health{}, err
	}
	if c.measuresNewErrors(d.Environment) {
		in.NewErrors = r.NewErrors
	}
	c.addPulled(&in, d, now, n)
	if r.AlertsFiring {
		if err := c.addAlerts(ctx, []*roman.Deployment{d}, []*roman.HealthInputs{&in}); err != nil {
			return nil, roman.Health{}, err
		}
	}
	return r, roman.EvaluateHealth(in, c.Thresholds(d.Environment), now), nil
}
