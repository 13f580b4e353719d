package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odyssey-1/roman"
)

// Scale-out on PostgreSQL. Each process that opens the store is
// a replica with a random id. Its sessions carry the id as the custom
// setting roman.replica (so change notifications name their origin; see
// listen.go and migration 00006), and a dedicated session, the LockSession,
// holds its session-level advisory locks:
//
//   - presence: the key hashtextextended('roman replica ' || id, 0), held
//     for as long as the session lives. Rollback events record the replica
//     that runs them (metadata.replica); an unfinished event whose replica's
//     presence lock is free belongs to a process that died, and may be
//     claimed and resumed by another (ClaimRollback).
//   - leadership: MonitorLockID, held while this replica leads the monitor.
//
// A session lock is released by PostgreSQL the moment the session ends, so
// a replica that dies (or whose connection does) gives both up without
// help.

// replicaSetting is the custom setting every roman session carries: its
// process's replica id.
const replicaSetting = "roman.replica"

// MonitorLockID is the advisory lock key of the monitor's leadership: the
// ASCII of "romanmon", distinct from the migration lock.
const MonitorLockID int64 = 0x726f6d616e6d6f6e

// presenceKey is the SQL expression of the presence lock key of the replica
// id bound to its placeholder.
const presenceKey = "hashtextextended('roman replica ' || ?, 0)"

// lockSessionSettings bound how long PostgreSQL takes to notice that the
// host of a lock session died without closing its connection (a crash of
// the machine, a network partition): keepalives after 5 s idle, every 2 s,
// 3 missed, and unacknowledged data for 10 s, end the session and free its
// locks. A process that dies closes its connection, which PostgreSQL notices
// at once. The settings do not apply to Unix-socket connections; a server
// that does not know one (tcp_user_timeout before PostgreSQL 12) skips it.
var lockSessionSettings = []string{
	"SET tcp_keepalives_idle = 5",
	"SET tcp_keepalives_interval = 2",
	"SET tcp_keepalives_count = 3",
	"SET tcp_user_timeout = 10000",
}

// ReplicaID returns this process's id among the replicas sharing one
// PostgreSQL ("" on SQLite, which is one process).
func (db *DB) ReplicaID() string { return db.replica }

// LockSession is a replica's dedicated PostgreSQL session for its advisory
// locks: the presence lock from the first use until Close, and the
// monitor's leadership lock between a successful TryLock and Unlock. It is
// not one of the pool's connections, so closing it (or its dying) releases
// exactly its locks. When the session is lost, the next TryLock or Held
// opens a new one and takes the presence lock again. It is safe for
// concurrent use.
type LockSession struct {
	db *DB

	mu      sync.Mutex
	conn    *pgx.Conn
	present bool // the presence lock is held on conn
	leading bool // MonitorLockID is held on conn
	closed  bool
}

// NewLockSession returns the replica's lock session; it connects on first
// use. EINVALID on SQLite.
func (db *DB) NewLockSession() (*LockSession, error) {
	if db.dialect != DialectPostgres {
		return nil, roman.Errorf(roman.EINVALID, "advisory locks need PostgreSQL")
	}
	return &LockSession{db: db}, nil
}

// Connect opens the session and takes the presence lock now, so that
// rollbacks this replica starts are known to be running from the start.
func (l *LockSession) Connect(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ensure(ctx)
}

// ensure connects when there is no session and takes the presence lock when
// it is not held (after a reconnect the old session may still hold it until
// PostgreSQL notices it is gone: then it is retried on the next call).
// Callers hold mu.
func (l *LockSession) ensure(ctx context.Context) error {
	if l.closed {
		return roman.Errorf(roman.EINTERNAL, "lock session closed")
	}
	if l.conn != nil && l.conn.IsClosed() {
		l.drop()
	}
	if l.conn == nil {
		cfg := l.db.pgcfg.Copy()
		if cfg.ConnectTimeout <= 0 {
			cfg.ConnectTimeout = 10 * time.Second
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return internal("open the lock session", err)
		}
		for _, s := range lockSessionSettings {
			if _, err := c.Exec(ctx, s); err != nil && c.IsClosed() {
				return internal("open the lock session", err)
			}
		}
		l.conn = c
	}
	if !l.present {
		var ok bool
		if err := l.conn.QueryRow(ctx, rebind("SELECT pg_try_advisory_lock("+presenceKey+")"), l.db.replica).Scan(&ok); err != nil {
			l.drop()
			return internal("take the presence lock", err)
		}
		if !ok {
			l.db.logger.Warn("presence lock still held by this replica's previous session; retrying", "replica", l.db.replica)
		}
		l.present = ok
	}
	return nil
}

// drop forgets a broken session; closing it frees whatever it still held.
func (l *LockSession) drop() {
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = l.conn.Close(ctx)
		cancel()
	}
	l.conn, l.present, l.leading = nil, false, false
}

// TryLock tries once, without waiting, to take the monitor's leadership,
// and reports whether this replica holds it. An error means the session
// could not be opened or answered; it is retried on the next call.
func (l *LockSession) TryLock(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	// A session found broken is replaced at once, within the same call, so
	// that the presence lock is back before other replicas' grace ends.
	for attempt := 0; attempt < 2; attempt++ {
		if err = l.ensure(ctx); err != nil {
			return false, err
		}
		if l.leading {
			return true, nil
		}
		var ok bool
		if err = l.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", MonitorLockID).Scan(&ok); err == nil {
			l.leading = ok
			return ok, nil
		}
		l.drop()
	}
	return false, internal("try the monitor lock", err)
}

// errNotHeld is Held's answer when the session answers but does not hold
// the lock (it was released by hand, e.g. pg_advisory_unlock_all).
var errNotHeld = errors.New("the monitor lock is no longer held by this session")

// Held checks on the session that it is alive and still holds the
// monitor's leadership. Any error means the leadership is lost: the caller
// must stop acting as leader at once (and may TryLock again later).
func (l *LockSession) Held(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.conn.IsClosed() || !l.leading {
		l.leading = false
		return errNotHeld
	}
	k := uint64(MonitorLockID)
	var n int
	err := l.conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND pid = pg_backend_pid() AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1`,
		int64(k>>32), int64(k&0xffffffff)).Scan(&n)
	if err != nil {
		l.drop()
		// Leadership is lost, but presence is taken again at once (a
		// rollback this replica runs must not look orphaned), on a context
		// of its own: ctx may be the one that just timed out.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = l.ensure(rctx)
		cancel()
		return internal("check the monitor lock", err)
	}
	if n == 0 {
		l.leading = false
		return errNotHeld
	}
	if !l.present {
		// A presence lock lost with an earlier session is taken again.
		_ = l.ensure(ctx)
	}
	return nil
}

// Unlock gives the monitor's leadership up; the presence lock stays. When
// the session cannot answer it is closed, which frees the lock too.
func (l *LockSession) Unlock(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.leading || l.conn == nil {
		l.leading = false
		return
	}
	l.leading = false
	if _, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", MonitorLockID); err != nil {
		l.drop()
	}
}

// Close ends the session, which frees the presence and leadership locks.
// Call it only after this replica's rollbacks finished or parked: from then
// on other replicas may resume them.
func (l *LockSession) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drop()
	l.closed = true
}

// UnfinishedRollback is a pending or in_progress rollback event and what is
// known of the replica running it.
type UnfinishedRollback struct {
	EventID     string
	Environment string
	// Owner is the replica id in the event's metadata ("" when none was
	// recorded).
	Owner string
	// OwnerAlive is true while the owner's presence lock is held.
	OwnerAlive bool
}

// UnfinishedRollbacks lists the unfinished rollback events and whether the
// replica running each is alive. It reads the small partial index of
// unfinished events, so it is cheap to call every second. PostgreSQL only.
func (db *DB) UnfinishedRollbacks(ctx context.Context) ([]UnfinishedRollback, error) {
	if db.dialect != DialectPostgres {
		return nil, roman.Errorf(roman.EINVALID, "replica ownership needs PostgreSQL")
	}
	// A transaction-level try of an owner's presence lock fails while the
	// owner's session holds it; the rollback at the end frees what it took.
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, internal("list unfinished rollbacks", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, db.q(`SELECT event_id::text, environment, owner,
			owner <> '' AND NOT pg_try_advisory_xact_lock(`+replaceArg(presenceKey, "owner")+`)
		FROM (SELECT event_id, environment, coalesce(metadata->>'replica', '') AS owner
			FROM rollback_events WHERE status IN ('pending', 'in_progress')) u`))
	if err != nil {
		return nil, internal("list unfinished rollbacks", err)
	}
	defer rows.Close()
	var out []UnfinishedRollback
	for rows.Next() {
		var u UnfinishedRollback
		if err := rows.Scan(&u.EventID, &u.Environment, &u.Owner, &u.OwnerAlive); err != nil {
			return nil, internal("list unfinished rollbacks", err)
		}
		out = append(out, u)
	}
	return out, internal("list unfinished rollbacks", rows.Err())
}

// Orphans returns the unfinished rollback events whose replica is not
// alive, as event id → the owner recorded on the event ("" when none was);
// see UnfinishedRollbacks. It implements monitor.OrphanStore.
func (db *DB) Orphans(ctx context.Context) (map[string]string, error) {
	list, err := db.UnfinishedRollbacks(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, u := range list {
		if !u.OwnerAlive {
			out[u.EventID] = u.Owner
		}
	}
	return out, nil
}

// ClaimRollback makes this replica the owner of an unfinished rollback event
// whose owner is gone, so that exactly one replica resumes it: the event's
// row is locked, its recorded owner must still be owner (compare and set),
// and that owner's presence lock must be free. It reports whether the claim
// succeeded; false means the event finished, another replica claimed it
// first, or its owner is alive. PostgreSQL only.
func (db *DB) ClaimRollback(ctx context.Context, eventID, owner string) (bool, error) {
	if db.dialect != DialectPostgres {
		return false, roman.Errorf(roman.EINVALID, "replica ownership needs PostgreSQL")
	}
	claimed := false
	err := db.write(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, db.q(`SELECT coalesce(metadata->>'replica', '') FROM rollback_events
			WHERE event_id = ? AND status IN ('pending', 'in_progress') FOR UPDATE`), eventID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil || cur != owner {
			return err
		}
		if cur != "" {
			var free bool
			if err := tx.QueryRowContext(ctx, db.q("SELECT pg_try_advisory_xact_lock("+presenceKey+")"), cur).Scan(&free); err != nil || !free {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE rollback_events SET metadata = jsonb_set(
				CASE WHEN jsonb_typeof(metadata) = 'object' THEN metadata ELSE '{}'::jsonb END,
				'{replica}', to_jsonb(?::text)) WHERE event_id = ?`), db.replica, eventID); err != nil {
			return err
		}
		claimed = true
		return nil
	})
	if err != nil {
		return false, internal("claim rollback", err)
	}
	return claimed, nil
}

// replaceArg returns expr with its placeholder replaced by a column.
func replaceArg(expr, column string) string {
	for i := 0; i < len(expr); i++ {
		if expr[i] == '?' {
			return expr[:i] + column + expr[i+1:]
		}
	}
	return expr
}
