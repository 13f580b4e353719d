package monitor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// spans records when reads ran, by kind, once armed.
type spans struct {
	mu    sync.Mutex
	armed bool
	got   map[string][][2]time.Time
}

// around runs read, slowed by d (so that reads that overlap must run at
// once), and records its span under kind when armed.
func (s *spans) around(kind string, d time.Duration, read func()) {
	s.mu.Lock()
	armed := s.armed
	s.mu.Unlock()
	if !armed {
		read()
		return
	}
	start := time.Now()
	time.Sleep(d)
	read()
	s.mu.Lock()
	s.got[kind] = append(s.got[kind], [2]time.Time{start, time.Now()})
	s.mu.Unlock()
}

type slowSignals struct {
	roman.SignalStore
	s *spans
}

func (w slowSignals) CountErrorsBatch(ctx context.Context, ids []string, now time.Time) (out map[string]roman.ErrorCounts, err error) {
	w.s.around("health", 50*time.Millisecond, func() { out, err = w.SignalStore.CountErrorsBatch(ctx, ids, now) })
	return out, err
}

type slowJudgeStore struct {
	roman.JudgeStore
	s *spans
}

func (w slowJudgeStore) JudgeCounts(ctx context.Context, id string, from, to time.Time) (c roman.JudgeCounts, err error) {
	w.s.around("judge", 50*time.Millisecond, func() { c, err = w.JudgeStore.JudgeCounts(ctx, id, from, to) })
	return c, err
}

// TestJudgeCountsReadBesideHealth: when a batch of a watched release
// arrives, the baseline judge's counts are read while the pass reads the
// health (both reads slowed to 50 ms here: they overlap), once, and the
// judge decides on them as before — the release at 40 times its baseline
// is rolled back for a regression.
func TestJudgeCountsReadBesideHealth(t *testing.T) {
	h := newHarness(t)
	s := baselineSettings()
	h.judge = &s
	sp := &spans{got: map[string][][2]time.Time{}}
	h.signals, h.judgeStore = slowSignals{h.st, sp}, slowJudgeStore{h.st, sp}
	good := h.deploy("production", "v1", t0.Add(-time.Hour), true)
	h.errors(good, 6, func(i int) time.Time { return t0.Add(-time.Duration(i+1) * 4 * time.Minute) })
	bad := h.deploy("production", "v2", t0, false)
	h.clock.Set(t0.Add(time.Minute))
	h.start()
	h.tick() // the first judgement: the baseline read, no batch
	sp.mu.Lock()
	sp.armed = true
	sp.mu.Unlock()
	now := h.clock.Now()
	h.errors(bad, 30, func(i int) time.Time { return now.Add(-time.Duration(i) * time.Second) })
	h.tick()
	sp.mu.Lock()
	hs, js := sp.got["health"], sp.got["judge"]
	sp.mu.Unlock()
	if len(js) != 1 || len(hs) == 0 {
		t.Fatalf("%d judge reads and %d health reads after one batch, want one judge read", len(js), len(hs))
	}
	overlap := false
	for _, r := range hs {
		if js[0][0].Before(r[1]) && r[0].Before(js[0][1]) {
			overlap = true
		}
	}
	if !overlap {
		t.Errorf("the judge's read %v did not run beside the health reads %v", js[0], hs)
	}
	h.wantRollbacks(1, "30 errors in a minute against 6 in 30 minutes under baseline")
	if r := h.requests()[0]; r.Judgement == nil || r.Judgement.Signal != roman.SignalRegression || r.Judgement.Errors != 30 {
		t.Errorf("rollback request's judgement %+v, want a regression on 30 errors", r.Judgement)
	}
}
