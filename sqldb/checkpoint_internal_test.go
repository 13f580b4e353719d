package sqldb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// TestWritesLeaveCheckpointsToTheCheckpointer checks on SQLite that no
// commit checkpoints the WAL, however far past SQLite's automatic
// threshold (1,000 pages) the writes take it: with the checkpointer
// stopped, the database file does not change; started again, it copies
// the WAL into the file on its own.
func TestWritesLeaveCheckpointsToTheCheckpointer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roman.db")
	db, err := Open(ctx, "sqlite://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := &roman.Deployment{Environment: "production", Version: "v1", Status: roman.StatusSuccess, DeployedAt: time.Now().UTC()}
	if err := db.CreateDeployment(ctx, d); err != nil {
		t.Fatal(err)
	}
	db.stopCheckpoints()
	db.stopCheckpoints = nil
	// Whatever the writes so far left in the WAL goes into the file first.
	if _, err := db.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	msg := strings.Repeat("x", 400)
	for range 10 { // ten commits of about 1.5 MB: some 3,500 pages in all
		evs := make([]roman.ErrorEvent, 3000)
		for i := range evs {
			evs[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, OccurredAt: time.Now().UTC(), Message: msg}
		}
		if err := db.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if got := size(); got != before {
		t.Fatalf("a commit checkpointed: the database file went from %d to %d bytes", before, got)
	}
	db.startCheckpointer()
	deadline := time.Now().Add(10 * time.Second)
	for size() == before {
		if time.Now().After(deadline) {
			t.Fatal("the checkpointer did not copy the WAL into the database file within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
