package sqldb

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

var _ roman.JudgeRetentionStore = (*DB)(nil)

// PruneErrorSeconds deletes up to limit per-second error counters of
// seconds wholly before before, walking error_seconds_second_idx. Pruning
// an error event removes its counter already (errorcounts.go; on
// PostgreSQL a statement trigger); this removes what is left by rows
// deleted otherwise (SQLite has no delete trigger) or counted late.
func (db *DB) PruneErrorSeconds(ctx context.Context, before time.Time, limit int) (int64, error) {
	sec := any(roman.UTC(before).Truncate(time.Second))
	if db.dialect == DialectSQLite {
		sec = sec.(time.Time).Format("2006-01-02T15:04:05")
	}
	return db.prune(ctx, "prune error seconds", `DELETE FROM error_seconds WHERE (deployment_id, second) IN
		(SELECT deployment_id, second FROM error_seconds WHERE second < ? ORDER BY second LIMIT ?)`, sec, limit)
}

// PruneDeploymentFingerprints deletes up to limit error groups whose
// newest event occurred before before, walking
// deployment_fingerprints_last_seen_idx.
func (db *DB) PruneDeploymentFingerprints(ctx context.Context, before time.Time, limit int) (int64, error) {
	return db.prune(ctx, "prune deployment fingerprints", `DELETE FROM deployment_fingerprints WHERE (deployment_id, fingerprint) IN
		(SELECT deployment_id, fingerprint FROM deployment_fingerprints WHERE last_seen_at < ? ORDER BY last_seen_at LIMIT ?)`,
		db.ts(before), limit)
}

// PruneErrorFingerprints deletes up to limit first sightings made before
// before whose fingerprint no release of the (service, environment) has a
// group of any more, walking error_fingerprints_first_seen_idx and, per
// candidate, deployment_fingerprints_fingerprint_idx. Run after
// PruneDeploymentFingerprints, it forgets the fingerprints not seen for the
// whole retention.
func (db *DB) PruneErrorFingerprints(ctx context.Context, before time.Time, limit int) (int64, error) {
	return db.prune(ctx, "prune error fingerprints", `DELETE FROM error_fingerprints WHERE (service, environment, fingerprint) IN
		(SELECT f.service, f.environment, f.fingerprint FROM error_fingerprints f
		 WHERE f.first_seen_at < ? AND NOT EXISTS (SELECT 1 FROM deployment_fingerprints g
			JOIN deployments d ON d.deployment_id = g.deployment_id
			WHERE g.fingerprint = f.fingerprint AND d.service = f.service AND d.environment = f.environment)
		 ORDER BY f.first_seen_at LIMIT ?)`, db.ts(before), limit)
}

// PruneInteractions deletes up to limit Discord interactions that expired
// before before, walking discord_interactions_expires_at_idx.
func (db *DB) PruneInteractions(ctx context.Context, before time.Time, limit int) (int64, error) {
	return db.prune(ctx, "prune discord interactions", `DELETE FROM discord_interactions WHERE id IN
		(SELECT id FROM discord_interactions WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`, db.ts(before), limit)
}
