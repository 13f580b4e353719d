package sqldb

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

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

// UnavailableMessage is the client-facing message of a store that cannot be
// reached. It names no host, file or driver detail.
const UnavailableMessage = "the database is unavailable; try again shortly"

// PostgreSQL SQLSTATE codes and classes that mean the server cannot be
// used right now, as opposed to a bad statement.
const (
	pgClassConnection    = "08" // connection_exception and its subclasses
	pgClassResources     = "53" // insufficient_resources: too many connections, disk full, out of memory
	pgAdminShutdown      = "57P01"
	pgCrashShutdown      = "57P02"
	pgCannotConnectNow   = "57P03"
	pgDatabaseDropped    = "57P04"
	pgIdleSessionTimeout = "57P05"
)

// closedTexts are the texts of database/sql's errors for a closed pool and
// for a prepared statement closed with it, which the package does not export
// as values; they are the only errors matched by their text, because they
// carry no code.
var closedTexts = map[string]bool{"sql: database is closed": true, "sql: statement is closed": true}

// Unavailable reports whether err says the database cannot be used right
// now (refused or broken connections, a closed pool, a server shutting down
// or starting up, a SQLite file that is locked beyond the busy timeout or
// cannot be read), so the request may succeed later. It judges by the
// drivers' error codes and error types.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, pgClassConnection), strings.HasPrefix(pgErr.Code, pgClassResources):
			return true
		}
		switch pgErr.Code {
		case pgAdminShutdown, pgCrashShutdown, pgCannotConnectNow, pgDatabaseDropped, pgIdleSessionTimeout:
			return true
		}
		return false
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		// The primary result code is the low byte of an extended one.
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL, sqlite3.SQLITE_PROTOCOL:
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if closedTexts[e.Error()] {
			return true
		}
	}
	return false
}

// internal wraps a driver error as EINTERNAL, or as EUNAVAILABLE when the
// database cannot be reached (see Unavailable), keeping *roman.Error values
// (already classified) as they are.
func internal(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *roman.Error
	if errors.As(err, &re) {
		return err
	}
	if Unavailable(err) {
		return &roman.Error{Code: roman.EUNAVAILABLE, Message: UnavailableMessage, Err: fmt.Errorf("sqldb: %s: %w", op, err)}
	}
	return &roman.Error{Code: roman.EINTERNAL, Err: fmt.Errorf("sqldb: %s: %w", op, err)}
}

// notFound is the ENOTFOUND error for an unknown id of a kind.
func notFound(kind, id string) *roman.Error {
	return roman.Errorf(roman.ENOTFOUND, "%s %s not found", kind, id)
}
