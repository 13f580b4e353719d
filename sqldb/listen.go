package sqldb

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// IngestChannel is the PostgreSQL notification channel that
// ops.roman_notify_ingest signals after rows are inserted into error_events
// or metric_samples; the payload is "<table>:<deployment_id>,…" (no ids
// when the statement touched more than 100 deployments).
const IngestChannel = "roman_ingest"

// Listen calls fn with the payload of every notification on channel until
// the returned stop is called. It holds one connection of the pool and
// reconnects (after a second, then up to 30) when the connection drops, so
// it may miss notifications in between: a listener must re-read state, not
// rely on every one. On SQLite, which has no notifications, it does
// nothing.
func (db *DB) Listen(channel string, fn func(payload string)) (stop func()) {
	if db.dialect != DialectPostgres {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		backoff := time.Second
		for ctx.Err() == nil {
			err := db.listenOnce(ctx, channel, fn, func() { backoff = time.Second })
			if ctx.Err() != nil {
				return
			}
			db.logger.Warn("listening for database notifications failed; retrying", "channel", channel, "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// listenOnce runs LISTEN on one connection and delivers notifications until
// the connection fails or ctx ends.
func (db *DB) listenOnce(ctx context.Context, channel string, fn func(string), listening func()) error {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if _, err := pc.Exec(ctx, `LISTEN "`+channel+`"`); err != nil {
			return err
		}
		listening()
		defer func() {
			// The connection goes back to the pool: stop listening on it.
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = pc.Exec(uctx, `UNLISTEN "`+channel+`"`)
		}()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return err
			}
			fn(n.Payload)
		}
	})
}
