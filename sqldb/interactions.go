package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/odyssey-1/roman"
)

var _ roman.InteractionStore = (*DB)(nil)

// interactionPruneBatch is how many expired interactions a claim deletes.
const interactionPruneBatch = 100

// ClaimInteraction inserts interaction id; a conflict means another claim
// came first, whose answer (or NULL) is returned.
func (db *DB) ClaimInteraction(ctx context.Context, id string, expires, now time.Time) (bool, []byte, error) {
	first := false
	var answer sql.NullString
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM discord_interactions WHERE id IN
			(SELECT id FROM discord_interactions WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`),
			db.ts(now), interactionPruneBatch); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO discord_interactions (id, expires_at) VALUES (?, ?)
			ON CONFLICT (id) DO NOTHING`), id, db.ts(expires))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			first = true
			return nil
		}
		return tx.QueryRowContext(ctx, db.q(`SELECT answer FROM discord_interactions WHERE id = ?`), id).Scan(&answer)
	})
	if errors.Is(err, sql.ErrNoRows) {
		// Deleted between the insert and the read: it had expired.
		return false, nil, roman.Errorf(roman.EUNAVAILABLE, "interaction %s is being forgotten; retry", id)
	}
	if err != nil {
		return false, nil, internal("claim interaction", err)
	}
	if answer.Valid {
		return false, []byte(answer.String), nil
	}
	return first, nil, nil
}

// AnswerInteraction stores the answer of a claimed interaction.
func (db *DB) AnswerInteraction(ctx context.Context, id string, answer []byte) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE discord_interactions SET answer = ? WHERE id = ?`), string(answer), id)
		return err
	})
	if err != nil {
		return internal("answer interaction", err)
	}
	return nil
}
