// Package server is the roman server program: it opens the stores, builds the
// services, the monitor, the alert sender and the HTTP API from a configuration,
// and serves until Close. cmd/roman only parses flags and calls it; tests and
// the demo start it in-process on port 0.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/appdb"
	auditsvc "github.com/odyssey-1/roman/audit"
	"github.com/odyssey-1/roman/chatops"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/deploy"
	"github.com/odyssey-1/roman/executor"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/metrics"
	"github.com/odyssey-1/roman/monitor"
	"github.com/odyssey-1/roman/notify"
	"github.com/odyssey-1/roman/policy"
	"github.com/odyssey-1/roman/retention"
	"github.com/odyssey-1/roman/rollback"
	"github.com/odyssey-1/roman/sqldb"
	"github.com/odyssey-1/roman/web"
)

// Server is the whole server program: it wires the store, the services and the
// HTTP server from a configuration. Tests start it in-process on port 0.
type Server struct {
	Config *config.Config
	// Logger defaults to text on stderr at the configured level.
	Logger *slog.Logger
	// Stdout receives the first-start admin key, printed once.
	Stdout io.Writer
	// Clock defaults to the system clock.
	Clock roman.Clock

	Store *sqldb.DB
	API   *api.Server
	// Constitution is the compiled rule set every rollback is validated
	// against: the embedded defaults plus cfg.Constitution's rules.
	Constitution *policy.Constitution
	// Hub carries change notifications between the services, the monitor
	// and the dashboard.
	Hub *roman.Hub
	// Rollbacks runs rollbacks; Close drains it.
	Rollbacks *rollback.Service
	// Metrics is the Prometheus registry served at /metrics.
	Metrics *metrics.Metrics
	// Dashboard serves /app/admin/roman-dashboard.
	Dashboard *web.Dashboard
	sessions  *web.Sessions
	// authLimiter limits failed authentications per client address.
	authLimiter *api.AuthLimiter
	// Monitor watches deployments and rolls bad ones back.
	Monitor *monitor.Monitor
	// Pruner deletes signals and outbox rows past their retention while
	// this replica leads the monitor (monitor.go).
	Pruner *retention.Pruner
	// Alerts delivers the alert outbox (alerts.go).
	Alerts *notify.Sender
	// Discord answers Discord interactions when discord_public_key is set
	// (alerts.go).
	Discord *chatops.Bot

	appCloser io.Closer
	ln        net.Listener
	http      *http.Server
	served    chan error

	healthParts *healthParts
	stopListen  func()
	scaleOut    *scaleOut // scaleout.go
}

// Open opens the store (applying migrations), loads the keys, builds the
// services and starts listening.
func (m *Server) Open(ctx context.Context) error {
	cfg := m.Config
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
	}
	if m.Stdout == nil {
		m.Stdout = os.Stdout
	}
	if m.Clock == nil {
		m.Clock = roman.SystemClock
	}
	if err := m.checkKeyLengths(); err != nil {
		return err
	}
	// The constitution compiles before anything else opens, so a bad file
	// stops the server at start with the file, rule and CEL error, and
	// never fails a request later.
	constitution, err := policy.Load(cfg.Constitution)
	if err != nil {
		return err
	}
	m.Constitution = constitution
	m.Logger.Info("constitution loaded", "file", cfg.Constitution, "rules", len(constitution.Rules()), "disabled", constitution.Disabled())
	st, err := sqldb.Open(ctx, cfg.Database.Value(), m.Logger)
	if err != nil {
		return fmt.Errorf("opening database %s: %w", config.RedactURL(cfg.Database.Value()), err)
	}
	m.Store = st
	st.SetScopeLimits(cfg.MaxEnvironments, cfg.MaxServices)
	if err := m.openRest(ctx); err != nil {
		m.Close()
		return err
	}
	return nil
}

func (m *Server) openRest(ctx context.Context) error {
	cfg, st, log := m.Config, m.Store, m.Logger
	keyring, err := m.keyring(ctx)
	if err != nil {
		return err
	}

	var app roman.AppDatabase
	// Migration rollback scripts run only against a configured application
	// database, never against roman's own store.
	var scripts rollback.ScriptRunner
	if cfg.AppDatabase.IsSet() {
		a, err := appdb.Open(cfg.AppDatabase.Value())
		if err != nil {
			return fmt.Errorf("opening application database %s: %w", config.RedactURL(cfg.AppDatabase.Value()), err)
		}
		app, m.appCloser, scripts = a, a, a
	} else {
		app = appdb.New(st.SQL(), st.Dialect())
	}

	thresholds := func(env string) roman.Thresholds { return cfg.Environment(env).Thresholds }
	m.healthParts = m.newHealthParts()
	checker := &health.Checker{Store: st, Thresholds: thresholds, Clock: m.Clock,
		Pulled: m.healthParts.pulled, ConsecutiveBreaches: m.healthParts.breaches, Fingerprints: st,
		Alerts: st, AlertTriggers: alertTriggers(cfg)}
	snaps := &deploy.Snapshots{Store: st, App: app, Health: checker, Clock: m.Clock, Logger: log,
		Config: func(env string) map[string]any {
			c := cfg.Environment(env).Redacted()
			c["environment"] = env
			return c
		}}
	m.Hub = &roman.Hub{}
	m.openAlerts()
	deployments := &deploy.Deployments{Store: st, Snapshots: snaps, Clock: m.Clock, Logger: log, Hub: m.Hub}
	execFor, execTimeout, err := m.executors()
	if err != nil {
		return err
	}
	rollbacks := &rollback.Service{
		Store: st, Validator: m.Constitution, Snapshots: snaps, Health: checker, Thresholds: thresholds,
		Executor: execFor, ExecutorTimeout: execTimeout, VerifyWindow: verifyWindow(cfg), Migrations: scripts,
		Clock: m.Clock, Logger: log, Hub: m.Hub, Fingerprints: st,
	}
	m.Rollbacks = rollbacks
	ing := m.newIngest()
	// The dashboard's metrics exist before the monitor starts, so the first
	// automatic rollback's detection latency is observed too.
	m.openDashboard(keyring, checker)
	rollbacks.ObserveDetection = m.Metrics.ObserveDetection
	if err := m.startMonitor(ctx, m.healthParts, checker, deployments, rollbacks, ing); err != nil {
		return err
	}
	bot, err := m.discordBot(rollbacks)
	if err != nil {
		return err
	}
	m.API = api.NewServer(api.Config{MaxBodyBytes: cfg.MaxBodyBytes, MaxIngestBodyBytes: cfg.MaxIngestBodyBytes,
		BodyTimeout: cfg.BodyTimeout, WriteTimeout: cfg.WriteTimeout}, api.Deps{
		Deployments: deployments, Rollbacks: rollbacks, Snapshots: snaps, Store: st, Keyring: keyring, Ingest: m.countIngest(ing), Logger: log, Clock: m.Clock,
		Sessions: m.sessions, AuthLimiter: m.authLimiter, Dashboard: m.Dashboard, Metrics: m.Metrics.Handler(), Discord: bot, Interactions: st,
		Audit: &auditsvc.Service{Deployments: st, Rollbacks: st, Audit: st, Snapshots: st}, NewErrors: st,
		Sentry: m.sentryReceiver(ing), OTLP: m.otlpReceiver(ing),
		Alertmanager: m.alertmanager(),
	})
	m.mountDashboard()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	limited := newLimitListener(ln, connectionCap(cfg.MaxConnections, log))
	m.ln = limited
	// Bodies have their own deadline (api.Config.BodyTimeout, answered
	// 408), set once the headers are in; the dashboard's live stream and a
	// rollback's wait lift the write deadline for themselves.
	m.http = &http.Server{Handler: m.API.Handler(), ReadHeaderTimeout: cfg.ReadHeaderTimeout, WriteTimeout: cfg.WriteTimeout,
		IdleTimeout: cfg.IdleTimeout, ConnState: limited.track, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	// Live dashboard streams end at shutdown instead of holding it up.
	m.http.RegisterOnShutdown(m.Dashboard.Close)
	m.served = make(chan error, 1)
	go func() { m.served <- m.http.Serve(m.ln) }()
	// Crash safety: unfinished rollbacks of a previous process go
	// on, or fail as interrupted, in the background.
	if n, err := m.Rollbacks.Resume(ctx); err != nil {
		return fmt.Errorf("resuming unfinished rollbacks: %w", err)
	} else if n > 0 {
		log.Warn("resumed unfinished rollbacks", "count", n)
	}
	return nil
}

// keyring builds the key set from the configured keys plus the keys stored in
// the database. With none at all it creates an admin key, prints it once and
// stores only its hash; of several replicas starting together on one
// database, exactly one creates it and the others use it.
func (m *Server) keyring(ctx context.Context) (*roman.Keyring, error) {
	keys := m.Config.KeyRecords()
	stored, err := m.Store.ListAPIKeys(ctx)
	if err != nil {
		return nil, err
	}
	keys = append(keys, stored...)
	if len(keys) == 0 {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		token := "roman_" + base64.RawURLEncoding.EncodeToString(b[:])
		k := roman.APIKey{Name: "first-start-admin", Role: roman.RoleAdmin, Hash: roman.HashKey(token), CreatedAt: roman.UTC(m.Clock())}
		created, err := m.Store.CreateFirstAPIKey(ctx, &k)
		if err != nil {
			return nil, err
		}
		if !created {
			// Another replica created the first key meanwhile.
			stored, err := m.Store.ListAPIKeys(ctx)
			if err != nil {
				return nil, err
			}
			return roman.NewKeyring(stored), nil
		}
		fmt.Fprintf(m.Stdout, "\nroman: no API keys were configured, so an admin key was created.\n"+
			"It is shown this once and stored only as a hash; keep it safe:\n\n    %s\n\n"+
			"Use it as: Authorization: Bearer <key>   (or: export ROMAN_TOKEN=<key>)\n\n", token)
		keys = append(keys, k)
		raw, _ := json.Marshal(map[string]any{"name": k.Name})
		_ = m.Store.AddRomanEvent(ctx, &roman.RomanEvent{EventID: roman.NewUUID(), EventType: roman.EventAdminKeyCreated,
			Severity: roman.SeverityWarning, Message: "First-start admin key created", Metadata: raw, Timestamp: roman.UTC(m.Clock())})
	}
	return roman.NewKeyring(keys), nil
}

// Addr returns the address the server listens on (useful with port 0).
func (m *Server) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// URL returns the server's base URL.
func (m *Server) URL() string { return "http://" + m.Addr() }

// Close shuts the server down gracefully within the configured
// shutdown_timeout, which every stage shares: in-flight requests and running
// rollbacks get most of it; then rollbacks still running are cancelled and
// park (they resume, or fail as interrupted, on the next start or on
// another replica), and the rest (alert deliveries, the lock session, the
// databases) closes in what is left. Close returns by the deadline even
// when a stage does not finish; the error then says which.
func (m *Server) Close() error {
	budget := config.DefaultShutdownTimeout
	if m.Config != nil && m.Config.ShutdownTimeout > 0 {
		budget = m.Config.ShutdownTimeout
	}
	start := time.Now()
	plan := planShutdown(start, budget)
	done := make(chan error, 1)
	go func() { done <- m.shutdown(plan) }()
	t := time.NewTimer(time.Until(plan.end))
	defer t.Stop()
	select {
	case err := <-done:
		if m.Logger != nil {
			m.Logger.Info("shut down", "took", time.Since(start).Round(time.Millisecond).String(), "budget", budget.String())
		}
		return err
	case <-t.C:
		m.Logger.Error("shutdown did not finish within shutdown_timeout; exiting anyway", "budget", budget.String())
		return fmt.Errorf("shutdown did not finish within %s", budget)
	}
}

// shutdownPlan divides one shutdown budget into its stages' deadlines.
type shutdownPlan struct {
	// drain is when in-flight requests are cut off and running rollbacks
	// are cancelled to park.
	drain time.Time
	// parked is when the rest starts closing, parked or not.
	parked time.Time
	// alerts is when alert deliveries still in flight are given up.
	alerts time.Time
	// end is the deadline of the whole shutdown.
	end time.Time
}

// planShutdown keeps, at the end of budget, time for cancelled rollbacks
// to park (a command executor gets SIGTERM, then SIGKILL after
// executor.KillGrace) and for closing the rest; requests and rollbacks get
// everything before. With the default 25 s that is 16 s, 6 s and 3 s.
func planShutdown(start time.Time, budget time.Duration) shutdownPlan {
	closing := min(3*time.Second, budget/5)
	parking := min(executor.KillGrace+time.Second, budget/4)
	end := start.Add(budget)
	return shutdownPlan{drain: end.Add(-closing - parking), parked: end.Add(-closing), alerts: end.Add(-closing / 2), end: end}
}

// shutdown runs the stages of Close against plan's deadlines.
func (m *Server) shutdown(plan shutdownPlan) error {
	var errs []error
	if m.http != nil {
		ctx, cancel := context.WithDeadline(context.Background(), plan.drain)
		if err := m.http.Shutdown(ctx); err != nil {
			// Requests still running are cut off: their connections close
			// and their contexts end.
			m.Logger.Warn("requests still running at the shutdown deadline were cut off", "err", err)
			_ = m.http.Close()
		}
		cancel()
		if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		m.http = nil
	}
	m.stopMonitor()
	if m.Rollbacks != nil {
		// Running rollbacks finish, or park and resume on the next start.
		ctx, cancel := context.WithDeadline(context.Background(), plan.drain)
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			m.Rollbacks.Drain(ctx)
		}()
		select {
		case <-drained:
		case <-time.After(time.Until(plan.parked)):
			m.Logger.Error("rollbacks did not park before the shutdown deadline; they resume as interrupted")
		}
		cancel()
	}
	// Only now may other replicas resume what this one left unfinished.
	m.closeScaleOut()
	m.closeAlerts(plan.alerts)
	if m.appCloser != nil {
		errs = append(errs, m.appCloser.Close())
		m.appCloser = nil
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
		m.Store = nil
	}
	return errors.Join(errs...)
}
