package sqldb

import (
	"context"
	"time"
)

// sqliteCheckpointEvery is how often the checkpointer copies the SQLite
// WAL into the database file.
const sqliteCheckpointEvery = 100 * time.Millisecond

// startCheckpointer starts the SQLite WAL checkpointer: every
// sqliteCheckpointEvery it runs a PASSIVE checkpoint, which waits for no
// reader or writer, on a connection of the general read pool (when
// readers hold them all, it waits and the WAL grows meanwhile). The writer
// connection's automatic checkpoint is off (openSQLite), so no write ever
// pays for one: left on, SQLite checkpoints
// in the commit of whichever write takes the WAL past 1,000 pages, holding
// the one writer while it copies those pages and syncs the file. A big
// delete (a retention prune) fills the WAL many times a second, and an
// ingest that committed at the wrong moment waited behind the copy; now
// the copy runs beside the writer, and the WAL restarts from its beginning
// at the first write after a checkpoint that copied everything.
func (db *DB) startCheckpointer() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(sqliteCheckpointEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A failure (the database is closing, or busy) is retried at
			// the next tick; SQLite checkpoints again when the last
			// connection closes.
			_, _ = db.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}()
	db.stopCheckpoints = func() {
		cancel()
		<-done
	}
}
