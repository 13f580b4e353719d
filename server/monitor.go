package server

import (
	"context"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/ingest"
	"github.com/odyssey-1/roman/monitor"
	"github.com/odyssey-1/roman/retention"
	"github.com/odyssey-1/roman/sqldb"
)

// healthParts are the pieces of health checking the server shares between
// /check, the rollback service, ingest and the monitor.
type healthParts struct {
	pulled   *health.Pulled
	sources  *health.Sources
	breaches func(env string) int
}

// newHealthParts builds the pulled-source registry from the configuration.
// A postgres source without a url measures the application database:
// app_database when set, else roman's own database when it is PostgreSQL.
func (m *Server) newHealthParts() *healthParts {
	cfg := m.Config
	appURL := cfg.AppDatabase.Value()
	if appURL == "" {
		appURL = cfg.Database.Value()
	}
	return &healthParts{
		pulled: &health.Pulled{},
		sources: &health.Sources{
			Config:         func(env string) []health.SourceConfig { return cfg.Environment(env).HealthSources },
			AppDatabaseURL: appURL,
		},
		breaches: func(env string) int { return cfg.Environment(env).ConsecutiveBreaches },
	}
}

// newIngest returns the ingest service.
func (m *Server) newIngest() *ingest.Service {
	return &ingest.Service{Deployments: m.Store, Signals: m.Store, Hub: m.Hub, Clock: m.Clock}
}

// startMonitor writes the thresholds the SQL health function reads, starts
// the monitor and, on PostgreSQL, relays the change notifications of other
// replicas and other writers (rows applications insert into
// ops.error_events themselves) to the hub and campaigns for the monitor's
// leadership.
func (m *Server) startMonitor(ctx context.Context, hp *healthParts, checker *health.Checker,
	deployments roman.DeploymentService, rollbacks roman.RollbackService, ing *ingest.Service) error {
	cfg := m.Config
	settings := map[string]sqldb.HealthSettings{
		sqldb.DefaultSettingsEnvironment: {Thresholds: cfg.Thresholds, ConsecutiveBreaches: cfg.ConsecutiveBreaches,
			AlertTriggers: cfg.AlertTriggers},
	}
	for name, e := range cfg.Environments {
		settings[name] = sqldb.HealthSettings{Thresholds: e.Thresholds, ConsecutiveBreaches: e.ConsecutiveBreaches,
			AlertTriggers: e.AlertTriggers}
	}
	if err := m.Store.WriteHealthSettings(ctx, settings); err != nil {
		return err
	}
	m.Monitor = &monitor.Monitor{
		Store: m.Store, Rollbacks: rollbacks, Deployments: deployments, Checker: checker, Hub: m.Hub, Fingerprints: m.Store, Backfill: m.Store,
		Sampler: &health.Sampler{Sources: hp.sources.For, Pulled: hp.pulled, Logger: m.Logger,
			RecordErrors: func(ctx context.Context, evs []roman.ErrorEvent) error {
				_, err := ing.IngestErrors(ctx, roman.ErrorBatch{Events: evs, Batch: true})
				return err
			}},
		Settings: func(env string) monitor.Settings {
			e := cfg.Environment(env)
			return monitor.Settings{WatchWindow: e.WatchWindow, AutoRollback: e.AutoRollback, Cooldown: e.Cooldown, MaxAutoRollbacks: e.MaxAutoRollbacks}
		},
		Judge:      func(env string) roman.JudgeSettings { return cfg.Environment(env).Judge },
		JudgeStore: m.Store,
		Current:    m.Store.NewestSuccessfulDeployments,
		Interval:   cfg.MonitorInterval,
		Clock:      m.Clock,
		Logger:     m.Logger,
	}
	// On PostgreSQL several replicas may share the database:
	// the monitor waits in standby until this replica leads (scaleout.go).
	m.Monitor.Standby = m.Store.Dialect() == sqldb.DialectPostgres
	// The monitor's evaluations and the automatic rollbacks they start
	// read through the store's decision connections.
	if err := m.Monitor.Start(roman.ForDecisions(ctx)); err != nil {
		return err
	}
	// Changes other replicas and other writers make reach this replica's
	// hub: its monitor and its dashboard's live stream.
	m.stopListen = m.Store.Relay(m.Hub)
	if err := m.startScaleOut(ctx); err != nil {
		return err
	}
	m.startPruner(ctx)
	return nil
}

// startPruner starts the retention pruner: it prunes while this replica
// leads the monitor (always on SQLite), looking at the clock every
// monitor_interval.
func (m *Server) startPruner(ctx context.Context) {
	m.Pruner = &retention.Pruner{Store: m.Store, Events: m.Store, Judge: m.Store, Clock: m.Clock, Retention: m.Config.Retention,
		Poll: m.Config.MonitorInterval, Leading: m.Monitor.Leading, Logger: m.Logger}
	m.Pruner.Start(ctx)
}

// stopMonitor stops the notification relay, gives the monitor's leadership
// up and stops the monitor (waiting for automatic rollbacks in flight,
// bounded by the caller's shutdown).
func (m *Server) stopMonitor() {
	if m.stopListen != nil {
		m.stopListen()
		m.stopListen = nil
	}
	if m.Pruner != nil {
		m.Pruner.Stop()
		m.Pruner = nil
	}
	m.stopLeading()
	if m.Monitor != nil {
		m.Monitor.Stop()
		m.Monitor = nil
	}
	if m.healthParts != nil {
		_ = m.healthParts.sources.Close()
		m.healthParts = nil
	}
}
