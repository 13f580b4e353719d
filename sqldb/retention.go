package sqldb

import (
	"context"
	"database/sql"
	"time"

	"github.com/odyssey-1/roman"
)

var _ roman.RetentionStore = (*DB)(nil)

// The pace of a prune on SQLite (PrunePace). SQLite has one writer, and
// every prune batch holds it: an ingest that arrives during a batch waits
// for it to commit. Batches of a few milliseconds, each followed by a
// short pause, bound that wait to a few milliseconds; the pause lets
// every writer that queued during a batch go before the next one.
const (
	sqlitePruneBatchTime = 3 * time.Millisecond
	sqlitePrunePause     = 2 * time.Millisecond
)

// PrunePace implements retention.Pacer: short batches and pauses on
// SQLite, the retention defaults on PostgreSQL, where a prune's deletes
// take row locks that ingest never waits for.
func (db *DB) PrunePace() (batchTime, pause time.Duration) {
	if db.dialect == DialectSQLite {
		return sqlitePruneBatchTime, sqlitePrunePause
	}
	return 0, 0
}

// PruneErrorEvents deletes up to limit error events with occurred_at before
// before, in one transaction, walking error_events_occurred_at_idx.
func (db *DB) PruneErrorEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	if db.dialect == DialectSQLite {
		// With the per-second counters of its rows (errorcounts.go); on
		// PostgreSQL a statement trigger keeps them.
		return db.pruneErrorEventsSQLite(ctx, before, limit)
	}
	return db.prune(ctx, "prune error events", `DELETE FROM error_events WHERE id IN
		(SELECT id FROM error_events WHERE occurred_at < ? ORDER BY occurred_at LIMIT ?)`, db.ts(before), limit)
}

// PruneMetricSamples deletes up to limit metric samples taken before
// before, in one transaction, walking metric_samples_at_idx.
func (db *DB) PruneMetricSamples(ctx context.Context, before time.Time, limit int) (int64, error) {
	return db.prune(ctx, "prune metric samples", `DELETE FROM metric_samples WHERE id IN
		(SELECT id FROM metric_samples WHERE at < ? ORDER BY at LIMIT ?)`, db.ts(before), limit)
}

// PruneAlerts deletes up to limit outbox rows delivered or given up before
// before, in one transaction, walking the partial indexes on delivered_at
// and failed_at. Pending rows are never deleted.
func (db *DB) PruneAlerts(ctx context.Context, before time.Time, limit int) (int64, error) {
	ts := db.ts(before)
	return db.prune(ctx, "prune alert outbox", `DELETE FROM alert_outbox WHERE id IN
		(SELECT id FROM (SELECT id FROM alert_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?
		 UNION ALL SELECT id FROM alert_outbox WHERE failed_at IS NOT NULL AND failed_at < ?) settled LIMIT ?)`, ts, ts, limit)
}

// prune runs one batch delete in a write transaction of its own.
func (db *DB) prune(ctx context.Context, op, query string, args ...any) (int64, error) {
	if n := args[len(args)-1].(int); n <= 0 {
		return 0, nil
	}
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(query), args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, internal(op, err)
	}
	return n, nil
}
