package monitor

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Leadership. Several roman replicas may share one PostgreSQL;
// exactly one of them, the leader, runs the monitor: it evaluates, samples
// the pulled sources, decides windows and starts automatic rollbacks. The
// others keep their Monitor in standby. An Elector campaigns for a Lock (on
// PostgreSQL a session advisory lock on a dedicated connection, which the
// database frees the moment the connection dies), checks on every round that
// the leader still holds it, and hands the monitor over: Lead when the lock
// is won, Follow the moment it is lost. SQLite is one process and needs no
// Elector: its Monitor is not in standby.

// DefaultLeaderInterval is how often an Elector tries for the lock, or
// checks that it still holds it, when none is configured.
const DefaultLeaderInterval = time.Second

// roman_events types of leadership changes.
const (
	EventLeaderAcquired = "monitor_leader_acquired"
	EventLeaderReleased = "monitor_leader_released"
)

// Lock is the leadership lock replicas campaign for.
type Lock interface {
	// TryLock tries once, without waiting, to take the lock and reports
	// whether this replica holds it.
	TryLock(ctx context.Context) (bool, error)
	// Held checks that the lock is still held; an error means it is lost.
	Held(ctx context.Context) error
	// Unlock gives the lock up.
	Unlock(ctx context.Context)
}

// Elector campaigns for the monitor's leadership and runs the Monitor
// while it leads. Configure the exported fields, then Start; Stop gives
// leadership up. Step runs one round synchronously, for tests.
type Elector struct {
	Lock    Lock
	Monitor *Monitor
	// Interval is the period of the rounds (default DefaultLeaderInterval):
	// a follower tries for the lock, the leader checks it still holds it.
	// A dead leader's replica is replaced within about one Interval of the
	// database freeing its lock.
	Interval time.Duration
	// Ticker returns the rounds' ticker and its stop function (default a
	// time.Ticker); tests pass a channel they drive.
	Ticker func(d time.Duration) (<-chan time.Time, func())
	// OnChange, when set, is called after every change of leadership with
	// whether this replica now leads and why.
	OnChange func(ctx context.Context, leading bool, reason string)
	// WhileLeading, when set, is called on every round this replica leads,
	// the first right after it won the lock (resuming rollbacks whose
	// replica died is such a duty).
	WhileLeading func(ctx context.Context)
	Logger       *slog.Logger

	mu      sync.Mutex // serialises rounds and Stop
	leading bool
	cancel  context.CancelFunc
	done    chan struct{}
	failing bool // the last round failed (logged once until it recovers)
}

// Start runs the first round at once (a lone replica leads as soon as
// Start returns), then a round per Interval until Stop.
func (e *Elector) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel, e.done = cancel, make(chan struct{})
	e.Step(ctx)
	tick, stop := e.ticker()
	go func() {
		defer close(e.done)
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick:
				e.Step(ctx)
			}
		}
	}()
}

func (e *Elector) ticker() (<-chan time.Time, func()) {
	if e.Ticker != nil {
		return e.Ticker(e.interval())
	}
	t := time.NewTicker(e.interval())
	return t.C, t.Stop
}

func (e *Elector) interval() time.Duration {
	if e.Interval <= 0 {
		return DefaultLeaderInterval
	}
	return e.Interval
}

func (e *Elector) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// Stop ends the campaign and, when this replica leads, stops the monitor's
// evaluation and gives the lock up, so another replica takes over on its
// next round.
func (e *Elector) Stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading {
		e.leading = false
		e.Monitor.Follow()
		ctx, cancel := context.WithTimeout(context.Background(), e.timeout())
		defer cancel()
		e.Lock.Unlock(ctx)
		e.changed(ctx, false, "shutdown")
	}
}

// Leading reports whether this replica leads the monitor.
func (e *Elector) Leading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

// timeout bounds one call to the lock: a leader whose database does not
// answer within it steps down.
func (e *Elector) timeout() time.Duration { return max(2*e.interval(), time.Second) }

// Step runs one round: a follower tries for the lock and, when it wins,
// rebuilds the monitor from the store and starts evaluating; the leader
// checks that it still holds the lock and, when it does not, stops
// evaluating at once.
func (e *Elector) Step(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	lctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	if e.leading {
		if err := e.Lock.Held(lctx); err != nil {
			// Stop first: the lock may be someone else's already.
			e.Monitor.Follow()
			e.leading = false
			e.Lock.Unlock(lctx)
			// The error (in the log) may name the database's address;
			// the audit row says only what happened.
			e.logger().Error("monitor leadership lost; another replica takes over", "err", err)
			e.changed(ctx, false, "lost: the lock could no longer be confirmed")
			return
		}
		e.duties(ctx)
		return
	}
	ok, err := e.Lock.TryLock(lctx)
	if err != nil {
		if !e.failing {
			e.logger().Error("monitor leadership: the lock cannot be tried; retrying every round", "err", err)
		}
		e.failing = true
		return
	}
	e.failing = false
	if !ok {
		return
	}
	if err := e.Monitor.Lead(ctx); err != nil {
		// Leading without watches would miss bad deployments: another
		// replica may do better.
		e.logger().Error("monitor leadership: rebuilding the watches failed; giving the lock up", "err", err)
		e.Lock.Unlock(lctx)
		return
	}
	e.leading = true
	e.logger().Info("this replica leads the monitor")
	e.changed(ctx, true, "elected")
	e.duties(ctx)
}

func (e *Elector) duties(ctx context.Context) {
	if e.WhileLeading != nil {
		e.WhileLeading(ctx)
	}
}

func (e *Elector) changed(ctx context.Context, leading bool, reason string) {
	if e.OnChange != nil {
		e.OnChange(ctx, leading, reason)
	}
}

// Lead makes the monitor evaluate from now on: it forgets what it knew (it
// may be stale after a time in standby), rebuilds the watches from the store
// as after a restart (automatic rollbacks already attempted and windows
// already decided are read back, so a new leader repeats neither), and
// re-reads everything on its first pass.
func (m *Monitor) Lead(ctx context.Context) error {
	m.init()
	m.idle.Store(true)
	m.evalMu.Lock()
	m.reset()
	m.evalMu.Unlock()
	if err := m.Rebuild(ctx); err != nil {
		m.evalMu.Lock()
		m.reset()
		m.evalMu.Unlock()
		return err
	}
	m.mu.Lock()
	m.idle.Store(false)
	m.resync, m.all = true, true
	m.mu.Unlock()
	m.kick()
	return nil
}

// Follow stops evaluation at once (leadership was lost or given up): a
// pass under way stops before its next deployment and no automatic
// rollback starts from now on. It never waits for a pass stuck on the
// database: the watches are forgotten now when no pass runs, else by the
// next Lead. Automatic rollbacks already started run to their end in the
// rollback service.
func (m *Monitor) Follow() {
	m.init()
	m.idle.Store(true)
	if m.evalMu.TryLock() {
		m.reset()
		m.evalMu.Unlock()
	}
}

// Leading reports whether the monitor evaluates (it is not in standby).
func (m *Monitor) Leading() bool { return !m.idle.Load() }

// reset forgets every watch and mark. Callers hold evalMu.
func (m *Monitor) reset() {
	m.mu.Lock()
	ws := m.watches
	m.watches, m.byID = map[scope]*watch{}, map[string]*watch{}
	m.mu.Unlock()
	m.discardMarks()
	if m.Sampler != nil && m.Sampler.Pulled != nil {
		for _, w := range ws {
			m.Sampler.Pulled.Forget(w.d.DeploymentID)
		}
	}
}

// discardMarks drops the pending notifications (in standby nothing is
// evaluated; Lead re-reads everything).
func (m *Monitor) discardMarks() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dirty, m.refresh, m.arrived = map[string]bool{}, map[scope]bool{}, map[string]time.Time{}
	m.all, m.resync = false, false
}

func (m *Monitor) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// refreshAll re-reads the current deployment of every environment in one
// query and watches the ones that changed, as refreshEnv does for one: the
// relay asks for it when its connection to the database was re-established
// and notifications may have been missed. Callers hold evalMu.
func (m *Monitor) refreshAll(ctx context.Context) error {
	ds, err := m.Current(ctx)
	if err != nil {
		return err
	}
	seen := make(map[scope]bool, len(ds))
	for _, d := range ds {
		seen[scopeOf(d)] = true
		m.mu.Lock()
		old := m.watches[scopeOf(d)]
		same := old != nil && old.d.DeploymentID == d.DeploymentID
		if same {
			old.d = d
		}
		m.mu.Unlock()
		if !same {
			if err := m.watch(ctx, d, false); err != nil {
				return err
			}
		}
	}
	var gone []scope
	m.mu.Lock()
	for k := range m.watches {
		if !seen[k] {
			gone = append(gone, k)
		}
	}
	m.mu.Unlock()
	for _, k := range gone {
		if err := m.refreshEnv(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// stillLeading reports, right before an automatic rollback of w starts,
// whether this replica still leads (see Monitor.Confirm).
func (m *Monitor) stillLeading(ctx context.Context, w *watch) bool {
	if m.idle.Load() {
		return false
	}
	if m.Confirm == nil {
		return true
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := m.Confirm(cctx); err != nil {
		m.Logger.Warn("monitor: not starting an automatic rollback: this replica no longer leads",
			"deployment_id", w.d.DeploymentID, "err", err)
		return false
	}
	return true
}
