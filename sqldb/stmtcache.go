package sqldb

import (
	"context"
	"database/sql"

	"github.com/odyssey-1/roman"
)

// readStmtKey is the key of a prepared read statement in db.stmts: the
// query and the pool it was prepared on (decision says the decision pool).
// Its own type keeps it apart from the insert statements' table-name keys,
// and Close closes both kinds.
type readStmtKey struct {
	query    string
	decision bool
}

// reader returns the pool a read in ctx runs on: the decision pool for
// work marked by roman.ForDecisions (ingest, the monitor, automatic
// rollbacks), else the general pool that dashboards, /auto-rollback/check
// and history share. However many general reads wait for a connection,
// decisions find theirs free.
func (db *DB) reader(ctx context.Context) *sql.DB {
	if db.ddb != nil && roman.IsDecision(ctx) {
		return db.ddb
	}
	return db.db
}

// queryRead runs a read query, written with `?` placeholders, on the
// general pool. On SQLite the statement is prepared once and reused (the
// driver would otherwise parse it on every call: a fifth of the CPU time
// of /auto-rollback/check and of the monitor's evaluations); pgx caches
// prepared statements by itself, so PostgreSQL queries go straight through.
func (db *DB) queryRead(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if db.dialect != DialectSQLite {
		return db.reader(ctx).QueryContext(ctx, db.q(query), args...)
	}
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryReadRow is queryRead for a query that returns at most one row.
func (db *DB) queryReadRow(ctx context.Context, query string, args ...any) *sql.Row {
	if db.dialect != DialectSQLite {
		return db.reader(ctx).QueryRowContext(ctx, db.q(query), args...)
	}
	st, err := db.readStmt(ctx, query)
	if err != nil {
		// A failed prepare (a syntax error) reports the same error from
		// an unprepared query's Scan.
		return db.reader(ctx).QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// readStmt returns the prepared statement of query on the SQLite pool that
// serves ctx (reader), preparing it the first time.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	pool := db.reader(ctx)
	key := readStmtKey{query: query, decision: pool != db.db}
	if st, ok := db.stmts.Load(key); ok {
		return st.(*sql.Stmt), nil
	}
	// The caller's context bounds only the preparation (the wait for a
	// connection included); the statement outlives the request.
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}
