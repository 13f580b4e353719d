package health

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
)

// DefaultSourceTimeout bounds one reading of a pulled source when its
// configuration gives none.
const DefaultSourceTimeout = 2 * time.Second

// maxReadings is how many readings of a signal the registry keeps, the
// largest consecutive_breaches that can be honoured.
const maxReadings = 32

// Pulled holds the recent readings of the pulled sources, per deployment and
// signal, in memory: they are re-read every tick, so a restart loses only a
// few seconds of streak. It is safe for concurrent use.
type Pulled struct {
	mu    sync.Mutex
	byDep map[string]*pulledState
}

type pulledState struct {
	readings map[string][]reading // newest first
	unknown  map[string]string
	// measured records each signal that had a value at least once, so the
	// monitor can tell "unknown throughout the window" apart.
	measured map[string]bool
}

type reading struct {
	v  float64
	at time.Time
}

// Record stores one round of readings of deployment d taken at time at:
// values extend each signal's streak; a signal a source could not read
// becomes unknown and loses its streak (a stale value must not count).
func (p *Pulled) Record(deploymentID string, at time.Time, values map[string]float64, unknown map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byDep == nil {
		p.byDep = map[string]*pulledState{}
	}
	st := p.byDep[deploymentID]
	if st == nil {
		st = &pulledState{readings: map[string][]reading{}, unknown: map[string]string{}, measured: map[string]bool{}}
		p.byDep[deploymentID] = st
	}
	for sig, v := range values {
		rs := append([]reading{{v: v, at: at}}, st.readings[sig]...)
		if len(rs) > maxReadings {
			rs = rs[:maxReadings]
		}
		st.readings[sig] = rs
		st.measured[sig] = true
		delete(st.unknown, sig)
	}
	for sig, why := range unknown {
		if _, ok := values[sig]; ok {
			continue
		}
		st.unknown[sig] = why
		delete(st.readings, sig)
	}
}

// Forget drops everything held for a deployment (its watch ended).
func (p *Pulled) Forget(deploymentID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.byDep, deploymentID)
}

// Unmeasured returns, for a deployment, each signal that has been unknown
// on every reading so far, with the latest reason.
func (p *Pulled) Unmeasured(deploymentID string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	if st := p.byDep[deploymentID]; st != nil {
		for sig, why := range st.unknown {
			if !st.measured[sig] {
				out[sig] = why
			}
		}
	}
	return out
}

// read returns the newest reading of each signal taken in (now -
// MetricMaxAge, now], the sustained value (smallest of the newest n, when
// there are n), and the unknown signals.
func (p *Pulled) read(deploymentID string, now time.Time, n int) (latest, sustained map[string]float64, unknown map[string]string) {
	latest, sustained, unknown = map[string]float64{}, map[string]float64{}, map[string]string{}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.byDep[deploymentID]
	if st == nil {
		return
	}
	oldest := now.Add(-MetricMaxAge)
	for sig, rs := range st.readings {
		var fresh []float64
		for _, r := range rs {
			if r.at.After(oldest) && !r.at.After(now) {
				fresh = append(fresh, r.v)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		latest[sig] = fresh[0]
		if len(fresh) >= n {
			sustained[sig] = minOf(fresh[:n])
		}
	}
	for sig, why := range st.unknown {
		unknown[sig] = why
	}
	return
}

// Sampler reads the pulled sources of a deployment and records the result
// in Pulled. The monitor calls it on every tick for each watched deployment.
type Sampler struct {
	// Sources returns the pulled sources of an environment.
	Sources func(env string) []roman.HealthSource
	Pulled  *Pulled
	// RecordErrors stores the errors a source observed itself (a failed
	// probe) like ingested ones; nil drops them.
	RecordErrors func(ctx context.Context, events []roman.ErrorEvent) error
	// Timeout bounds one source's reading (default DefaultSourceTimeout);
	// a source with its own timeout applies it inside Measure.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Sample reads every pulled source of d at time now, concurrently, each
// bounded by the timeout. It reports whether d has pulled sources at all.
func (s *Sampler) Sample(ctx context.Context, d *roman.Deployment, now time.Time) bool {
	sources := s.Sources(d.Environment)
	if len(sources) == 0 {
		return false
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSourceTimeout
	}
	type result struct {
		src roman.HealthSource
		m   roman.Measurement
		err error
	}
	results := make([]result, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			m, err := src.Measure(mctx, d, now)
			if err == nil && mctx.Err() != nil {
				err = mctx.Err()
			}
			results[i] = result{src: src, m: m, err: err}
		}()
	}
	wg.Wait()

	values, unknown := map[string]float64{}, map[string]string{}
	var observed []roman.ErrorEvent
	for _, r := range results {
		if r.err != nil {
			why := r.src.Name() + ": " + sourceError(r.err)
			for _, sig := range r.src.Signals() {
				unknown[sig] = why
			}
			if s.Logger != nil {
				s.Logger.Warn("health source failed", "source", r.src.Name(), "deployment_id", d.DeploymentID, "err", sourceError(r.err))
			}
			continue
		}
		for sig, v := range r.m.Values {
			if old, ok := values[sig]; !ok || v > old {
				values[sig] = v
			}
		}
		for sig, why := range r.m.Unknown {
			unknown[sig] = r.src.Name() + ": " + why
		}
		observed = append(observed, r.m.Errors...)
	}
	s.Pulled.Record(d.DeploymentID, now, values, unknown)
	if len(observed) > 0 && s.RecordErrors != nil {
		for i := range observed {
			observed[i].DeploymentID, observed[i].Environment = d.DeploymentID, d.Environment
			if observed[i].OccurredAt.IsZero() {
				observed[i].OccurredAt = now
			}
		}
		if err := s.RecordErrors(ctx, observed); err != nil && s.Logger != nil {
			s.Logger.Error("storing errors observed by a health source failed", "deployment_id", d.DeploymentID, "err", err)
		}
	}
	return true
}

// sourceError is the text of a source's failure for the health details: a
// timeout says so plainly.
func sourceError(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}
