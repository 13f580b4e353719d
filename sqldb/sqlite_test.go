package sqldb_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/odyssey-1/roman"
)

// TestSQLiteSettings checks the connection settings and the storage format
// of timestamps on SQLite.
func TestSQLiteSettings(t *testing.T) {
	db := openSQLite(t)
	var mode string
	var fk, busy int
	raw := db.SQL()
	if err := raw.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := raw.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := raw.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy < 1000 {
		t.Errorf("busy_timeout = %d, %v", busy, err)
	}
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	var stored string
	if err := raw.QueryRowContext(ctx, "SELECT deployed_at FROM deployments").Scan(&stored); err != nil ||
		stored != "2025-06-01T12:00:00.123456Z" {
		t.Errorf("deployed_at stored as %q, %v; want fixed-width UTC text with microseconds", stored, err)
	}
	if got := db.TimeArg(t0); got != stored {
		t.Errorf("TimeArg = %v, want %q", got, stored)
	}
}

// TestSQLiteRawWriters mixes writes made through SQL() (another pool) with
// the store's writes: BEGIN IMMEDIATE and the busy timeout make them wait
// for each other instead of failing with SQLITE_BUSY.
func TestSQLiteRawWriters(t *testing.T) {
	db := openSQLite(t)
	d := newDeployment("production", "v1", t0, roman.StatusSuccess)
	mustCreate(t, db, d)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				if w%2 == 0 {
					tx, err := db.SQL().BeginTx(ctx, nil)
					if err != nil {
						errs <- err
						continue
					}
					_, err = tx.ExecContext(ctx, db.Rebind(`INSERT INTO alert_outbox (kind, payload, created_at, next_attempt_at)
						VALUES (?, ?, ?, ?)`), "test", fmt.Sprintf(`{"i":%d}`, i), db.TimeArg(t0), db.TimeArg(t0))
					if err == nil {
						err = tx.Commit()
					} else {
						tx.Rollback()
					}
					errs <- err
				} else {
					errs <- db.AddRomanEvent(ctx, &roman.RomanEvent{EventType: "test", Severity: roman.SeverityInfo, Message: "m"})
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent writer: %v", err)
		}
	}
}
