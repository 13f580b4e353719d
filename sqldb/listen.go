package sqldb

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/odyssey-1/roman"
)

// IngestChannel is the PostgreSQL notification channel that
// ops.roman_notify_ingest signals after rows are inserted into error_events
// or metric_samples; the payload is "<table>:<deployment_id>,…@<origin>"
// (no ids when the statement touched more than 100 deployments; origin is
// the writing replica's id, empty for writers other than roman).
const IngestChannel = "roman_ingest"

// ChangeChannel is the PostgreSQL notification channel that
// ops.roman_notify_change signals after a deployment is recorded or
// changed, a rollback event is created or changes, or a roman_events row is
// written; the payload is a JSON object with kind (a roman.Change kind),
// environment, deployment_id, event_id and origin (migration 00006).
const ChangeChannel = "roman_change"

// Listen calls fn with the payload of every notification on channel until
// the returned stop is called. It holds one connection of the pool and
// reconnects (after a second, then up to 30) when the connection drops, so
// it may miss notifications in between: a listener must re-read state, not
// rely on every one. On SQLite, which has no notifications, it does
// nothing.
func (db *DB) Listen(channel string, fn func(payload string)) (stop func()) {
	return db.listen([]string{channel}, func(_, payload string) { fn(payload) }, nil)
}

// Relay publishes on hub, until the returned stop is called, the changes
// that other replicas sharing this PostgreSQL (and writers other than
// roman, such as an application inserting into ops.error_events) make:
// ingested errors and metric samples, deployments, rollback events and
// roman_events rows. Changes this replica made itself are skipped, as its
// services published them already. Each time the listening connection is
// (re)established, which may have missed notifications, it publishes a
// resynchronisation: a ChangeDeployment and a ChangeErrors naming nothing,
// which make the monitor re-read every environment and re-evaluate every
// watch. On SQLite it does nothing.
func (db *DB) Relay(hub *roman.Hub) (stop func()) {
	return db.listen([]string{IngestChannel, ChangeChannel}, func(channel, payload string) {
		for _, c := range db.changesOf(channel, payload) {
			hub.Publish(c)
		}
	}, func() {
		hub.Publish(roman.Change{Kind: roman.ChangeDeployment})
		hub.Publish(roman.Change{Kind: roman.ChangeErrors})
	})
}

// changesOf decodes a notification into the changes it stands for; none
// when this replica made it or it cannot be read.
func (db *DB) changesOf(channel, payload string) []roman.Change {
	switch channel {
	case IngestChannel:
		table, ids, origin := ParseIngestPayload(payload)
		if origin != "" && origin == db.replica {
			return nil
		}
		kind := roman.ChangeErrors
		if table == "metric_samples" {
			kind = roman.ChangeMetrics
		}
		if len(ids) == 0 {
			return []roman.Change{{Kind: kind}}
		}
		out := make([]roman.Change, len(ids))
		for i, id := range ids {
			out[i] = roman.Change{Kind: kind, DeploymentID: id}
		}
		return out
	case ChangeChannel:
		var p struct {
			roman.Change
			Origin string `json:"origin"`
		}
		if err := json.Unmarshal([]byte(payload), &p); err != nil {
			db.logger.Warn("unreadable change notification", "channel", channel, "err", err)
			return nil
		}
		if p.Origin != "" && p.Origin == db.replica {
			return nil
		}
		switch p.Kind {
		case roman.ChangeDeployment, roman.ChangeRollback, roman.ChangeRomanEvent:
			return []roman.Change{p.Change}
		}
	}
	return nil
}

// ParseIngestPayload splits a notification of IngestChannel into the table,
// the deployment ids (none: every deployment may be concerned) and the
// origin replica ("" for writers other than roman, and for payloads
// written before migration 00006).
func ParseIngestPayload(payload string) (table string, ids []string, origin string) {
	table, rest, _ := strings.Cut(payload, ":")
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest, origin = rest[:i], rest[i+1:]
	}
	if rest != "" {
		ids = strings.Split(rest, ",")
	}
	return table, ids, origin
}

// listen runs LISTEN on channels on one connection of the pool, calls fn
// with each notification and connected each time the connection is
// (re)established, until the returned stop is called.
func (db *DB) listen(channels []string, fn func(channel, payload string), connected func()) (stop func()) {
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
			err := db.listenOnce(ctx, channels, fn, func() {
				backoff = time.Second
				if connected != nil {
					connected()
				}
			})
			if ctx.Err() != nil {
				return
			}
			db.logger.Warn("listening for database notifications failed; retrying", "channels", channels, "err", err, "retry_in", backoff)
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
func (db *DB) listenOnce(ctx context.Context, channels []string, fn func(string, string), listening func()) error {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		for _, ch := range channels {
			if _, err := pc.Exec(ctx, `LISTEN "`+ch+`"`); err != nil {
				return err
			}
		}
		listening()
		defer func() {
			// The connection goes back to the pool: stop listening on it.
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = pc.Exec(uctx, `UNLISTEN *`)
		}()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return err
			}
			fn(n.Channel, n.Payload)
		}
	})
}
