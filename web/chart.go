package web

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// Chart is an environment's error-rate chart: for each charted deployment
// the error rate per minute (errors in the 60 s before each point, as the health rules count them)
// at From, From+Step, ..., To, and markers for what happened. The page
// draws it as SVG with the environment's thresholds.
type Chart struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	StepSeconds float64   `json:"step_seconds"`
	Series      []Series  `json:"series"`
	Markers     []Marker  `json:"markers"`
}

// Series is one deployment's error rate over the chart.
type Series struct {
	DeploymentID string `json:"deployment_id"`
	Version      string `json:"version"`
	// Kind is "current" or "rolled_back".
	Kind string `json:"kind"`
	// Rates are the error rates at From, From+Step, ...: up to To for a
	// deployment still serving, and only up to EndedAt for one that
	// stopped serving within the chart (so the array is shorter).
	Rates []float64 `json:"rates"`
	// EndedAt is when the deployment stopped serving: its rolled_back_at,
	// or when a newer deployment went live. Null while it serves.
	EndedAt *time.Time `json:"ended_at"`
}

// Marker is a moment worth a vertical line on the chart.
type Marker struct {
	At time.Time `json:"at"`
	// Kind is deployed, window_end, rollback_started or rollback_finished.
	Kind  string `json:"kind"`
	Label string `json:"label"`
}

// Chart bounds: at least a minute so a fresh deployment has context, at
// most an hour so a spike stays visible, about 180 points at most.
const (
	chartMinSpan   = time.Minute
	chartMaxSpan   = time.Hour
	chartMaxPoints = 180
	chartLead      = 15 * time.Second
	rateWindow     = time.Minute
)

var chartSteps = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
	15 * time.Second, 30 * time.Second, time.Minute}

// chart builds an environment's chart: its current deployment and, when the
// environment's last rollback was within the hour, the rolled-back
// deployment, from shortly before the older of them went live until now.
func (d *Dashboard) chart(ctx context.Context, cur *roman.Deployment, now time.Time) (Chart, error) {
	st := d.cfg.Store
	start := liveAt(cur)
	var bad *roman.Deployment
	var last *roman.RollbackEvent
	evs, err := st.ListRollbackEvents(ctx, roman.RollbackFilter{Service: roman.ServiceOrDefault(cur.Service), Environment: cur.Environment, Limit: 1})
	if err != nil {
		return Chart{}, err
	}
	if len(evs) > 0 && now.Sub(evs[0].InitiatedAt) < chartMaxSpan {
		last = evs[0]
		if b, err := st.GetDeployment(ctx, last.DeploymentID); err == nil && b.DeploymentID != cur.DeploymentID {
			bad = b
			start = minTime(start, liveAt(b))
		}
	}
	start = start.Add(-chartLead)
	if now.Sub(start) > chartMaxSpan {
		start = now.Add(-chartMaxSpan)
	}
	if now.Sub(start) < chartMinSpan {
		start = now.Add(-chartMinSpan)
	}
	step := chartSteps[len(chartSteps)-1]
	for _, s := range chartSteps {
		if now.Sub(start)/s <= chartMaxPoints {
			step = s
			break
		}
	}
	// Align to the step so successive summaries draw the same points.
	start = start.Truncate(step)
	points := int((now.Sub(start) + step - 1) / step)
	c := Chart{From: start, To: start.Add(time.Duration(points) * step), StepSeconds: step.Seconds(), Series: []Series{}, Markers: []Marker{}}

	add := func(dep *roman.Deployment, kind string, ended *time.Time) error {
		rates, err := d.rates(ctx, dep.DeploymentID, start, step, points)
		if err != nil {
			return err
		}
		if ended != nil {
			// Only the points at or before the moment it stopped serving.
			n := 0
			if !ended.Before(start) {
				n = int(ended.Sub(start)/step) + 1
			}
			rates = rates[:min(n, len(rates))]
		}
		c.Series = append(c.Series, Series{DeploymentID: dep.DeploymentID, Version: dep.Version, Kind: kind, Rates: rates, EndedAt: ended})
		return nil
	}
	if bad != nil {
		if err := add(bad, "rolled_back", stoppedServing(bad, cur)); err != nil {
			return Chart{}, err
		}
		c.Markers = append(c.Markers, Marker{At: liveAt(bad), Kind: "deployed", Label: bad.Version + " live"})
	}
	if err := add(cur, "current", nil); err != nil {
		return Chart{}, err
	}
	c.Markers = append(c.Markers, Marker{At: liveAt(cur), Kind: "deployed", Label: cur.Version + " live"})
	if w := watchState(cur, d.cfg.WatchWindow(cur.Environment), now); w.EndsAt != nil {
		c.Markers = append(c.Markers, Marker{At: *w.EndsAt, Kind: "window_end", Label: "watch window ends"})
	}
	if last != nil {
		c.Markers = append(c.Markers, Marker{At: last.InitiatedAt, Kind: "rollback_started", Label: "rollback " + last.TriggerType})
		if last.CompletedAt != nil {
			c.Markers = append(c.Markers, Marker{At: *last.CompletedAt, Kind: "rollback_finished", Label: "rollback " + last.Status})
		}
	}
	kept := c.Markers[:0]
	for _, m := range c.Markers {
		if !m.At.Before(c.From) && !m.At.After(c.To) {
			kept = append(kept, m)
		}
	}
	c.Markers = kept
	return c, nil
}

// rates returns the error rate per minute at start, start+step, ...,
// start+points·step: at each point t, the errors in [t−60 s, t), which is
// the rate per minute since the window is one minute.
func (d *Dashboard) rates(ctx context.Context, deploymentID string, start time.Time, step time.Duration, points int) ([]float64, error) {
	k := int(rateWindow / step)
	buckets, err := d.cfg.Store.ErrorBuckets(ctx, deploymentID, start.Add(-rateWindow), step, points+k)
	if err != nil {
		return nil, err
	}
	rates := make([]float64, points+1)
	var sum int64
	for j := 0; j < k; j++ {
		sum += buckets[j]
	}
	rates[0] = float64(sum)
	for i := 1; i <= points; i++ {
		sum += buckets[i+k-1] - buckets[i-1]
		rates[i] = float64(sum)
	}
	return rates, nil
}

// stoppedServing is when bad stopped serving: its rolled_back_at, else when
// cur, a newer deployment, went live; nil when neither says it stopped.
func stoppedServing(bad, cur *roman.Deployment) *time.Time {
	if bad.RolledBackAt != nil {
		t := *bad.RolledBackAt
		return &t
	}
	if t := liveAt(cur); t.After(liveAt(bad)) {
		return &t
	}
	return nil
}

// liveAt is when a deployment went live: completed_at, or deployed_at
// before it completes.
func liveAt(d *roman.Deployment) time.Time {
	if d.CompletedAt != nil {
		return *d.CompletedAt
	}
	return d.DeployedAt
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
