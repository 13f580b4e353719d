package sqldb

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/odyssey-1/roman"
)

// violation is the kind of constraint a driver error reports.
type violation int

const (
	noViolation violation = iota
	uniqueViolation
	foreignKeyViolation
)

// PostgreSQL SQLSTATE codes of the constraint violations roman maps.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// classify returns the constraint violation err reports, judged by the
// driver's error code, never by the message text.
func classify(err error) violation {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgUniqueViolation:
			return uniqueViolation
		case pgForeignKeyViolation:
			return foreignKeyViolation
		}
		return noViolation
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		}
	}
	return noViolation
}

// internal wraps a driver error as EINTERNAL, keeping *roman.Error values
// (already classified) as they are.
func internal(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *roman.Error
	if errors.As(err, &re) {
		return err
	}
	return &roman.Error{Code: roman.EINTERNAL, Err: fmt.Errorf("sqldb: %s: %w", op, err)}
}

// notFound is the ENOTFOUND error for an unknown id of a kind.
func notFound(kind, id string) *roman.Error {
	return roman.Errorf(roman.ENOTFOUND, "%s %s not found", kind, id)
}
