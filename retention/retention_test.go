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
