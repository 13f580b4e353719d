package roman

import (
	"context"
	"time"
)

// roman's persistence is one small interface per entity, each implemented by
// sqldb for SQLite and PostgreSQL (*sqldb.DB satisfies all of them). A
// consumer takes only the interfaces it uses, so a test's mock sets only the
// functions it needs. Each method owns its transaction. Unless a method says
// otherwise, it returns ENOTFOUND for an unknown id, ECONFLICT for a
// uniqueness or state conflict, and EINTERNAL for any other failure.

// DeploymentStore keeps the deployments table.
type DeploymentStore interface {
	// CreateDeployment inserts d (DeploymentID, DeployedAt and Status set by
	// the caller) and fills d.ID. ECONFLICT when the deployment_id exists;
	// EREJECTED, nothing written, when d would open an environment or a
	// service past the store's cap.
	CreateDeployment(ctx context.Context, d *Deployment) error
	// GetDeployment returns one deployment. ENOTFOUND for an unknown id.
	GetDeployment(ctx context.Context, deploymentID string) (*Deployment, error)
	// ListDeployments returns deployments newest first (deployed_at, then
	// id). Only EINTERNAL.
	ListDeployments(ctx context.Context, f DeploymentFilter) ([]*Deployment, error)
	// UpdateDeployment applies u inside one transaction. When u.Status is set
	// and differs from the stored status, the transition is checked with
	// CanTransition against the stored row (ECONFLICT naming both states).
	// u.UndoRollbackTo, used only by the rollback machine when the target
	// was never redeployed, takes back a rolled_back mark (status restored,
	// rolled_back_at cleared; EINVALID combined with Status or RolledBackAt,
	// ECONFLICT from any other status). ENOTFOUND for an unknown id.
	UpdateDeployment(ctx context.Context, deploymentID string, u DeploymentUpdate) (*Deployment, error)
	// FindRollbackTarget returns the rollback target of the bad deployment:
	// the newest deployment of bad's service and environment with status
	// success and health_check_passed true, deployed strictly before bad
	// and with a git_commit other than bad's, or nil when there is none.
	// Only EINTERNAL.
	FindRollbackTarget(ctx context.Context, bad *Deployment) (*Deployment, error)
	// CurrentDeployment returns the deployment that errors reported by
	// service and environment belong to: the newest deployment of the
	// service (empty is DefaultService) in env that is success, or
	// in_progress and created by a rollback (a redeploy in verification),
	// or nil. Only EINTERNAL.
	CurrentDeployment(ctx context.Context, service, env string) (*Deployment, error)
}

// RollbackStore keeps the rollback_events table and its steps.
type RollbackStore interface {
	// CreateRollbackEvent inserts e and fills e.ID. The store allows one
	// unfinished (pending or in_progress) event per service and
	// environment (the service is the deployment's): a second gets
	// ECONFLICT with Error.EventID set to the unfinished event.
	CreateRollbackEvent(ctx context.Context, e *RollbackEvent) error
	// AppendRollbackStep appends one step to an event's rollback_steps.
	// ENOTFOUND for an unknown event.
	AppendRollbackStep(ctx context.Context, eventID string, s RollbackStep) error
	// UpdateRollbackEvent applies u, u.Steps appended to rollback_steps in
	// the same write. ENOTFOUND for an unknown event.
	UpdateRollbackEvent(ctx context.Context, eventID string, u RollbackEventUpdate) error
	// GetRollbackEvent returns one event. ENOTFOUND for an unknown event.
	GetRollbackEvent(ctx context.Context, eventID string) (*RollbackEvent, error)
	// ListRollbackEvents returns events newest first (initiated_at, then
	// id). Only EINTERNAL.
	ListRollbackEvents(ctx context.Context, f RollbackFilter) ([]*RollbackEvent, error)
}

// SnapshotStore keeps the system_snapshots table.
type SnapshotStore interface {
	// CreateSnapshot inserts s and fills s.ID. Only EINTERNAL.
	CreateSnapshot(ctx context.Context, s *Snapshot) error
	// GetSnapshot returns one snapshot. ENOTFOUND for an unknown id.
	GetSnapshot(ctx context.Context, snapshotID string) (*Snapshot, error)
	// ListSnapshots returns a deployment's snapshots newest first. Only
	// EINTERNAL.
	ListSnapshots(ctx context.Context, deploymentID string) ([]*Snapshot, error)
}

// MigrationStore keeps the migration_history table.
type MigrationStore interface {
	// CreateMigration inserts m and fills m.ID. ECONFLICT when the
	// migration_name exists.
	CreateMigration(ctx context.Context, m *Migration) error
	// ListMigrations returns a deployment's migrations in applied order.
	// Only EINTERNAL.
	ListMigrations(ctx context.Context, deploymentID string) ([]*Migration, error)
	// RecordMigrationRollbacks records, in one transaction, the outcome of
	// running migration rollback scripts: rolled_back_at,
	// rollback_successful and error_message of each migration row named by
	// id. ENOTFOUND (and nothing recorded) when an id does not exist.
	RecordMigrationRollbacks(ctx context.Context, outcomes []MigrationRollback) error
}

// EventStore keeps the audit trail (table roman_events). An event that
// carries an Alert also queues it in the alert outbox, in the same
// transaction.
type EventStore interface {
	// AddRomanEvent inserts one audit/decision row and fills e.ID. Only
	// EINTERNAL.
	AddRomanEvent(ctx context.Context, e *RomanEvent) error
	// ListRomanEvents returns roman events newest first. Only EINTERNAL.
	ListRomanEvents(ctx context.Context, f RomanEventFilter) ([]*RomanEvent, error)
}

// SignalStore keeps the health signals pushed to roman: error events and
// metric samples. Every method returns only EINTERNAL.
type SignalStore interface {
	// InsertErrorEvents stores a batch of error events in one transaction.
	InsertErrorEvents(ctx context.Context, events []ErrorEvent) error
	// CountErrors returns how many error events of a deployment have
	// occurred_at in (now-1m, now] and in (now-5m, now].
	CountErrors(ctx context.Context, deploymentID string, now time.Time) (lastMinute, last5Minutes int64, err error)
	// CountErrorsBatch returns CountErrors of each of the deployments,
	// keyed by the id as given, with one query (the monitor evaluates
	// thousands of watches every second). A deployment without errors in
	// the windows, or an id that is not a UUID, is absent.
	CountErrorsBatch(ctx context.Context, deploymentIDs []string, now time.Time) (map[string]ErrorCounts, error)
	// ErrorPeaks returns the busiest minute and five minutes of a
	// deployment's errors with occurred_at in [from, to], each window
	// ending at one of those errors' times.
	ErrorPeaks(ctx context.Context, deploymentID string, from, to time.Time) (ErrorPeaks, error)
	// InsertMetricSamples stores a batch of metric samples in one transaction.
	InsertMetricSamples(ctx context.Context, samples []MetricSample) error
	// LatestMetrics returns, per metric name, the newest sample of a
	// deployment taken in (since, now].
	LatestMetrics(ctx context.Context, deploymentID string, since, now time.Time) (map[string]float64, error)
	// LatestMetricsBatch returns LatestMetrics of each of the deployments,
	// keyed by the id as given, with one query. A deployment without
	// samples in (since, now], or an id that is not a UUID, is absent.
	LatestMetricsBatch(ctx context.Context, deploymentIDs []string, since, now time.Time) (map[string]map[string]float64, error)
	// RecentMetrics returns, per metric name, the values of the newest n
	// samples of a deployment taken in (since, now], newest first (for
	// consecutive breaches).
	RecentMetrics(ctx context.Context, deploymentID string, since, now time.Time, n int) (map[string][]float64, error)
}

// KeyStore keeps the hashes of API keys created at run time.
type KeyStore interface {
	// ListAPIKeys returns every stored key (hashes only). Only EINTERNAL.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// CreateAPIKey stores a key hash. ECONFLICT when the name exists.
	CreateAPIKey(ctx context.Context, k *APIKey) error
}

// Pinger reports whether the database is reachable (readiness).
type Pinger interface {
	// Ping returns EINTERNAL when the database does not answer.
	Ping(ctx context.Context) error
}

// MigrationRollback is the outcome of running one migration's rollback
// script, for MigrationStore.RecordMigrationRollbacks.
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

// OutboxStore is the durable alert queue (table alert_outbox). Rows are
// written by EventStore.AddRomanEvent
// for an event that carries an Alert, in the event's transaction; the alert
// sender claims, delivers and settles them. Within one channel, rows with the
// same OrderKey (a deployment) are delivered in id order: a row is claimable
// only when every older row of its channel and key is delivered or given up.
// Methods return ENOTFOUND for an unknown row id; any other failure is
// EINTERNAL.
type OutboxStore interface {
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

// RetentionStore deletes what roman no longer needs: health signals older
// than the retention setting and settled alert outbox rows. Each call
// deletes at most limit rows, oldest first, in one short transaction of its
// own, so a large backlog is pruned in batches that never hold writers up
// for long, and returns how many rows it deleted. The audit tables
// (roman_events, rollback_events, deployments, snapshots, migrations) are
// never pruned. Only EINTERNAL.
type RetentionStore interface {
	// PruneErrorEvents deletes error events with occurred_at before before.
	PruneErrorEvents(ctx context.Context, before time.Time, limit int) (int64, error)
	// PruneMetricSamples deletes metric samples taken (at) before before.
	PruneMetricSamples(ctx context.Context, before time.Time, limit int) (int64, error)
	// PruneAlerts deletes outbox rows delivered, or given up, before
	// before; pending rows are kept whatever their age.
	PruneAlerts(ctx context.Context, before time.Time, limit int) (int64, error)
}
