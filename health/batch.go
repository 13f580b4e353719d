package health

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// CheckMany returns the health of each deployment at time now: hs[i] and
// errs[i] are what CheckAt(ctx, ds[i], now) returns. The built-in inputs of
// every deployment whose environment counts single breaches are read with
// two queries for the whole batch instead of two per deployment (the
// monitor's pass over thousands of watched deployments); the others are
// checked one by one.
func (c *Checker) CheckMany(ctx context.Context, ds []*roman.Deployment, now time.Time) (hs []roman.Health, errs []error) {
	hs, errs = make([]roman.Health, len(ds)), make([]error, len(ds))
	var batch []int // indexes of ds read in one batch
	for i, d := range ds {
		if c.breaches(d.Environment) == 1 {
			batch = append(batch, i)
			continue
		}
		hs[i], errs[i] = c.CheckAt(ctx, d, now)
	}
	if len(batch) == 0 {
		return hs, errs
	}
	ids := make([]string, len(batch))
	for k, i := range batch {
		ids[k] = ds[i].DeploymentID
	}
	counts, err := c.Store.CountErrorsBatch(ctx, ids, now)
	var latest map[string]map[string]float64
	if err == nil {
		latest, err = c.Store.LatestMetricsBatch(ctx, ids, now.Add(-MetricMaxAge), now)
	}
	var fresh map[string]roman.NewErrorCounts
	if err == nil {
		fresh, err = c.newErrorsBatch(ctx, ds, batch)
	}
	ins := make([]roman.HealthInputs, len(batch))
	bds, bins := make([]*roman.Deployment, len(batch)), make([]*roman.HealthInputs, len(batch))
	for k, i := range batch {
		d := ds[i]
		// The same inputs builtinInputs reads for one deployment.
		cnt := counts[d.DeploymentID]
		ins[k] = roman.HealthInputs{ErrorsLastMinute: cnt.LastMinute, ErrorsLast5Minutes: cnt.Last5Minutes,
			Metrics: map[string]float64{}, Sustained: map[string]float64{}}
		for key, v := range latest[d.DeploymentID] {
			ins[k].Metrics[key], ins[k].Sustained[key] = v, v
		}
		ins[k].NewErrors = fresh[d.DeploymentID]
		c.addPulled(&ins[k], d, now, 1)
		bds[k], bins[k] = d, &ins[k]
	}
	if err == nil {
		err = c.addAlerts(ctx, bds, bins)
	}
	for k, i := range batch {
		if err != nil {
			errs[i] = err
			continue
		}
		hs[i] = roman.EvaluateHealth(ins[k], c.Thresholds(ds[i].Environment), now)
	}
	return hs, errs
}

// newErrorsBatch reads the new_errors signal of the deployments ds[i], i in
// batch, whose environment measures it, with one query.
func (c *Checker) newErrorsBatch(ctx context.Context, ds []*roman.Deployment, batch []int) (map[string]roman.NewErrorCounts, error) {
	var ids []string
	for _, i := range batch {
		if c.measuresNewErrors(ds[i].Environment) {
			ids = append(ids, ds[i].DeploymentID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return c.Fingerprints.NewErrorsBatch(ctx, ids)
}
