package monitor_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/monitor"
	"github.com/odyssey-1/roman/sqldb"
)

// countingSignals counts the monitor's evaluation passes (each reads the
// error counts of the deployments it evaluates once).
type countingSignals struct {
	*sqldb.DB
	reads atomic.Int64
}

func (c *countingSignals) CountErrorsBatch(ctx context.Context, ids []string, now time.Time) (map[string]roman.ErrorCounts, error) {
	c.reads.Add(1)
	return c.DB.CountErrorsBatch(ctx, ids, now)
}

// TestBurstOfNotificationsIsSpacedOut: change notifications for one
// deployment arriving a millisecond apart (a burst of webhooks) are not
// one evaluation each: after the first two, evaluations on notifications
// are monitor.BurstGap apart, and the last notification of the burst is
// evaluated all the same, so a trigger it stored rolls the release back.
func TestBurstOfNotificationsIsSpacedOut(t *testing.T) {
	h := newHarness(t)
	sig := &countingSignals{DB: h.st}
	h.signals = sig
	_, bad := h.scenario("production")
	h.clock.Add(time.Minute)
	settle := func() {
		for i := 0; i < 2; i++ {
			time.Sleep(3 * monitor.BurstGap)
		}
	}
	settle()
	before := sig.reads.Load()
	const n = 200
	start := time.Now()
	for i := 0; i < n; i++ {
		h.hub.Publish(roman.Change{Kind: roman.ChangeErrors, Environment: "production", DeploymentID: bad.DeploymentID})
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	settle()
	evals := sig.reads.Load() - before
	if limit := int64(elapsed/monitor.BurstGap) + 3; evals > limit || evals < 1 {
		t.Fatalf("%d notifications over %v: %d evaluations, want 1 to %d", n, elapsed, evals, limit)
	}
	h.wantRollbacks(0, "no errors yet")

	// The burst goes on and its last batch holds a trigger.
	h.hub.Publish(roman.Change{Kind: roman.ChangeErrors, Environment: "production", DeploymentID: bad.DeploymentID})
	h.errors(bad, 9, at(h.clock.Now().Add(-10*time.Second)))
	deadline := time.Now().Add(10 * time.Second)
	for len(h.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	h.mon.Wait()
	h.wantRollbacks(1, "the burst's last batch")
}
