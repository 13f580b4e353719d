package sqldb

import (
	"context"
	"database/sql"

	"github.com/odyssey-1/roman"
)

// RecordMigrationRollbacks records the outcome of each migration rollback
// script in one transaction: rolled_back_at, rollback_successful and
// error_message (cleared on success). ENOTFOUND, and nothing recorded, when
// an id does not exist.
func (db *DB) RecordMigrationRollbacks(ctx context.Context, outcomes []roman.MigrationRollback) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		for _, o := range outcomes {
			var msg any
			if o.Error != "" {
				msg = o.Error
			}
			res, err := tx.ExecContext(ctx, db.q(`UPDATE migration_history
				SET rolled_back_at = ?, rollback_successful = ?, error_message = ? WHERE id = ?`),
				db.ts(db.orNow(o.At)), o.Successful, msg, o.ID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return roman.Errorf(roman.ENOTFOUND, "migration %d not found", o.ID)
			}
		}
		return nil
	})
	return internal("record migration rollbacks", err)
}
