// Package sqldb implements roman's store interfaces on database/sql for two dialects:
// SQLite (the embedded default, through the pure-Go modernc.org/sqlite driver)
// and PostgreSQL (through pgx). Every query is written once with `?`
// placeholders and rebound to `$n` for PostgreSQL; on PostgreSQL every table
// lives in schema ops and the connections' search_path makes the unqualified
// names resolve there. Schema changes are goose migrations embedded in the
// binary and applied by Open.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/odyssey-1/roman"
)

// Dialect names returned by (*DB).Dialect and ParseURL.
const (
	DialectSQLite   = roman.DialectSQLite
	DialectPostgres = roman.DialectPostgres
)

// Schema is the PostgreSQL schema that holds every roman table.
const Schema = "ops"

// sqliteBusyTimeout is how long a SQLite connection waits for another
// writer's lock before failing. Writers of this process are serialised by a
// one-connection pool, so the wait only matters for other processes (a CLI,
// a backup) and for writes made through SQL().
const sqliteBusyTimeout = 10 * time.Second

// DB is roman's store on SQLite or PostgreSQL. It is safe for concurrent use.
type DB struct {
	// db is the general pool: reads, and raw access through SQL().
	db *sql.DB
	// wdb runs the Store's write transactions. On SQLite it is a separate
	// pool of exactly one connection so that the process's writers queue in
	// Go instead of spinning on SQLITE_BUSY; on PostgreSQL it is a pool
	// of its own too, so that reads cannot take every connection.
	wdb *sql.DB
	// ddb serves the reads of work marked by roman.ForDecisions (see
	// reader): a small read pool of its own on SQLite (WAL readers never
	// wait for the writer), the write pool on PostgreSQL.
	ddb *sql.DB
	// cdb reads /auto-rollback/check on PostgreSQL (checkread.go): a
	// small pool whose sessions plan that one statement once (a generic
	// plan) instead of at every execution. Nil on SQLite.
	cdb *sql.DB
	// dcdb reads the checks of decision work (roman.ForDecisions: a
	// rollback's health reads, automatic ones included) on PostgreSQL,
	// planned like cdb's but in a pool of its own, so that a flood of
	// /auto-rollback/check never holds a rollback up. Nil on SQLite.
	dcdb    *sql.DB
	dialect string
	logger  *slog.Logger
	now     roman.Clock
	// alerts routes the alerts of roman events to outbox channels; see
	// SetAlertRouter in outbox.go.
	alerts roman.AlertRouter
	// mirror picks the outbox rows of integrations that mirror events
	// (GitHub deployments); see SetOutboxMirror in github.go.
	mirror roman.OutboxMirror
	// maxEnvironments and maxServices cap the distinct environments and
	// services of deployments (0: no cap); see SetScopeLimits in scopes.go.
	maxEnvironments, maxServices int
	// stopCheckpoints ends the SQLite WAL checkpointer and waits for it
	// (checkpoint.go); nil on PostgreSQL.
	stopCheckpoints func()

	// Dialect-specific fragments, computed once in Open.
	rollbackCols  string // select list of rollback_events
	appendStepSQL string // appends one element to rollback_steps
	forUpdate     string // row-lock suffix of a SELECT in a write transaction

	// replica identifies this process among the replicas sharing one
	// PostgreSQL; pgcfg is the connection configuration, for the dedicated
	// lock session (leader.go). Both are PostgreSQL only.
	replica string
	pgcfg   *pgx.ConnConfig

	rebound sync.Map // query text -> query rebound to $n (PostgreSQL only)
	stmts   sync.Map // table -> prepared multi-row INSERT on wdb (SQLite only)
	// knownSkip counts the integration alert groups still to be written
	// without first looking for a re-send (integrationalerts_pg.go).
	knownSkip atomic.Int32
}

// DB implements every store interface of roman.
var (
	_ roman.DeploymentStore = (*DB)(nil)
	_ roman.RollbackStore   = (*DB)(nil)
	_ roman.SnapshotStore   = (*DB)(nil)
	_ roman.MigrationStore  = (*DB)(nil)
	_ roman.EventStore      = (*DB)(nil)
	_ roman.SignalStore     = (*DB)(nil)
	_ roman.KeyStore        = (*DB)(nil)
	_ roman.Pinger          = (*DB)(nil)
	_ roman.OutboxStore     = (*DB)(nil)
	_ roman.StatsStore      = (*DB)(nil)
)

// Open connects to the database named by rawURL (see roman.ParseDatabaseURL), applies the
// embedded migrations and returns the store. On PostgreSQL the migrations run
// under a session advisory lock, so replicas starting together do not race.
// A nil logger discards logs.
func Open(ctx context.Context, rawURL string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dialect, target, err := roman.ParseDatabaseURL(rawURL)
	if err != nil {
		return nil, err
	}
	db := &DB{dialect: dialect, logger: logger, now: roman.SystemClock}
	switch dialect {
	case DialectSQLite:
		err = db.openSQLite(target)
		db.rollbackCols = fmt.Sprintf(rollbackColsFmt, "coalesce(rollback_steps, '[]')")
		db.appendStepSQL = `UPDATE rollback_events
			SET rollback_steps = json_insert(coalesce(rollback_steps, '[]'), '$[#]', json(?))
			WHERE event_id = ?`
	case DialectPostgres:
		err = db.openPostgres(target)
		db.rollbackCols = fmt.Sprintf(rollbackColsFmt, "coalesce(array_to_json(rollback_steps)::text, '[]')")
		db.appendStepSQL = `UPDATE rollback_events
			SET rollback_steps = array_append(coalesce(rollback_steps, '{}'), ?::jsonb)
			WHERE event_id = ?`
		db.forUpdate = " FOR UPDATE"
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if dialect == DialectSQLite {
		path, _, _ := strings.Cut(target, "?")
		privateSidecars(path)
	}
	return db, nil
}

func (db *DB) openSQLite(target string) error {
	path, extra, _ := strings.Cut(target, "?")
	if dir := filepath.Dir(path); dir != "" && dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return internal("create the SQLite directory", err)
		}
	}
	if err := db.createPrivate(path); err != nil {
		return err
	}
	params := url.Values{}
	params.Add("_pragma", "busy_timeout("+strconv.FormatInt(sqliteBusyTimeout.Milliseconds(), 10)+")")
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "foreign_keys(1)")
	params.Add("_pragma", "synchronous(NORMAL)")
	// A larger page cache (allocated as used) keeps the ingest path's
	// index pages out of read(2) calls.
	params.Add("_pragma", "cache_size(-32768)")
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// has to upgrade a read lock (which fails at once with SQLITE_BUSY
	// instead of waiting).
	params.Set("_txlock", "immediate")
	dsn := path + "?" + params.Encode()
	if extra != "" {
		dsn += "&" + extra
	}
	// The writer reads through a memory map as well. The readers do not:
	// in WAL mode a connection drops its whole map (munmap) at the start of
	// every read transaction after another connection committed, so under
	// a stream of small commits (webhooks, single errors) mapping cost the
	// readers more than it saved them.
	wparams := url.Values{}
	wparams.Add("_pragma", "mmap_size(268435456)")
	// The writer never checkpoints in its commits: the checkpointer does,
	// beside it (checkpoint.go).
	wparams.Add("_pragma", "wal_autocheckpoint(0)")
	wdsn := dsn + "&" + wparams.Encode()
	var err error
	if db.db, err = sql.Open("sqlite", dsn); err != nil {
		return internal("open SQLite", err)
	}
	db.db.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	db.db.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	if db.wdb, err = sql.Open("sqlite", wdsn); err != nil {
		db.db.Close()
		return internal("open SQLite", err)
	}
	db.wdb.SetMaxOpenConns(1)
	db.wdb.SetMaxIdleConns(1)
	db.wdb.SetConnMaxLifetime(0)
	db.wdb.SetConnMaxIdleTime(0)
	if db.ddb, err = sql.Open("sqlite", dsn); err != nil {
		db.db.Close()
		db.wdb.Close()
		return internal("open SQLite", err)
	}
	db.ddb.SetMaxOpenConns(sqliteDecisionReaders)
	db.ddb.SetMaxIdleConns(sqliteDecisionReaders)
	db.startCheckpointer()
	return nil
}

// Connection pool sizes. On SQLite the general pool has max(4, GOMAXPROCS)
// readers and the writer is one connection; decisions read through
// sqliteDecisionReaders connections of their own. On PostgreSQL the
// general pool (reads of dashboards, /auto-rollback/check, history and
// SQL()) and the decision pool (every write, and the reads of ingest, the
// monitor and automatic rollbacks) are separate, so a flood of reads
// queues in its own pool.
const (
	sqliteDecisionReaders = 2
	pgGeneralConns        = 12
	pgDecisionConns       = 10
)

// privateMode is the mode of the SQLite database file and its WAL and
// shared-memory files: they hold every deployment and the key hashes, so
// only their owner may read them, whatever the process's umask.
const privateMode = 0o600

// createPrivate creates the SQLite database file with privateMode before
// SQLite opens it (SQLite would create it 0644 less the umask); SQLite
// gives the WAL and shared-memory files the mode of the database file. An
// existing file keeps its mode: one readable by others is logged.
func (db *DB) createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, privateMode)
	switch {
	case err == nil:
		f.Close()
		// The umask may have taken bits away; the mode is exactly 0600.
		if err := os.Chmod(path, privateMode); err != nil {
			return internal("set the SQLite file's mode", err)
		}
		return nil
	case errors.Is(err, os.ErrExist):
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			db.logger.Warn("the SQLite database file is readable by other users; chmod 600 it", "mode", fi.Mode().Perm().String())
		}
		return nil
	default:
		return internal("create the SQLite file", err)
	}
}

// privateSidecars gives the WAL and shared-memory files of a private
// database file its mode (they may be left over from a process that ran
// before the file was made private).
func privateSidecars(path string) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != privateMode {
		return
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(path + suffix); err == nil && fi.Mode().Perm() != privateMode {
			_ = os.Chmod(path+suffix, privateMode)
		}
	}
}

func (db *DB) openPostgres(target string) error {
	cfg, err := pgx.ParseConfig(target)
	if err != nil {
		// The parse error may quote the URL, password included: not logged.
		return roman.Errorf(roman.EINVALID, "database URL is not a valid postgres URL")
	}
	// ops first, so the unqualified names of every query resolve to roman's
	// tables; public second, so raw access through SQL() (for example
	// rollback scripts against the same database) still finds its tables.
	cfg.RuntimeParams["search_path"] = Schema + ", public"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "roman"
	}
	// Every session names its replica, so the change notifications of
	// migration 00006 say which replica made a change (see leader.go).
	db.replica = roman.NewUUID()
	cfg.RuntimeParams[replicaSetting] = db.replica
	db.pgcfg = cfg.Copy()
	db.db = stdlib.OpenDB(*cfg)
	db.db.SetMaxOpenConns(pgGeneralConns)
	db.db.SetMaxIdleConns(pgGeneralConns / 2)
	db.db.SetConnMaxIdleTime(5 * time.Minute)
	db.wdb = stdlib.OpenDB(*cfg)
	db.wdb.SetMaxOpenConns(pgDecisionConns)
	db.wdb.SetMaxIdleConns(pgDecisionConns)
	db.wdb.SetConnMaxIdleTime(5 * time.Minute)
	db.ddb = db.wdb
	db.cdb = openCheckPool(cfg, pgCheckConns)
	db.dcdb = openCheckPool(cfg, pgDecisionCheckConns)
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// SQL returns the general connection pool for packages that need raw access
// (for example the application database when it is roman's own). On SQLite
// its transactions begin IMMEDIATE and wait for other writers.
func (db *DB) SQL() *sql.DB { return db.db }

// Rebind returns query, written with `?` placeholders, in the dialect's
// form, for packages that write their own SQL against SQL().
func (db *DB) Rebind(query string) string { return db.q(query) }

// TimeArg returns the value a timestamp column of the dialect stores for t
// (UTC, microseconds; fixed-width text on SQLite), for packages that write
// their own SQL against SQL().
func (db *DB) TimeArg(t time.Time) any { return db.ts(t) }

// ScanTime returns a sql.Scanner that reads a timestamp column of either
// dialect into *t (zero for NULL).
func ScanTime(t *time.Time) sql.Scanner { return scanTime(t) }

// SetClock replaces the clock used for timestamps the caller left zero. It is
// meant for tests and must be called before the DB is shared.
func (db *DB) SetClock(c roman.Clock) { db.now = c }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return internal("ping", err)
	}
	return nil
}

// Close closes the connection pools.
func (db *DB) Close() error {
	if db.stopCheckpoints != nil {
		db.stopCheckpoints()
		db.stopCheckpoints = nil
	}
	var errs []error
	db.stmts.Range(func(_, s any) bool {
		errs = append(errs, s.(*sql.Stmt).Close())
		return true
	})
	if db.db != nil {
		errs = append(errs, db.db.Close())
	}
	if db.wdb != nil && db.wdb != db.db {
		errs = append(errs, db.wdb.Close())
	}
	if db.ddb != nil && db.ddb != db.wdb && db.ddb != db.db {
		errs = append(errs, db.ddb.Close())
	}
	if db.dcdb != nil {
		errs = append(errs, db.dcdb.Close())
	}
	if db.cdb != nil {
		errs = append(errs, db.cdb.Close())
	}
	return errors.Join(errs...)
}

// q returns query with its `?` placeholders rebound for the dialect.
func (db *DB) q(query string) string {
	if db.dialect != DialectPostgres {
		return query
	}
	if v, ok := db.rebound.Load(query); ok {
		return v.(string)
	}
	out := rebind(query)
	db.rebound.Store(query, out)
	return out
}

// rebind replaces each `?` outside quotes by $1, $2, ...
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// write runs fn in a write transaction that commits when fn returns nil.
// Errors are returned as they are, for the caller to classify.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// limit applies the list limits: 0 (or less) means 100, at most 1000.
func limit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// where joins conditions into a WHERE clause ("" when there are none).
func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}
