package monitor_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/monitor"
)

// fakeLock is a leadership lock the test hands out and takes away.
type fakeLock struct {
	mu        sync.Mutex
	available bool  // TryLock succeeds
	lost      error // Held fails with it
	holds     bool
	unlocks   int
}

func (l *fakeLock) TryLock(context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.available {
		l.holds, l.lost = true, nil
	}
	return l.holds, nil
}

func (l *fakeLock) Held(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.holds {
		return errors.New("not held")
	}
	return l.lost
}

func (l *fakeLock) Unlock(context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.holds = false
	l.unlocks++
}

func (l *fakeLock) set(available bool, lost error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.available, l.lost = available, lost
}

// leadership records an Elector's OnChange calls.
type leadership struct {
	mu      sync.Mutex
	changes []string
}

func (r *leadership) onChange(_ context.Context, leading bool, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if leading {
		r.changes = append(r.changes, "lead:"+reason)
	} else {
		r.changes = append(r.changes, "follow:"+reason)
	}
}

func (r *leadership) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.changes...)
}

// standbyScenario starts a monitor in standby over the usual scenario and an
// Elector on a fake lock that no one holds yet.
func standbyScenario(t *testing.T) (*harness, *monitor.Elector, *fakeLock, *leadership, *roman.Deployment) {
	h := newHarness(t)
	h.standby = true
	_, bad := h.scenario("production")
	lock, rec := &fakeLock{}, &leadership{}
	e := &monitor.Elector{Lock: lock, Monitor: h.mon, OnChange: rec.onChange}
	return h, e, lock, rec, bad
}

func TestStandbyMonitorDecidesNothingUntilElected(t *testing.T) {
	h, e, lock, rec, bad := standbyScenario(t)
	h.errors(bad, 9, at(t0.Add(30*time.Second)))
	h.clock.Set(t0.Add(40 * time.Second))
	h.tick()
	e.Step(ctx) // the lock is someone else's
	h.tick()
	if n := len(h.requests()); n != 0 || e.Leading() || h.mon.Leading() {
		t.Fatalf("a follower rolled back (%d) or leads (%v %v)", n, e.Leading(), h.mon.Leading())
	}
	if evs, _ := h.st.ListRomanEvents(ctx, roman.RomanEventFilter{DeploymentID: bad.DeploymentID}); len(evs) != 0 {
		t.Fatalf("a follower wrote decision rows: %v", evs[0].EventType)
	}

	// The leader dies; this replica wins the lock on its next round,
	// rebuilds from the store and rolls the bad deployment back once.
	lock.set(true, nil)
	e.Step(ctx)
	if !e.Leading() || !h.mon.Leading() {
		t.Fatal("not leading after winning the lock")
	}
	h.tick()
	h.tick()
	if reqs := h.requests(); len(reqs) != 1 || reqs[0].DeploymentID != bad.DeploymentID {
		t.Fatalf("requests after the takeover: %+v", reqs)
	}
	if got := rec.list(); len(got) != 1 || got[0] != "lead:elected" {
		t.Fatalf("leadership changes: %v", got)
	}
}

func TestLeaderStopsAtOnceWhenTheLockIsLost(t *testing.T) {
	h, e, lock, rec, bad := standbyScenario(t)
	lock.set(true, nil)
	e.Step(ctx)
	h.tick()
	if !e.Leading() || len(h.events(bad, roman.EventWatchStarted)) != 0 {
		// The watch started before this replica led: a rebuild writes no
		// second watch_started row.
		t.Fatalf("leading %v, watch_started rows %d", e.Leading(), len(h.events(bad, roman.EventWatchStarted)))
	}

	// The lock's session dies: the next round stops evaluation at once.
	lock.set(false, errors.New("connection reset"))
	e.Step(ctx)
	if e.Leading() || h.mon.Leading() {
		t.Fatal("still leading after the lock was lost")
	}
	h.errors(bad, 9, at(t0.Add(30*time.Second)))
	h.clock.Set(t0.Add(40 * time.Second))
	h.tick()
	h.wantRollbacks(0, "a replica that lost the lock rolled back")

	// It wins the lock back: exactly one rollback, and none more on the
	// next takeover (the attempt is read back from the store).
	lock.set(true, nil)
	e.Step(ctx)
	h.tick()
	lock.set(false, errors.New("connection reset"))
	e.Step(ctx)
	lock.set(true, nil)
	e.Step(ctx)
	h.tick()
	h.tick()
	h.wantRollbacks(1, "rollbacks over two takeovers")
	if n := len(h.events(bad, roman.EventAutoRollbackTriggered)); n != 1 {
		t.Fatalf("trigger rows over two takeovers: %d", n)
	}
	want := []string{"lead:elected", "follow:lost: the lock could no longer be confirmed", "lead:elected",
		"follow:lost: the lock could no longer be confirmed", "lead:elected"}
	if got := rec.list(); len(got) != len(want) || got[1] != want[1] || got[4] != want[4] {
		t.Fatalf("leadership changes: %v", got)
	}

	// Stop gives the lock up.
	e.Stop()
	if e.Leading() || h.mon.Leading() || lock.unlocks == 0 {
		t.Fatalf("after Stop: leading %v %v, unlocks %d", e.Leading(), h.mon.Leading(), lock.unlocks)
	}
	if got := rec.list(); got[len(got)-1] != "follow:shutdown" {
		t.Fatalf("leadership changes: %v", got)
	}
}

func TestConfirmGuardsTheAutomaticRollback(t *testing.T) {
	h := newHarness(t)
	_, bad := h.scenario("production")
	var confirmErr error
	var mu sync.Mutex
	h.mon.Confirm = func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return confirmErr
	}
	mu.Lock()
	confirmErr = errors.New("the lock is gone")
	mu.Unlock()
	h.errors(bad, 9, at(t0.Add(30*time.Second)))
	h.clock.Set(t0.Add(40 * time.Second))
	h.tick()
	if n := len(h.requests()); n != 0 || len(h.events(bad, roman.EventAutoRollbackTriggered)) != 0 {
		t.Fatalf("rolled back without leadership: %d", n)
	}
	// Still the leader after all: the next pass rolls back, once.
	mu.Lock()
	confirmErr = nil
	mu.Unlock()
	h.tick()
	h.tick()
	h.wantRollbacks(1, "once leadership is confirmed")
}

func TestElectorRunsOnItsTicker(t *testing.T) {
	h, e, lock, _, _ := standbyScenario(t)
	tick := make(chan time.Time)
	e.Ticker = func(time.Duration) (<-chan time.Time, func()) { return tick, func() {} }
	rounds := 0
	e.WhileLeading = func(context.Context) { rounds++ }
	e.Start(ctx)
	defer e.Stop()
	if e.Leading() {
		t.Fatal("leading without the lock")
	}
	lock.set(true, nil)
	// A send returns once the loop took the tick; the second waits for
	// the first round to end.
	tick <- time.Now()
	tick <- time.Now()
	if !e.Leading() || !h.mon.Leading() {
		t.Fatal("not leading after rounds with the lock free")
	}
	tick <- time.Now()
	e.Stop()
	if rounds < 2 {
		t.Fatalf("leader duties ran %d times", rounds)
	}
}

// fakeOrphans is an OrphanStore whose orphans the test sets.
type fakeOrphans struct {
	mu      sync.Mutex
	orphans map[string]string
	claims  []string
	refuse  bool
}

func (f *fakeOrphans) Orphans(context.Context) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.orphans {
		out[k] = v
	}
	return out, nil
}

func (f *fakeOrphans) ClaimRollback(_ context.Context, id, owner string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims = append(f.claims, id+"/"+owner)
	if f.refuse {
		return false, nil
	}
	delete(f.orphans, id)
	return true, nil
}

func TestResumerClaimsAfterTheGrace(t *testing.T) {
	store := &fakeOrphans{orphans: map[string]string{"ev-1": "dead-replica", "ev-2": "flaky-replica"}}
	events := map[string]*roman.RollbackEvent{
		"ev-1": {EventID: "ev-1", Metadata: json.RawMessage(`{"caller":"api","replica":"dead-replica"}`)},
		"ev-2": {EventID: "ev-2", Metadata: json.RawMessage(`{"replica":"flaky-replica"}`)},
	}
	var resumed []string
	r := &monitor.Resumer{Store: store, Replica: "me", GraceRounds: 3}
	// Resume stands in for rollback.Service.Resume: it offers every
	// unfinished event to Claim.
	r.Resume = func(ctx context.Context) (int, error) {
		n := 0
		for _, id := range []string{"ev-1", "ev-2"} {
			if r.Claim(ctx, events[id]) {
				resumed = append(resumed, id)
				n++
			}
		}
		return n, nil
	}
	r.Round(ctx)
	// ev-2's replica is back after one round: its count starts over.
	store.mu.Lock()
	delete(store.orphans, "ev-2")
	store.mu.Unlock()
	r.Round(ctx)
	if len(resumed) != 0 || len(store.claims) != 0 {
		t.Fatalf("claimed before the grace: %v %v", resumed, store.claims)
	}
	store.mu.Lock()
	store.orphans["ev-2"] = "flaky-replica"
	store.mu.Unlock()
	r.Round(ctx) // ev-1: third round
	if len(resumed) != 1 || resumed[0] != "ev-1" || len(store.claims) != 1 || store.claims[0] != "ev-1/dead-replica" {
		t.Fatalf("after three rounds: resumed %v, claims %v", resumed, store.claims)
	}
	var meta map[string]any
	if err := json.Unmarshal(events["ev-1"].Metadata, &meta); err != nil || meta["replica"] != "me" || meta["caller"] != "api" {
		t.Fatalf("claimed event's metadata: %s", events["ev-1"].Metadata)
	}
	r.Round(ctx)
	r.Round(ctx) // ev-2: three rounds in a row since its replica left again
	if len(resumed) != 2 || resumed[1] != "ev-2" {
		t.Fatalf("resumed: %v", resumed)
	}
	r.Round(ctx)
	if len(resumed) != 2 {
		t.Fatalf("resumed twice: %v", resumed)
	}

	// A claim another replica won first resumes nothing.
	store.mu.Lock()
	store.orphans["ev-1"], store.refuse = "dead-replica", true
	store.mu.Unlock()
	events["ev-1"].Metadata = json.RawMessage(`{"replica":"dead-replica"}`)
	for range 3 {
		r.Round(ctx)
	}
	if len(resumed) != 2 || string(events["ev-1"].Metadata) != `{"replica":"dead-replica"}` {
		t.Fatalf("a refused claim resumed: %v %s", resumed, events["ev-1"].Metadata)
	}
}
