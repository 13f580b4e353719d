package monitor_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/mock"
	"github.com/odyssey-1/roman/monitor"
	"github.com/odyssey-1/roman/sqldb"
)

var ctx = context.Background()

// t0 is when the bad deployment of each test completes.
var t0 = time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)

// harness is a monitor over the real SQLite store, on a fake clock, with a
// rollback service that records what it is asked and writes the rollback
// row a real one would (so storm protection sees it).
type harness struct {
	t        *testing.T
	st       *sqldb.DB
	clock    *testkit.Clock
	hub      *roman.Hub
	mon      *monitor.Monitor
	settings monitor.Settings
	breaches int
	sources  []roman.HealthSource
	pulled   *health.Pulled
	// standby starts the monitor in standby (leader_test.go).
	standby bool
	// judge, when set, is every environment's judge settings (judge_test.go).
	judge *roman.JudgeSettings
	// signals and judgeStore, when set, stand in for the store as the
	// checker's signal store and the judge's store (judgeread_test.go).
	signals    roman.SignalStore
	judgeStore roman.JudgeStore

	mu     sync.Mutex
	reqs   []roman.RollbackRequest
	reject bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st, err := sqldb.Open(ctx, testkit.SQLiteURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st, clock: testkit.NewClock(t0), hub: &roman.Hub{}, breaches: 1, pulled: &health.Pulled{},
		settings: monitor.Settings{WatchWindow: 5 * time.Minute, AutoRollback: monitor.ModeWindow, Cooldown: 10 * time.Minute, MaxAutoRollbacks: 3}}
	st.SetClock(h.clock.Now)
	return h
}

// start builds and starts the monitor. The ticker is effectively off: tests
// drive time with Tick.
func (h *harness) start() *monitor.Monitor {
	h.t.Helper()
	var signals roman.SignalStore = h.st
	if h.signals != nil {
		signals = h.signals
	}
	checker := &health.Checker{Store: signals, Clock: h.clock.Now,
		Thresholds:          func(string) roman.Thresholds { return roman.DefaultThresholds() },
		ConsecutiveBreaches: func(string) int { return h.breaches }, Pulled: h.pulled}
	m := &monitor.Monitor{
		Store: h.st, Checker: checker, Hub: h.hub, Clock: h.clock.Now, Interval: time.Hour,
		Logger:   testkit.Discard(),
		Settings: func(string) monitor.Settings { return h.settings },
		Current:  h.st.NewestSuccessfulDeployments,
		Sampler: &health.Sampler{Pulled: h.pulled, Sources: func(string) []roman.HealthSource { return h.sources },
			RecordErrors: func(ctx context.Context, evs []roman.ErrorEvent) error { return h.st.InsertErrorEvents(ctx, evs) }},
		Deployments: &mock.DeploymentService{UpdateFn: func(ctx context.Context, id string, u roman.DeploymentUpdate) (*roman.Deployment, error) {
			return h.st.UpdateDeployment(ctx, id, u)
		}},
		Rollbacks: &mock.RollbackService{ExecuteFn: h.execute},
		Standby:   h.standby,
	}
	if h.judge != nil {
		m.Judge, m.JudgeStore = func(string) roman.JudgeSettings { return *h.judge }, h.st
		if h.judgeStore != nil {
			m.JudgeStore = h.judgeStore
		}
	}
	if err := m.Start(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(m.Stop)
	h.mon = m
	return m
}

// execute stands in for the rollback service.
func (h *harness) execute(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
	h.mu.Lock()
	h.reqs = append(h.reqs, req)
	reject := h.reject
	h.mu.Unlock()
	d, err := h.st.GetDeployment(ctx, req.DeploymentID)
	if err != nil {
		return nil, err
	}
	now := h.clock.Now()
	status := roman.RollbackSuccess
	if reject {
		status = roman.RollbackAborted
	}
	ev := &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: d.DeploymentID, Environment: d.Environment,
		TriggerType: req.TriggerType, TriggerReason: req.TriggerReason, InitiatedAt: now, Status: status, CompletedAt: &now}
	if err := h.st.CreateRollbackEvent(ctx, ev); err != nil {
		return nil, err
	}
	if reject {
		v := roman.Validation{Violations: []string{"System already stable: error rate 0.2/minute"}}
		return nil, &roman.RejectedError{EventID: ev.EventID, Validation: v}
	}
	rb := roman.StatusRolledBack
	if _, err := h.st.UpdateDeployment(ctx, d.DeploymentID, roman.DeploymentUpdate{Status: &rb, RolledBackAt: &now}); err != nil {
		return nil, err
	}
	h.publish(roman.Change{Kind: roman.ChangeRollback, Environment: d.Environment, DeploymentID: d.DeploymentID, EventID: ev.EventID})
	return &roman.RollbackResult{Success: true, EventID: ev.EventID, Status: roman.RollbackSuccess}, nil
}

// publish tells the hub and, so that the next Tick sees the change
// whatever the hub reader's timing, the monitor directly.
func (h *harness) publish(c roman.Change) {
	h.hub.Publish(c)
	if h.mon != nil {
		h.mon.Notify(c)
	}
}

func (h *harness) requests() []roman.RollbackRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]roman.RollbackRequest(nil), h.reqs...)
}

// deploy records a successful deployment completed at `at`.
// pastRollback records a rollback of d with the given trigger, reason and
// status, initiated at at, as one that happened before the test.
func (h *harness) pastRollback(d *roman.Deployment, trigger, reason, status string, at time.Time) {
	h.t.Helper()
	ev := &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: d.DeploymentID, Environment: d.Environment,
		TriggerType: trigger, TriggerReason: reason, InitiatedAt: at, Status: status}
	if err := h.st.CreateRollbackEvent(ctx, ev); err != nil {
		h.t.Fatal(err)
	}
}

// wantRollbacks fails the test unless the monitor has asked for want
// rollbacks; why says what the count is about.
func (h *harness) wantRollbacks(want int, why string) {
	h.t.Helper()
	if n := len(h.requests()); n != want {
		h.t.Fatalf("%s: %d rollbacks, want %d", why, n, want)
	}
}

func (h *harness) deploy(env, version string, at time.Time, passed bool) *roman.Deployment {
	h.t.Helper()
	at = roman.UTC(at)
	d := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: env, Version: version, GitCommit: "c-" + version,
		GitBranch: "main", DeployedAt: at, Status: roman.StatusSuccess, CompletedAt: &at, HealthCheckPassed: passed}
	if err := h.st.CreateDeployment(ctx, d); err != nil {
		h.t.Fatal(err)
	}
	h.publish(roman.Change{Kind: roman.ChangeDeployment, Environment: env, DeploymentID: d.DeploymentID})
	return d
}

// scenario records a healthy v1 an hour before t0 and a bad v2 completed at
// t0, and starts the monitor.
func (h *harness) scenario(env string) (good, bad *roman.Deployment) {
	good = h.deploy(env, "v1", t0.Add(-time.Hour), true)
	bad = h.deploy(env, "v2", t0, false)
	h.start()
	return good, bad
}

// errors stores n errors of d at the given times (all at `at` when one).
func (h *harness) errors(d *roman.Deployment, n int, at func(i int) time.Time) {
	h.t.Helper()
	evs := make([]roman.ErrorEvent, n)
	for i := range evs {
		evs[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: d.Environment, OccurredAt: at(i), Message: "boom", Severity: "error"}
	}
	if err := h.st.InsertErrorEvents(ctx, evs); err != nil {
		h.t.Fatal(err)
	}
	h.publish(roman.Change{Kind: roman.ChangeErrors, Environment: d.Environment, DeploymentID: d.DeploymentID, Count: n})
}

// tick runs one synchronous pass and waits for rollbacks it started.
func (h *harness) tick() {
	h.mon.Tick(ctx)
	h.mon.Wait()
}

// events returns the roman_events rows of a deployment of a type, newest
// first.
func (h *harness) events(d *roman.Deployment, typ string) []*roman.RomanEvent {
	h.t.Helper()
	evs, err := h.st.ListRomanEvents(ctx, roman.RomanEventFilter{DeploymentID: d.DeploymentID, EventType: typ})
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

func meta(t *testing.T, e *roman.RomanEvent) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Metadata, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// at returns a function placing every item at time t.
func at(t time.Time) func(int) time.Time { return func(int) time.Time { return t } }

// fakeSource is a pulled source whose readings the test scripts.
type fakeSource struct {
	mu      sync.Mutex
	signals []string
	values  []map[string]float64 // one per reading; the last repeats
	err     error
	calls   int
}

func (f *fakeSource) Name() string      { return "fake" }
func (f *fakeSource) Signals() []string { return f.signals }
func (f *fakeSource) Measure(context.Context, *roman.Deployment, time.Time) (roman.Measurement, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return roman.Measurement{}, f.err
	}
	i := min(f.calls-1, len(f.values)-1)
	return roman.Measurement{Values: f.values[i]}, nil
}
