package sqldb

import (
	"context"
	"database/sql"
)

// readStmtKey is the key of a prepared read statement in db.stmts; its own
// type keeps it apart from the insert statements' table-name keys, and
// Close closes both kinds.
type readStmtKey string

// queryRead runs a read query, written with `?` placeholders, on the
// general pool. On SQLite the statement is prepared once and reused (the
// driver would otherwise parse it on every call: a fifth of the CPU time
// of /auto-rollback/check and of the monitor's evaluations); pgx caches
// prepared statements by itself, so PostgreSQL queries go straight through.
func (db *DB) queryRead(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if db.dialect != DialectSQLite {
		return db.db.QueryContext(ctx, db.q(query), args...)
	}
	st, err := db.readStmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryReadRow is queryRead for a query that returns at most one row.
func (db *DB) queryReadRow(ctx context.Context, query string, args ...any) *sql.Row {
	if db.dialect != DialectSQLite {
		return db.db.QueryRowContext(ctx, db.q(query), args...)
	}
	st, err := db.readStmt(query)
	if err != nil {
		// A failed prepare (a syntax error) reports the same error from
		// an unprepared query's Scan.
		return db.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// readStmt returns the prepared statement of query on the SQLite pool,
// preparing it the first time.
func (db *DB) readStmt(query string) (*sql.Stmt, error) {
	key := readStmtKey(query)
	if st, ok := db.stmts.Load(key); ok {
		return st.(*sql.Stmt), nil
	}
	// Prepared without the caller's context: the statement outlives the
	// request that first needed it.
	st, err := db.db.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}
