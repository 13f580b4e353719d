package sqldb

import (
	"context"
	"database/sql"
	"strings"

	"github.com/odyssey-1/roman"
)

// AddRomanEvent inserts one audit/decision row and fills e.ID. An empty
// EventID is generated and a zero Timestamp is now. When e.Alert is set, the
// alert's outbox rows are written in the same transaction (see insertEvent).
// ECONFLICT when the event_id exists.
func (db *DB) AddRomanEvent(ctx context.Context, e *roman.RomanEvent) error {
	id, err := normID("event_id", e.EventID)
	if err != nil {
		return err
	}
	if id == "" {
		id = roman.NewUUID()
	}
	e.EventID = id
	e.Timestamp = db.orNow(e.Timestamp)
	if db.eventRowOnly(e) {
		// Nothing rides on the row: one statement, no transaction around
		// it (one round trip instead of three on PostgreSQL).
		err = db.wdb.QueryRowContext(ctx, db.q(insertEventSQL),
			e.EventID, e.EventType, e.Severity, e.Message, jsonArg(e.Metadata), db.ts(e.Timestamp)).Scan(&e.ID)
	} else {
		// insertEvent also writes e.Alert to the outbox in this transaction.
		err = db.write(ctx, func(tx *sql.Tx) error { return db.insertEvent(ctx, tx, e) })
	}
	if classify(err) == uniqueViolation {
		return roman.Errorf(roman.ECONFLICT, "roman event %s already exists", id)
	}
	return internal("add roman event", err)
}

// ListRomanEvents returns roman events newest first (timestamp, then id),
// filtered by type, severity, metadata.deployment_id, metadata.environment,
// metadata.service (absent is the default service) and time when given.
func (db *DB) ListRomanEvents(ctx context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
	var conds []string
	var args []any
	if f.EventType != "" {
		conds, args = append(conds, "event_type = ?"), append(args, f.EventType)
	}
	if len(f.EventTypes) > 0 {
		conds = append(conds, "event_type IN (?"+strings.Repeat(", ?", len(f.EventTypes)-1)+")")
		for _, typ := range f.EventTypes {
			args = append(args, typ)
		}
	}
	if f.Severity != "" {
		conds, args = append(conds, "severity = ?"), append(args, f.Severity)
	}
	if f.DeploymentID != "" {
		// The same expression as the index on both dialects.
		conds, args = append(conds, "metadata->>'deployment_id' = ?"), append(args, f.DeploymentID)
	}
	if f.Environment != "" {
		conds, args = append(conds, "metadata->>'environment' = ?"), append(args, f.Environment)
	}
	if f.Service != "" {
		conds, args = append(conds, "COALESCE(metadata->>'service', 'default') = ?"), append(args, f.Service)
	}
	if f.Since != nil {
		conds, args = append(conds, `"timestamp" >= ?`), append(args, db.ts(*f.Since))
	}
	args = append(args, limit(f.Limit))
	rows, err := db.queryRead(ctx, `SELECT id, event_id, event_type, severity, message,
		metadata, "timestamp" FROM roman_events`+where(conds)+` ORDER BY "timestamp" DESC, id DESC LIMIT ?`,
		args...)
	if err != nil {
		return nil, internal("list roman events", err)
	}
	defer rows.Close()
	out := []*roman.RomanEvent{}
	for rows.Next() {
		e := &roman.RomanEvent{}
		if err := rows.Scan(&e.ID, idScan{s: &e.EventID}, &e.EventType, &e.Severity, &e.Message,
			jsonScan{&e.Metadata}, scanTime(&e.Timestamp)); err != nil {
			return nil, internal("list roman events", err)
		}
		out = append(out, e)
	}
	return out, internal("list roman events", rows.Err())
}

// ListAPIKeys returns every stored key (hashes only) in creation order.
func (db *DB) ListAPIKeys(ctx context.Context) ([]roman.APIKey, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, name, role, key_hash, created_at FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, internal("list api keys", err)
	}
	defer rows.Close()
	out := []roman.APIKey{}
	for rows.Next() {
		var k roman.APIKey
		var role string
		if err := rows.Scan(&k.ID, &k.Name, &role, &k.Hash, scanTime(&k.CreatedAt)); err != nil {
			return nil, internal("list api keys", err)
		}
		// An unknown role name (edited by hand) gives RoleNone: no access.
		k.Role, _ = roman.ParseRole(role)
		out = append(out, k)
	}
	return out, internal("list api keys", rows.Err())
}

// firstKeyLock is the PostgreSQL advisory lock key ("romankey") under which
// a replica checks that no API key is stored and creates the first one.
const firstKeyLock = 0x726f6d616e6b6579

// CreateFirstAPIKey stores k and fills k.ID only when no API key is stored
// at all, and reports whether it did. Servers starting together on one
// database serialise on it (a transaction-scoped advisory lock on
// PostgreSQL, the write lock on SQLite), so exactly one of them creates a
// first key and the others find it.
func (db *DB) CreateFirstAPIKey(ctx context.Context, k *roman.APIKey) (bool, error) {
	if k.Role == roman.RoleNone || k.Hash == "" {
		return false, roman.Errorf(roman.EINVALID, "an API key needs a role and a hash")
	}
	k.CreatedAt = db.orNow(k.CreatedAt)
	created := false
	err := db.write(ctx, func(tx *sql.Tx) error {
		created = false
		if db.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(firstKeyLock)); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil || n > 0 {
			return err
		}
		created = true
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO api_keys (name, role, key_hash, created_at)
			VALUES (?, ?, ?, ?) RETURNING id`), k.Name, k.Role.String(), k.Hash, db.ts(k.CreatedAt)).Scan(&k.ID)
	})
	if err != nil {
		return false, internal("create the first api key", err)
	}
	return created, nil
}

// CreateAPIKey stores a key hash and fills k.ID; a zero CreatedAt is now.
// ECONFLICT when the same hash is stored already, EINVALID for a key without
// a role or hash.
func (db *DB) CreateAPIKey(ctx context.Context, k *roman.APIKey) error {
	if k.Role == roman.RoleNone || k.Hash == "" {
		return roman.Errorf(roman.EINVALID, "an API key needs a role and a hash")
	}
	k.CreatedAt = db.orNow(k.CreatedAt)
	err := db.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO api_keys (name, role, key_hash, created_at)
			VALUES (?, ?, ?, ?) RETURNING id`), k.Name, k.Role.String(), k.Hash, db.ts(k.CreatedAt)).Scan(&k.ID)
	})
	if classify(err) == uniqueViolation {
		// The message names the key, never its hash.
		return roman.Errorf(roman.ECONFLICT, "API key %q is already stored", k.Name)
	}
	return internal("create api key", err)
}
