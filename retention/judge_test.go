package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/retention"
)

// judgeStore counts down rows of the judge's tables and records the order
// of the calls and the cutoffs they got.
type judgeStore struct {
	rows    map[string]int64
	order   []string
	before  map[string]time.Time
	stopAt  string // the call that makes the replica lose the leadership
	leading *bool
}

func (s *judgeStore) del(name string, before time.Time, limit int) (int64, error) {
	if len(s.order) == 0 || s.order[len(s.order)-1] != name {
		s.order = append(s.order, name)
	}
	s.before[name] = before
	if name == s.stopAt {
		*s.leading = false
	}
	n := min(s.rows[name], int64(limit))
	s.rows[name] -= n
	return n, nil
}

func (s *judgeStore) PruneErrorSeconds(_ context.Context, b time.Time, l int) (int64, error) {
	return s.del("error_seconds", b, l)
}
func (s *judgeStore) PruneDeploymentFingerprints(_ context.Context, b time.Time, l int) (int64, error) {
	return s.del("deployment_fingerprints", b, l)
}
func (s *judgeStore) PruneErrorFingerprints(_ context.Context, b time.Time, l int) (int64, error) {
	return s.del("error_fingerprints", b, l)
}
func (s *judgeStore) PruneInteractions(_ context.Context, b time.Time, l int) (int64, error) {
	return s.del("discord_interactions", b, l)
}

// TestPassPrunesTheJudgesTables checks that a pass prunes the judge's
// tables after the signals, in batches, error groups before first
// sightings, with the signals' cutoff (interactions by their expiry at the
// pass's start), and stops when the replica loses the leadership.
func TestPassPrunesTheJudgesTables(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := testkit.NewClock(now)
	leading := true
	js := &judgeStore{rows: map[string]int64{"error_seconds": 25, "deployment_fingerprints": 12, "error_fingerprints": 7,
		"discord_interactions": 10}, before: map[string]time.Time{}, leading: &leading}
	p := &retention.Pruner{Store: &fakeStore{errors: 5}, Judge: js, Clock: clock.Now, Retention: 48 * time.Hour, Batch: 10,
		Pause: time.Millisecond, Leading: func() bool { return leading }}
	c, err := p.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	j := c.Judge
	if j.ErrorSeconds != 25 || j.DeploymentFingerprints != 12 || j.ErrorFingerprints != 7 || j.Interactions != 10 {
		t.Fatalf("judge counts %+v", j)
	}
	if c.Total() != 5+25+12+7+10 || c.Batches != 1+1+1+3+2+1+2 {
		t.Fatalf("pass %+v: total %d", c, c.Total())
	}
	want := []string{"error_seconds", "deployment_fingerprints", "error_fingerprints", "discord_interactions"}
	if len(js.order) != len(want) {
		t.Fatalf("order %v, want %v", js.order, want)
	}
	for i := range want {
		if js.order[i] != want[i] {
			t.Fatalf("order %v, want %v", js.order, want)
		}
	}
	for name, b := range js.before {
		wantBefore := now.Add(-48 * time.Hour)
		if name == "discord_interactions" {
			wantBefore = now
		}
		if !b.Equal(wantBefore) {
			t.Errorf("%s cut off at %v, want %v", name, b, wantBefore)
		}
	}

	// Losing the leadership stops the pass before the next table.
	js2 := &judgeStore{rows: map[string]int64{"error_seconds": 5, "deployment_fingerprints": 30, "error_fingerprints": 7},
		before: map[string]time.Time{}, stopAt: "deployment_fingerprints", leading: &leading}
	leading = true
	p2 := &retention.Pruner{Store: &fakeStore{}, Judge: js2, Clock: clock.Now, Batch: 10, Pause: time.Millisecond, Leading: func() bool { return leading }}
	if c, err := p2.Pass(context.Background()); err == nil || c.Judge.DeploymentFingerprints != 10 || js2.rows["error_fingerprints"] != 7 {
		t.Fatalf("a pass that lost the leadership: %+v, %v; error_fingerprints left %d", c, err, js2.rows["error_fingerprints"])
	}
}
