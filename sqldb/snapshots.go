package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/odyssey-1/roman"
)

const snapshotCols = `id, snapshot_id, deployment_id, snapshot_type, database_schema_hash,
	table_counts, key_metrics, environment_config, created_at, table_count_methods`

func scanSnapshot(r rowScanner) (*roman.Snapshot, error) {
	s := &roman.Snapshot{}
	var hash sql.NullString
	var counts, config, methods json.RawMessage
	err := r.Scan(&s.ID, idScan{s: &s.SnapshotID}, idScan{s: &s.DeploymentID}, &s.SnapshotType, &hash,
		jsonScan{&counts}, jsonScan{&s.KeyMetrics}, jsonScan{&config}, scanTime(&s.CreatedAt), jsonScan{&methods})
	if err != nil {
		return nil, err
	}
	s.DatabaseSchemaHash = hash.String
	if len(counts) > 0 {
		if err := json.Unmarshal(counts, &s.TableCounts); err != nil {
			return nil, err
		}
	}
	if len(methods) > 0 {
		if err := json.Unmarshal(methods, &s.TableCountMethods); err != nil {
			return nil, err
		}
	}
	if len(config) > 0 {
		if err := json.Unmarshal(config, &s.EnvironmentConfig); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// CreateSnapshot inserts s and fills s.ID. An empty SnapshotID is generated
// and a zero CreatedAt is now. ENOTFOUND when the deployment does not exist,
// ECONFLICT when the snapshot_id does.
func (db *DB) CreateSnapshot(ctx context.Context, s *roman.Snapshot) error {
	id, err := normID("snapshot_id", s.SnapshotID)
	if err != nil {
		return err
	}
	if id == "" {
		id = roman.NewUUID()
	}
	dep, err := normID("deployment_id", s.DeploymentID)
	if err != nil {
		return err
	}
	counts, err := marshalArg(s.TableCounts)
	if err != nil {
		return roman.Errorf(roman.EINVALID, "table_counts: %v", err)
	}
	var methods any
	if len(s.TableCountMethods) > 0 {
		if methods, err = marshalArg(s.TableCountMethods); err != nil {
			return roman.Errorf(roman.EINVALID, "table_count_methods: %v", err)
		}
	}
	config, err := marshalArg(s.EnvironmentConfig)
	if err != nil {
		return roman.Errorf(roman.EINVALID, "environment_config: %v", err)
	}
	s.SnapshotID, s.DeploymentID = id, dep
	s.CreatedAt = db.orNow(s.CreatedAt)
	var hash any
	if s.DatabaseSchemaHash != "" {
		hash = s.DatabaseSchemaHash
	}
	// One statement: no transaction around it (one round trip, not three).
	err = db.wdb.QueryRowContext(ctx, db.q(`INSERT INTO system_snapshots (snapshot_id, deployment_id,
		snapshot_type, database_schema_hash, table_counts, key_metrics, environment_config, created_at,
		table_count_methods)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		id, idArg(dep), s.SnapshotType, hash, counts, jsonArg(s.KeyMetrics), config,
		db.ts(s.CreatedAt), methods).Scan(&s.ID)
	switch classify(err) {
	case uniqueViolation:
		return roman.Errorf(roman.ECONFLICT, "snapshot %s already exists", id)
	case foreignKeyViolation:
		return notFound("deployment", dep)
	}
	return internal("create snapshot", err)
}

// GetSnapshot returns one snapshot, ENOTFOUND when there is none.
func (db *DB) GetSnapshot(ctx context.Context, snapshotID string) (*roman.Snapshot, error) {
	id, ok := lookupID(snapshotID)
	if !ok {
		return nil, notFound("snapshot", snapshotID)
	}
	s, err := scanSnapshot(db.db.QueryRowContext(ctx,
		db.q(`SELECT `+snapshotCols+` FROM system_snapshots WHERE snapshot_id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("snapshot", snapshotID)
	}
	return s, internal("get snapshot", err)
}

// ListSnapshots returns a deployment's snapshots newest first (created_at,
// then id), at most 1000.
func (db *DB) ListSnapshots(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error) {
	out := []*roman.Snapshot{}
	id, ok := lookupID(deploymentID)
	if !ok {
		return out, nil
	}
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT `+snapshotCols+` FROM system_snapshots
		WHERE deployment_id = ? ORDER BY created_at DESC, id DESC LIMIT 1000`), id)
	if err != nil {
		return nil, internal("list snapshots", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSnapshot(rows)
		if err != nil {
			return nil, internal("list snapshots", err)
		}
		out = append(out, s)
	}
	return out, internal("list snapshots", rows.Err())
}

const migrationCols = `id, deployment_id, migration_name, migration_hash, applied_at, rolled_back_at,
	rollback_successful, execution_time_ms, error_message, rollback_script, metadata`

func scanMigration(r rowScanner) (*roman.Migration, error) {
	m := &roman.Migration{}
	var ok sql.NullBool
	var ms sql.NullInt64
	var errMsg, script sql.NullString
	err := r.Scan(&m.ID, idScan{s: &m.DeploymentID}, &m.MigrationName, &m.MigrationHash,
		scanTime(&m.AppliedAt), scanTimePtr(&m.RolledBackAt), &ok, &ms, &errMsg, &script,
		jsonScan{&m.Metadata})
	if err != nil {
		return nil, err
	}
	if ok.Valid {
		m.RollbackSuccessful = &ok.Bool
	}
	if ms.Valid {
		m.ExecutionTimeMS = &ms.Int64
	}
	if errMsg.Valid {
		m.ErrorMessage = &errMsg.String
	}
	if script.Valid {
		m.RollbackScript = &script.String
	}
	return m, nil
}

// CreateMigration inserts m and fills m.ID; a zero AppliedAt is now.
// ECONFLICT when the migration_name exists, ENOTFOUND when the deployment
// does not.
func (db *DB) CreateMigration(ctx context.Context, m *roman.Migration) error {
	dep, err := normID("deployment_id", m.DeploymentID)
	if err != nil {
		return err
	}
	m.DeploymentID = dep
	m.AppliedAt = db.orNow(m.AppliedAt)
	m.RolledBackAt = utcPtr(m.RolledBackAt)
	var ok, ms, script any
	if m.RollbackSuccessful != nil {
		ok = *m.RollbackSuccessful
	}
	if m.ExecutionTimeMS != nil {
		ms = *m.ExecutionTimeMS
	}
	if m.RollbackScript != nil {
		script = *m.RollbackScript
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO migration_history (deployment_id,
			migration_name, migration_hash, applied_at, rolled_back_at, rollback_successful,
			execution_time_ms, error_message, rollback_script, metadata)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			idArg(dep), m.MigrationName, m.MigrationHash, db.ts(m.AppliedAt), db.tsPtr(m.RolledBackAt),
			ok, ms, strArg(m.ErrorMessage), script, jsonArg(m.Metadata)).Scan(&m.ID)
	})
	switch classify(err) {
	case uniqueViolation:
		return roman.Errorf(roman.ECONFLICT, "migration %s already exists", m.MigrationName)
	case foreignKeyViolation:
		return notFound("deployment", dep)
	}
	return internal("create migration", err)
}

// ListMigrations returns a deployment's migrations in applied order
// (applied_at, then id).
func (db *DB) ListMigrations(ctx context.Context, deploymentID string) ([]*roman.Migration, error) {
	out := []*roman.Migration{}
	id, ok := lookupID(deploymentID)
	if !ok {
		return out, nil
	}
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT `+migrationCols+` FROM migration_history
		WHERE deployment_id = ? ORDER BY applied_at, id`), id)
	if err != nil {
		return nil, internal("list migrations", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMigration(rows)
		if err != nil {
			return nil, internal("list migrations", err)
		}
		out = append(out, m)
	}
	return out, internal("list migrations", rows.Err())
}
