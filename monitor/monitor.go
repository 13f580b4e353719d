// Package monitor watches deployments and rolls bad ones back by itself.
// The newest successful deployment of each environment is
// watched for its window (default 5 minutes from completed_at); a newer one
// supersedes it. Detection is event-driven: every ingested batch (a Hub
// change, or on PostgreSQL a NOTIFY from ops.error_events) re-evaluates its
// deployment at once, and a ticker (at most a second) covers what changes
// with time: errors ageing out of the windows, pulled sources, windows
// ending.
//
// A trigger inside the window starts one automatic rollback through the
// rollback service, unless storm protection says no: a cooldown after any
// rollback in the environment (for deployments recorded before it
// finished), never a deployment that a rollback created, and at most
// MaxAutoRollbacks automatic rollbacks in a row. Every trigger inside a
// window is a durable breach (verdict.go), so a window that breached is
// never passed, across restarts. Every decision is a roman_events row with
// metadata.deployment_id.
package monitor

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
)

// Auto-rollback modes (config auto_rollback).
const (
	ModeWindow = "window"
	ModeAlways = "always"
	ModeNever  = "never"
)

// DefaultInterval is the ticker period when none is configured.
const DefaultInterval = time.Second

// activeFor is how long after its last ingested batch a deployment is
// re-evaluated on every tick: errors leave the five-minute window, and
// timestamps up to a minute ahead enter it, only with time.
const activeFor = 5*time.Minute + 2*time.Minute

// sweepEvery is how many ticks pass between evaluations of every watched
// deployment, a safety net for a change notification that was dropped.
const sweepEvery = 10

// Settings are the monitor's settings for one environment.
type Settings struct {
	// WatchWindow is how long after completion a deployment is watched.
	WatchWindow time.Duration
	// AutoRollback is ModeWindow, ModeAlways or ModeNever.
	AutoRollback string
	// Cooldown pauses automatic rollbacks after any rollback, for the
	// deployments recorded before that rollback finished.
	Cooldown time.Duration
	// MaxAutoRollbacks is how many automatic rollbacks in a row are allowed
	// before a human must act.
	MaxAutoRollbacks int
}

// Store is what the monitor reads and writes: the current deployment of each
// environment and its recent history (deployments and rollback events, for
// storm protection and the cooldown) and the audit trail, where its decisions
// are logged and read back after a restart. *sqldb.DB implements it.
type Store interface {
	roman.DeploymentStore
	roman.RollbackStore
	roman.EventStore
}

// Monitor is the health monitor. Configure the exported fields, then Start;
// Stop ends it. The exported Tick and Wait let tests drive it on a fake
// clock.
type Monitor struct {
	Store       Store
	Rollbacks   roman.RollbackService
	Deployments roman.DeploymentService
	Checker     *health.Checker
	// Sampler reads the pulled sources; nil when there are none.
	Sampler *health.Sampler
	Hub     *roman.Hub
	// Settings returns the settings of an environment.
	Settings func(env string) Settings
	// Current returns the newest successful deployment of every environment.
	Current func(ctx context.Context) ([]*roman.Deployment, error)
	// Interval is the ticker period (default DefaultInterval).
	Interval time.Duration
	Clock    roman.Clock
	Logger   *slog.Logger
	// Standby makes Start leave evaluation off until Lead is called: on
	// PostgreSQL only the replica that leads the monitor evaluates
	// (leader.go); the others keep their subscriptions and wait.
	Standby bool
	// Judge returns the judge settings of an environment; nil, or the
	// threshold judge without shadow mode, keeps the fixed triggers alone.
	Judge func(env string) roman.JudgeSettings
	// JudgeStore is what the baseline judge reads (the replaced release and
	// the counts of both); nil turns the judges off.
	JudgeStore roman.JudgeStore
	// Confirm, when set, is asked right before an automatic rollback
	// starts whether this replica still leads; an error leaves the
	// decision to the new leader.
	Confirm func(ctx context.Context) error
	// Fingerprints, when set, lists a deployment's new errors (up to
	// three fingerprints no earlier release had) on the alerts its
	// decisions carry.
	Fingerprints roman.FingerprintStore
	// Backfill, when set, fingerprints and groups error events stored
	// without a fingerprint (inserted straight into the table) on every
	// tick (backfill.go).
	Backfill roman.FingerprintBackfiller

	// idle is set while this replica does not lead: nothing is evaluated,
	// sampled or decided.
	idle atomic.Bool

	// evalMu serialises evaluation passes (the worker's and Tick's).
	evalMu sync.Mutex

	mu       sync.Mutex
	watches  map[scope]*watch     // by (service, environment)
	byID     map[string]*watch    // by deployment id
	dirty    map[string]bool      // deployment ids to evaluate
	arrived  map[string]time.Time // deployment id -> wall time of its first unprocessed batch
	refresh  map[scope]bool       // (service, environment)s whose current deployment may have changed
	all      bool                 // evaluate every watch (a notification named no deployment)
	resync   bool                 // re-read every environment's current deployment
	ticks    int
	wake     chan struct{}
	wakeAt   time.Time // when the pending timer of spaceOut wakes the worker (burst.go)
	sampling bool

	cancel    context.CancelFunc
	unsub     func()
	done      sync.WaitGroup // the worker, the hub reader and samplers
	rollbacks sync.WaitGroup // automatic rollbacks in flight
}

// Start rebuilds the watch state from the store (so a restart in the middle
// of a window keeps watching), subscribes to the Hub and starts the worker
// and the ticker.
func (m *Monitor) Start(ctx context.Context) error {
	m.init()
	if m.Standby {
		m.idle.Store(true)
	} else if err := m.Rebuild(ctx); err != nil {
		return err
	}
	ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if m.Hub != nil {
		ch, unsub := m.Hub.Subscribe(4096)
		m.unsub = unsub
		m.done.Add(1)
		go func() {
			defer m.done.Done()
			for c := range ch {
				m.Notify(c)
			}
		}()
	}
	m.done.Add(1)
	go m.loop(ctx)
	return nil
}

// Stop ends the worker and waits for automatic rollbacks in flight.
func (m *Monitor) Stop() {
	if m.unsub != nil {
		m.unsub()
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.done.Wait()
	m.rollbacks.Wait()
}

// Wait blocks until the automatic rollbacks started so far have returned.
func (m *Monitor) Wait() { m.rollbacks.Wait() }

func (m *Monitor) init() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watches == nil {
		m.watches, m.byID = map[scope]*watch{}, map[string]*watch{}
		m.dirty, m.refresh = map[string]bool{}, map[scope]bool{}
		m.arrived = map[string]time.Time{}
		m.wake = make(chan struct{}, 1)
	}
	if m.Interval <= 0 {
		m.Interval = DefaultInterval
	}
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
}

// Notify tells the monitor that something changed; it never blocks. Error
// and metric batches mark their deployment for evaluation; deployment and
// rollback changes make it re-read the environment's current deployment.
func (m *Monitor) Notify(c roman.Change) {
	m.mu.Lock()
	switch c.Kind {
	case roman.ChangeErrors, roman.ChangeMetrics:
		if c.DeploymentID == "" {
			m.all = true
		} else {
			m.dirty[c.DeploymentID] = true
			if _, ok := m.arrived[c.DeploymentID]; !ok {
				// Wall time, for the detection-latency metric only.
				m.arrived[c.DeploymentID] = time.Now()
			}
		}
	case roman.ChangeDeployment, roman.ChangeRollback:
		switch {
		case c.Environment != "" && c.Service != "":
			m.refresh[scope{service: c.Service, env: c.Environment}] = true
		case c.Environment != "":
			// A change that does not name its service (a row written by
			// an older replica): every watched service of the environment
			// and the default one.
			m.refresh[scope{service: roman.DefaultService, env: c.Environment}] = true
			for k := range m.watches {
				if k.env == c.Environment {
					m.refresh[k] = true
				}
			}
		default:
			m.resync = true
		}
	default:
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// loop is the worker: it evaluates what notifications marked as soon as
// they arrive, and runs Tick on the ticker.
func (m *Monitor) loop(ctx context.Context) {
	defer m.done.Done()
	t := time.NewTicker(m.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
			m.process(ctx, false)
		case <-t.C:
			if !m.idle.Load() {
				m.sampleAsync(ctx)
			}
			m.process(ctx, true)
		}
	}
}

// Tick runs one ticker pass synchronously: it reads the pulled sources of
// every watched deployment, evaluates what changed and what is active, and
// ends the windows that are over. Tests call it after moving a fake clock.
func (m *Monitor) Tick(ctx context.Context) {
	m.init()
	if !m.idle.Load() {
		for _, w := range m.snapshot() {
			m.sample(ctx, w)
		}
	}
	m.process(ctx, true)
}

// sampleAsync reads the pulled sources without holding up evaluation; a
// round still running when the next tick comes is not doubled.
func (m *Monitor) sampleAsync(ctx context.Context) {
	if m.Sampler == nil {
		return
	}
	m.mu.Lock()
	if m.sampling {
		m.mu.Unlock()
		return
	}
	m.sampling = true
	m.mu.Unlock()
	ws := m.snapshot()
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		defer func() {
			m.mu.Lock()
			m.sampling = false
			m.mu.Unlock()
		}()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for _, w := range ws {
			if !m.hasSources(w) {
				continue // nothing to read: no goroutine per watch and tick
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				m.sample(ctx, w)
			}()
		}
		wg.Wait()
	}()
}

// sample reads the pulled sources of one watch and marks it for
// evaluation.
func (m *Monitor) sample(ctx context.Context, w *watch) {
	if m.Sampler == nil {
		return
	}
	// w.d is replaced under mu when the deployment changes.
	m.mu.Lock()
	d := w.d
	m.mu.Unlock()
	if m.Sampler.Sample(ctx, d, m.Clock()) {
		m.mu.Lock()
		w.pulled = true
		m.dirty[d.DeploymentID] = true
		m.mu.Unlock()
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

// snapshot returns the current watches.
func (m *Monitor) snapshot() []*watch {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*watch, 0, len(m.watches))
	for _, w := range m.watches {
		out = append(out, w)
	}
	return out
}

// process runs one evaluation pass: environments to refresh, then the
// marked deployments (and on a tick the active ones and ended windows).
func (m *Monitor) process(ctx context.Context, tick bool) {
	m.evalMu.Lock()
	defer m.evalMu.Unlock()
	if m.idle.Load() {
		m.discardMarks() // leader.go
		return
	}
	m.mu.Lock()
	envs, resync := m.refresh, m.resync
	m.refresh, m.resync = map[scope]bool{}, false
	m.mu.Unlock()
	if resync {
		if err := m.refreshAll(ctx); err != nil { // leader.go
			m.Logger.Error("monitor: re-reading the current deployments failed", "err", err)
			m.mu.Lock()
			m.resync = true // retried on the next pass
			m.mu.Unlock()
		}
	}
	for k := range envs {
		if err := m.refreshEnv(ctx, k); err != nil {
			m.Logger.Error("monitor: reading the current deployment failed", "service", k.service, "environment", k.env, "err", err)
			m.mu.Lock()
			m.refresh[k] = true // retried on the next pass
			m.mu.Unlock()
		}
	}

	if tick {
		m.backfill(ctx) // backfill.go
	}
	now := m.Clock()
	m.mu.Lock()
	dirty, all, arrived := m.dirty, m.all, m.arrived
	m.dirty, m.all, m.arrived = map[string]bool{}, false, map[string]time.Time{}
	if !tick && !all {
		m.spaceOut(dirty, arrived) // burst.go
	}
	notified, sweep := all, false // a notification naming no deployment; the periodic sweep
	if tick {
		m.ticks++
		sweep = m.ticks%sweepEvery == 0
		all = all || sweep
	}
	var todo []*watch
	for _, w := range m.watches {
		if all || dirty[w.d.DeploymentID] || (tick && (w.pulled || now.Before(w.activeUntil))) {
			todo = append(todo, w)
		}
		if dirty[w.d.DeploymentID] {
			w.activeUntil = now.Add(activeFor)
			w.arrivedAt = arrived[w.d.DeploymentID]
		} else {
			w.arrivedAt = time.Time{}
		}
		m.markJudgeStale(w, dirty[w.d.DeploymentID], notified, sweep, now) // judge.go
	}
	m.mu.Unlock()

	if !m.evaluateAll(ctx, todo, now) { // batch.go
		return // leadership lost: stop at once
	}
	if tick {
		for _, w := range m.snapshot() {
			if m.idle.Load() {
				return
			}
			if !w.windowDone && !now.Before(w.windowEnd) {
				m.endWindow(ctx, w)
			}
		}
	}
}
