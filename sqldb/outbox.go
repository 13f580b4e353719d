package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"time"

	"github.com/odyssey-1/roman"
)

// outboxCols is the select list of alert_outbox, in scanOutbox's order.
const outboxCols = `id, channel, kind, coalesce(environment, ''), deployment_id, event_id, order_key,
	payload, attempts, created_at, next_attempt_at, claimed_until, delivered_at, failed_at, coalesce(last_error, '')`

// SetAlertRouter sets the function that picks the outbox channels of an
// alert. AddRomanEvent calls it, inside its transaction, for every event that
// carries an Alert; with no router (or no channel picked) the alert is not
// queued, because no channel is configured to receive it. Call it before the
// DB is shared, like SetClock.
func (db *DB) SetAlertRouter(r roman.AlertRouter) { db.alerts = r }

// insertEvent inserts a roman_events row and, when it carries an alert, one
// alert_outbox row per routed channel, all in tx: an alert exists exactly
// when the decision it reports does. The alert's EventID and At are the
// event's.
func (db *DB) insertEvent(ctx context.Context, tx *sql.Tx, e *roman.RomanEvent) error {
	if err := tx.QueryRowContext(ctx, db.q(insertEventSQL),
		e.EventID, e.EventType, e.Severity, e.Message, jsonArg(e.Metadata), db.ts(e.Timestamp)).Scan(&e.ID); err != nil {
		return err
	}
	if err := db.insertMirrorRows(ctx, tx, e); err != nil { // github.go
		return err
	}
	a := e.Alert
	if a == nil || db.alerts == nil {
		return nil
	}
	a.EventID, a.At = e.EventID, e.Timestamp
	seen := make(map[string]bool)
	for _, ch := range db.alerts(a) {
		if seen[ch] {
			continue
		}
		seen[ch] = true
		if err := db.insertOutboxRow(ctx, tx, e, ch, a); err != nil {
			return err
		}
	}
	return nil
}

// insertEventSQL inserts one roman_events row and returns its id.
const insertEventSQL = `INSERT INTO roman_events (event_id, event_type, severity,
	message, metadata, "timestamp") VALUES (?, ?, ?, ?, ?, ?) RETURNING id`

// eventRowOnly reports whether insertEvent would write e's row alone: no
// integration mirrors events and e's alert (if any) goes to no channel.
// It fills the alert's EventID and At as insertEvent does.
func (db *DB) eventRowOnly(e *roman.RomanEvent) bool {
	if db.mirror != nil {
		return false
	}
	a := e.Alert
	if a == nil || db.alerts == nil {
		return true
	}
	a.EventID, a.At = e.EventID, e.Timestamp
	return len(db.alerts(a)) == 0
}

// insertOutboxRow writes one alert_outbox row of alert a on channel ch for
// event e, in tx, due at once.
func (db *DB) insertOutboxRow(ctx context.Context, tx *sql.Tx, e *roman.RomanEvent, ch string, a *roman.Alert) error {
	payload, err := json.Marshal(a)
	if err != nil {
		return err
	}
	// deployment_id is a uuid column on PostgreSQL; an alert about something
	// that is not a deployment keeps the id in its payload and order key only.
	var dep any
	if roman.ValidUUID(a.DeploymentID) {
		dep = a.DeploymentID
	}
	ts := db.ts(e.Timestamp)
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO alert_outbox (created_at, kind, environment,
		deployment_id, payload, next_attempt_at, channel, event_id, order_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ts, a.Kind, a.Environment, dep, string(payload), ts, ch, e.EventID, roman.AlertOrderKey(a))
	return err
}

// ClaimAlerts claims up to limit deliverable rows until now+lease and counts
// the attempt. A row is deliverable when it is neither delivered nor given
// up, its next attempt is due, no live claim holds it, and no older row of
// its channel and order key is still pending, which keeps each deployment's
// alerts in order on each channel. On the GitHub deployments mirror's
// channel no older row of the same environment may be pending either:
// GitHub takes an environment's newest deployment to be the one created
// last, so the releases of an environment are mirrored in the order roman
// recorded them even when several are queued at once. On PostgreSQL the candidate rows are
// locked with FOR UPDATE SKIP LOCKED, so replicas claiming at the same time
// split the work instead of sending a row twice; on SQLite the one writer
// connection serialises claims.
func (db *DB) ClaimAlerts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*roman.OutboxAlert, error) {
	if limit <= 0 {
		limit = 100
	}
	// Candidates are walked in id order through the partial index of
	// pending rows, so the claim stops at the first deliverable ones
	// instead of sorting every pending row. On SQLite the unary + keeps the
	// planner off the next_attempt_at index (which would sort) without
	// naming an index, so a database without it still works.
	due, lock := "+o.next_attempt_at <= ?", ""
	if db.dialect == DialectPostgres {
		due, lock = "o.next_attempt_at <= ?", " FOR UPDATE SKIP LOCKED"
	}
	n := db.ts(now)
	var out []*roman.OutboxAlert
	// One statement: no transaction around it (one round trip, not three;
	// the sender claims after every rollback step).
	err := func() error {
		rows, err := db.wdb.QueryContext(ctx, db.q(`UPDATE alert_outbox SET claimed_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT o.id FROM alert_outbox AS o
				WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND `+due+`
				AND (o.claimed_until IS NULL OR o.claimed_until <= ?)
				AND NOT EXISTS (SELECT 1 FROM alert_outbox p WHERE p.channel = o.channel
					AND p.order_key = o.order_key AND p.id < o.id
					AND p.delivered_at IS NULL AND p.failed_at IS NULL)
				AND (o.channel <> ? OR NOT EXISTS (SELECT 1 FROM alert_outbox g WHERE g.channel = o.channel
					AND g.environment = o.environment AND g.id < o.id
					AND g.delivered_at IS NULL AND g.failed_at IS NULL))
				ORDER BY o.id LIMIT ?`+lock+`)
			RETURNING `+outboxCols), db.ts(now.Add(lease)), n, n, roman.ChannelGitHub, limit)
		if err != nil {
			return err
		}
		out, err = scanOutbox(rows)
		return err
	}()
	if err != nil {
		return nil, internal("claim alerts", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// AlertDelivered marks a row delivered and releases its claim.
func (db *DB) AlertDelivered(ctx context.Context, id int64, at time.Time) error {
	return db.settleAlert(ctx, "mark alert delivered", id, `UPDATE alert_outbox
		SET delivered_at = ?, claimed_until = NULL, last_error = NULL WHERE id = ?`, db.ts(at), id)
}

// RetryAlert releases a row's claim and schedules its next attempt. A later
// next_attempt_at already on the row (a channel deferral that came in while
// the row was being delivered) is kept.
func (db *DB) RetryAlert(ctx context.Context, id int64, next time.Time, lastError string) error {
	n := db.ts(next)
	return db.settleAlert(ctx, "retry alert", id, `UPDATE alert_outbox
		SET next_attempt_at = CASE WHEN next_attempt_at > ? THEN next_attempt_at ELSE ? END,
		claimed_until = NULL, last_error = ? WHERE id = ?`, n, n, lastError, id)
}

// DeferAlertChannel moves the next attempt of every pending row of channel
// to no earlier than until.
func (db *DB) DeferAlertChannel(ctx context.Context, channel string, until time.Time) error {
	_, err := db.wdb.ExecContext(ctx, db.q(`UPDATE alert_outbox SET next_attempt_at = ?
		WHERE channel = ? AND delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at < ?`),
		db.ts(until), channel, db.ts(until))
	return internal("defer alert channel", err)
}

// GiveUpAlert marks a row given up and inserts e in the same transaction.
func (db *DB) GiveUpAlert(ctx context.Context, id int64, at time.Time, lastError string, e *roman.RomanEvent) error {
	if e.EventID == "" {
		e.EventID = roman.NewUUID()
	}
	e.Timestamp = db.orNow(e.Timestamp)
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE alert_outbox SET failed_at = ?, claimed_until = NULL,
			last_error = ? WHERE id = ?`), db.ts(at), lastError, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return roman.Errorf(roman.ENOTFOUND, "alert %d not found", id)
		}
		return db.insertEvent(ctx, tx, e)
	})
	return internal("give up alert", err)
}

// ListAlerts returns outbox rows oldest first.
func (db *DB) ListAlerts(ctx context.Context, f roman.OutboxFilter) ([]*roman.OutboxAlert, error) {
	var conds []string
	var args []any
	if f.Channel != "" {
		conds, args = append(conds, "channel = ?"), append(args, f.Channel)
	}
	if f.DeploymentID != "" {
		conds, args = append(conds, "order_key = ?"), append(args, f.DeploymentID)
	}
	if f.Pending {
		conds = append(conds, "delivered_at IS NULL AND failed_at IS NULL")
	}
	args = append(args, limit(f.Limit))
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT `+outboxCols+` FROM alert_outbox`+where(conds)+
		` ORDER BY id LIMIT ?`), args...)
	if err != nil {
		return nil, internal("list alerts", err)
	}
	out, err := scanOutbox(rows)
	return out, internal("list alerts", err)
}

// settleAlert runs one UPDATE of a row by id; ENOTFOUND when there is none.
func (db *DB) settleAlert(ctx context.Context, op string, id int64, query string, args ...any) error {
	res, err := db.wdb.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return internal(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal(op, err)
	} else if n == 0 {
		return roman.Errorf(roman.ENOTFOUND, "alert %d not found", id)
	}
	return nil
}

// scanOutbox reads rows of outboxCols and closes them.
func scanOutbox(rows *sql.Rows) ([]*roman.OutboxAlert, error) {
	defer rows.Close()
	out := []*roman.OutboxAlert{}
	for rows.Next() {
		o := &roman.OutboxAlert{}
		var payload json.RawMessage
		if err := rows.Scan(&o.ID, &o.Channel, &o.Kind, &o.Environment, idScan{s: &o.DeploymentID},
			idScan{s: &o.EventID}, &o.OrderKey, jsonScan{&payload}, &o.Attempts, scanTime(&o.CreatedAt),
			scanTime(&o.NextAttemptAt), scanTimePtr(&o.ClaimedUntil), scanTimePtr(&o.DeliveredAt),
			scanTimePtr(&o.FailedAt), &o.LastError); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(payload, &o.Alert); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
