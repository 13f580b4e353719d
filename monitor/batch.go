package monitor

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// evalChunk is how many watched deployments one health read covers in an
// evaluation pass: a pass over 10,000 deployments is 20 chunks of two
// queries each instead of 20,000 queries (the target: 10,000 watched
// deployments evaluated every second on one core at < 50 %; see
// BenchmarkMonitor10k in docs/benchmarks.md), and a deployment's inputs are
// read at most one chunk before it is decided.
const evalChunk = 500

// evaluateAll evaluates the watches in order, reading their health a chunk
// at a time (health.Checker.CheckMany), and acts on each as evaluate does.
// It returns false when leadership was lost on the way (nothing more is
// decided).
func (m *Monitor) evaluateAll(ctx context.Context, todo []*watch, now time.Time) bool {
	for len(todo) > 0 {
		chunk := todo[:min(len(todo), evalChunk)]
		todo = todo[len(chunk):]
		if m.idle.Load() {
			return false
		}
		ds := make([]*roman.Deployment, len(chunk))
		for i, w := range chunk {
			ds[i] = w.d
		}
		done := m.prefetchJudge(ctx, chunk, now) // judge.go
		hs, errs := m.Checker.CheckMany(ctx, ds, now)
		done()
		for i, w := range chunk {
			if m.idle.Load() {
				return false
			}
			m.act(ctx, w, hs[i], errs[i], now)
		}
	}
	return true
}

// hasSources reports whether the environment of a watch has pulled sources
// to sample (Sampler.Sample reads nothing otherwise).
func (m *Monitor) hasSources(w *watch) bool {
	m.mu.Lock()
	env := w.d.Environment
	m.mu.Unlock()
	return len(m.Sampler.Sources(env)) > 0
}
