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
func (d *Dashboard) chart(ctx context.Context, cur *roman.Deployment, now time.Time, r cardReads) (Chart, error) {
	last, err := r.latestScopeRollback(ctx, cur)
	if err != nil {
		return Chart{}, err
	}
	p := d.planChart(ctx, cur, last, r.deployment, now)
	buckets, err := r.buckets(ctx, p.requests())
	if err != nil {
		return Chart{}, err
	}
	return p.draw(buckets), nil
}

// chartPlan is a chart whose points are known and whose error counts are
// still to be read: the series' deployments and the chart's geometry.
type chartPlan struct {
	c      Chart
	start  time.Time
	step   time.Duration
	points int
	// series are the charted deployments in order, with their kind and
	// when they stopped serving.
	series []chartSeries
}

type chartSeries struct {
	dep   *roman.Deployment
	kind  string
	ended *time.Time
}

// planChart lays out cur's chart given the newest rollback of its service
// and environment (nil: none) and a reader of deployments (nil when one
// cannot be read).
func (d *Dashboard) planChart(ctx context.Context, cur *roman.Deployment, last *roman.RollbackEvent,
	deployment func(context.Context, string) *roman.Deployment, now time.Time) chartPlan {
	start := liveAt(cur)
	var bad *roman.Deployment
	if last != nil && now.Sub(last.InitiatedAt) < chartMaxSpan {
		if b := deployment(ctx, last.DeploymentID); b != nil && b.DeploymentID != cur.DeploymentID {
			bad = b
			start = minTime(start, liveAt(b))
		}
	} else {
		last = nil
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
	p := chartPlan{start: start, step: step, points: points,
		c: Chart{From: start, To: start.Add(time.Duration(points) * step), StepSeconds: step.Seconds(), Series: []Series{}, Markers: []Marker{}}}
	if bad != nil {
		p.series = append(p.series, chartSeries{bad, "rolled_back", stoppedServing(bad, cur)})
		p.c.Markers = append(p.c.Markers, Marker{At: liveAt(bad), Kind: "deployed", Label: bad.Version + " live"})
	}
	p.series = append(p.series, chartSeries{cur, "current", nil})
	p.c.Markers = append(p.c.Markers, Marker{At: liveAt(cur), Kind: "deployed", Label: cur.Version + " live"})
	if w := watchState(cur, d.cfg.WatchWindow(cur.Environment), now); w.EndsAt != nil {
		p.c.Markers = append(p.c.Markers, Marker{At: *w.EndsAt, Kind: "window_end", Label: "watch window ends"})
	}
	if last != nil {
		p.c.Markers = append(p.c.Markers, Marker{At: last.InitiatedAt, Kind: "rollback_started", Label: "rollback " + last.TriggerType})
		if last.CompletedAt != nil {
			p.c.Markers = append(p.c.Markers, Marker{At: *last.CompletedAt, Kind: "rollback_finished", Label: "rollback " + last.Status})
		}
	}
	kept := p.c.Markers[:0]
	for _, m := range p.c.Markers {
		if !m.At.Before(p.c.From) && !m.At.After(p.c.To) {
			kept = append(kept, m)
		}
	}
	p.c.Markers = kept
	return p
}

// requests are the error buckets the plan's series need: for each series,
// the counts per step from a minute before the chart's start (so the first
// point has its whole minute) to its end.
func (p chartPlan) requests() []roman.BucketsRequest {
	k := int(rateWindow / p.step)
	out := make([]roman.BucketsRequest, len(p.series))
	for i, se := range p.series {
		out[i] = roman.BucketsRequest{DeploymentID: se.dep.DeploymentID, From: p.start.Add(-rateWindow), Step: p.step, N: p.points + k}
	}
	return out
}

// draw completes the chart with the series' buckets (requests' order).
func (p chartPlan) draw(buckets [][]int64) Chart {
	c := p.c
	k := int(rateWindow / p.step)
	for i, se := range p.series {
		rates := ratesOf(buckets[i], k, p.points)
		if se.ended != nil {
			// Only the points at or before the moment it stopped serving.
			n := 0
			if !se.ended.Before(p.start) {
				n = int(se.ended.Sub(p.start)/p.step) + 1
			}
			rates = rates[:min(n, len(rates))]
		}
		c.Series = append(c.Series, Series{DeploymentID: se.dep.DeploymentID, Version: se.dep.Version, Kind: se.kind, Rates: rates, EndedAt: se.ended})
	}
	return c
}

// ratesOf returns the error rate per minute at start, start+step, ...,
// start+points·step from buckets of one step each that begin a minute (k
// steps) before start: at each point t, the errors in [t−60 s, t), which
// is the rate per minute since the window is one minute.
func ratesOf(buckets []int64, k, points int) []float64 {
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
	return rates
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
