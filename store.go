package roman

import (
	"context"
	"time"
)

// Store is roman's persistence, implemented by sqldb for SQLite and
// PostgreSQL. Each method owns its transaction. Methods return ENOTFOUND for
// unknown ids and ECONFLICT for uniqueness or state conflicts; any other
// failure is EINTERNAL.
type Store interface {
	// CreateDeployment inserts d (DeploymentID, DeployedAt and Status set by
	// the caller) and fills d.ID. ECONFLICT when the deployment_id exists.
	CreateDeployment(ctx context.Context, d *Deployment) error
	// GetDeployment returns one deployment.
	GetDeployment(ctx context.Context, deploymentID string) (*Deployment, error)
	// ListDeployments returns deployments newest first (deployed_at, then id).
	ListDeployments(ctx context.Context, f DeploymentFilter) ([]*Deployment, error)
	// UpdateDeployment applies u inside one transaction. When u.Status is set
	// and differs from the stored status, the transition is checked with
	// CanTransition against the stored row (ECONFLICT naming both states).
	UpdateDeployment(ctx context.Context, deploymentID string, u DeploymentUpdate) (*Deployment, error)
	// FindRollbackTarget returns the newest deployment of env with status
	// success and health_check_passed true deployed strictly before
	// `before`, or nil when there is none (SPEC §3).
	FindRollbackTarget(ctx context.Context, env string, before time.Time) (*Deployment, error)
	// CurrentDeployment returns the deployment that errors reported by
	// environment belong to: the newest deployment of env that is success,
	// or in_progress and created by a rollback (a redeploy in verification),
	// or nil.
	CurrentDeployment(ctx context.Context, env string) (*Deployment, error)

	// CreateRollbackEvent inserts e and fills e.ID. The store allows one
	// unfinished (pending or in_progress) event per environment: a second gets
	// ECONFLICT with Error.EventID set to the unfinished event.
	CreateRollbackEvent(ctx context.Context, e *RollbackEvent) error
	// AppendRollbackStep appends one step to an event's rollback_steps.
	AppendRollbackStep(ctx context.Context, eventID string, s RollbackStep) error
	// UpdateRollbackEvent applies u.
	UpdateRollbackEvent(ctx context.Context, eventID string, u RollbackEventUpdate) error
	// GetRollbackEvent returns one event.
	GetRollbackEvent(ctx context.Context, eventID string) (*RollbackEvent, error)
	// ListRollbackEvents returns events newest first (initiated_at, then id).
	ListRollbackEvents(ctx context.Context, f RollbackFilter) ([]*RollbackEvent, error)

	// CreateSnapshot inserts s and fills s.ID.
	CreateSnapshot(ctx context.Context, s *Snapshot) error
	// GetSnapshot returns one snapshot.
	GetSnapshot(ctx context.Context, snapshotID string) (*Snapshot, error)
	// ListSnapshots returns a deployment's snapshots newest first.
	ListSnapshots(ctx context.Context, deploymentID string) ([]*Snapshot, error)

	// CreateMigration inserts m and fills m.ID. ECONFLICT when the
	// migration_name exists.
	CreateMigration(ctx context.Context, m *Migration) error
	// ListMigrations returns a deployment's migrations in applied order.
	ListMigrations(ctx context.Context, deploymentID string) ([]*Migration, error)
	// RecordMigrationRollbacks records, in one transaction, the outcome of
	// running migration rollback scripts (SPEC §8): rolled_back_at,
	// rollback_successful and error_message of each migration row named by
	// id. ENOTFOUND (and nothing recorded) when an id does not exist.
	RecordMigrationRollbacks(ctx context.Context, outcomes []MigrationRollback) error

	// AddRomanEvent inserts one audit/decision row and fills e.ID.
	AddRomanEvent(ctx context.Context, e *RomanEvent) error
	// ListRomanEvents returns roman events newest first.
	ListRomanEvents(ctx context.Context, f RomanEventFilter) ([]*RomanEvent, error)

	// InsertErrorEvents stores a batch of error events in one transaction.
	InsertErrorEvents(ctx context.Context, events []ErrorEvent) error
	// CountErrors returns how many error events of a deployment have
	// occurred_at in (now-1m, now] and in (now-5m, now].
	CountErrors(ctx context.Context, deploymentID string, now time.Time) (lastMinute, last5Minutes int64, err error)
	// InsertMetricSamples stores a batch of metric samples in one transaction.
	InsertMetricSamples(ctx context.Context, samples []MetricSample) error
	// LatestMetrics returns, per metric name, the newest sample of a
	// deployment taken in (since, now].
	LatestMetrics(ctx context.Context, deploymentID string, since, now time.Time) (map[string]float64, error)
	// RecentMetrics returns, per metric name, the values of the newest n
	// samples of a deployment taken in (since, now], newest first (for
	// consecutive breaches). Only EINTERNAL.
	RecentMetrics(ctx context.Context, deploymentID string, since, now time.Time, n int) (map[string][]float64, error)

	// ListAPIKeys returns every stored key (hashes only).
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// CreateAPIKey stores a key hash.
	CreateAPIKey(ctx context.Context, k *APIKey) error

	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// MigrationRollback is the outcome of running one migration's rollback
// script, for Store.RecordMigrationRollbacks.
type MigrationRollback struct {
	// ID is the migration_history row's id.
	ID int64
	// At is when the script ran (rolled_back_at).
	At time.Time
	// Successful is rollback_successful.
	Successful bool
	// Error is error_message; empty on success, which clears it.
	Error string
}

// AlertOutbox is the durable alert queue (table alert_outbox, SPEC §11),
// implemented by sqldb beside Store. Rows are written by Store.AddRomanEvent
// for an event that carries an Alert, in the event's transaction; the alert
// sender claims, delivers and settles them. Within one channel, rows with the
// same OrderKey (a deployment) are delivered in id order: a row is claimable
// only when every older row of its channel and key is delivered or given up.
// Methods return ENOTFOUND for an unknown row id; any other failure is
// EINTERNAL.
type AlertOutbox interface {
	// ClaimAlerts claims up to limit deliverable rows (not delivered, not
	// given up, next_attempt_at <= now, no live claim, first of their channel
	// and order key) until now+lease, counts the attempt and returns them in
	// id order. Concurrent claimers (several replicas) never get the same
	// row.
	ClaimAlerts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*OutboxAlert, error)
	// AlertDelivered marks a row delivered at `at` and releases its claim.
	AlertDelivered(ctx context.Context, id int64, at time.Time) error
	// RetryAlert releases a row's claim and schedules its next attempt at
	// next, or later if a channel deferral already moved it; lastError must
	// be safe to show (no URL).
	RetryAlert(ctx context.Context, id int64, next time.Time, lastError string) error
	// DeferAlertChannel moves the next attempt of every pending row of a
	// channel to no earlier than until (a 429 applies to the whole channel).
	DeferAlertChannel(ctx context.Context, channel string, until time.Time) error
	// GiveUpAlert marks a row given up at `at` with lastError and inserts e
	// (the roman_events row that says so) in the same transaction.
	GiveUpAlert(ctx context.Context, id int64, at time.Time, lastError string, e *RomanEvent) error
	// ListAlerts returns outbox rows oldest first (id order).
	ListAlerts(ctx context.Context, f OutboxFilter) ([]*OutboxAlert, error)
}
