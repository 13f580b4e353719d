package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/retention"
)

// fakeStore deletes from counters of old rows, at most limit per call.
type fakeStore struct {
	errors, samples, alerts int64
	calls                   int
}

func take(n *int64, limit int) int64 {
	got := min(*n, int64(limit))
	*n -= got
	return got
}

func (f *fakeStore) PruneErrorEvents(_ context.Context, _ time.Time, limit int) (int64, error) {
	f.calls++
	return take(&f.errors, limit), nil
}

func (f *fakeStore) PruneMetricSamples(_ context.Context, _ time.Time, limit int) (int64, error) {
	f.calls++
	return take(&f.samples, limit), nil
}

func (f *fakeStore) PruneAlerts(_ context.Context, _ time.Time, limit int) (int64, error) {
	f.calls++
	return take(&f.alerts, limit), nil
}

// TestPassBatchesAndLeadership checks that a pass deletes in batches until
// a short one, and that a replica that does not lead deletes nothing.
func TestPassBatchesAndLeadership(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	st := &fakeStore{errors: 25, samples: 10, alerts: 3}
	leading := false
	p := &retention.Pruner{Store: st, Clock: clock.Now, Batch: 10, Pause: time.Millisecond, Leading: func() bool { return leading }}
	if c, err := p.Pass(context.Background()); err == nil || c.Total() != 0 || st.calls != 0 {
		t.Fatalf("a follower's pass = %+v, %v, %d calls; want nothing deleted and an error", c, err, st.calls)
	}
	leading = true
	c, err := p.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.ErrorEvents != 25 || c.MetricSamples != 10 || c.Alerts != 3 || c.Batches != 3+2+1 {
		t.Fatalf("pass = %+v, want 25, 10 and 3 rows in 6 batches", c)
	}
}

// slowStore deletes like fakeStore and advances the clock by perRow for
// every row a batch deletes, recording the batch sizes asked for.
type slowStore struct {
	fakeStore
	clock  *testkit.Clock
	perRow time.Duration
	limits []int
}

func (s *slowStore) PruneErrorEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	s.limits = append(s.limits, limit)
	n, err := s.fakeStore.PruneErrorEvents(ctx, before, limit)
	s.clock.Add(time.Duration(n) * s.perRow)
	return n, err
}

// TestBatchesFitTheBatchTime checks that batches shrink until each takes
// about BatchTime when deleting is slow (so writers never wait long behind
// one), grow again when it is fast, and that everything is still deleted.
func TestBatchesFitTheBatchTime(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	st := &slowStore{fakeStore: fakeStore{errors: 100_000}, clock: clock, perRow: 50 * time.Microsecond}
	p := &retention.Pruner{Store: st, Clock: clock.Now, Pause: time.Microsecond}
	c, err := p.Pass(context.Background())
	if err != nil || c.ErrorEvents != 100_000 {
		t.Fatalf("pass: %+v, %v", c, err)
	}
	if st.limits[0] != 100 {
		t.Errorf("first batch %d, want 100 (batches start small)", st.limits[0])
	}
	// 50 µs a row: 500 rows take the batch time, so batches settle at 250–500.
	for _, l := range st.limits[len(st.limits)-10:] {
		if time.Duration(l)*st.perRow > retention.DefaultBatchTime {
			t.Fatalf("batches stayed too long for the batch time: %v", st.limits)
		}
	}
	// Fast deletes: batches grow to the largest and stay there.
	st2 := &slowStore{fakeStore: fakeStore{errors: 100_000}, clock: clock, perRow: 0}
	p2 := &retention.Pruner{Store: st2, Clock: clock.Now, Pause: time.Microsecond, Batch: 2000}
	if _, err := p2.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, l := range st2.limits {
		if i > 0 && l < st2.limits[i-1] || i >= 5 && l != 2000 {
			t.Fatalf("fast batches did not grow to the largest: %v", st2.limits[:10])
		}
	}
}

// pacedStore is a slowStore that asks for its own pace (retention.Pacer),
// as SQLite does.
type pacedStore struct{ slowStore }

func (*pacedStore) PrunePace() (time.Duration, time.Duration) {
	return 3 * time.Millisecond, time.Microsecond
}

// TestBatchesFollowTheStoresPace checks that a store that is a Pacer gets
// batches of its batch time, not the default's, and that a Pruner's own
// BatchTime still wins.
func TestBatchesFollowTheStoresPace(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	st := &pacedStore{slowStore{fakeStore: fakeStore{errors: 20_000}, clock: clock, perRow: 50 * time.Microsecond}}
	p := &retention.Pruner{Store: st, Clock: clock.Now}
	if c, err := p.Pass(context.Background()); err != nil || c.ErrorEvents != 20_000 {
		t.Fatalf("pass: %+v, %v", c, err)
	}
	// 50 µs a row: 60 rows take the store's 3 ms, so batches settle at 30–60.
	for _, l := range st.limits[len(st.limits)-10:] {
		if time.Duration(l)*st.perRow > 3*time.Millisecond {
			t.Fatalf("batches are longer than the store's pace: %v", st.limits[len(st.limits)-10:])
		}
	}
	st2 := &pacedStore{slowStore{fakeStore: fakeStore{errors: 20_000}, clock: clock, perRow: 50 * time.Microsecond}}
	p2 := &retention.Pruner{Store: st2, Clock: clock.Now, BatchTime: 25 * time.Millisecond, Pause: time.Microsecond}
	if _, err := p2.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := st2.limits[len(st2.limits)-2]; time.Duration(l)*st2.perRow <= 3*time.Millisecond {
		t.Errorf("the Pruner's BatchTime (25 ms) lost to the store's pace: batches of %d rows", l)
	}
}
