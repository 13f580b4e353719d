package sqldb_test

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestUndoRollbackMark: a rollback that failed before its target was
// redeployed takes back its rolled_back mark (the bad release's status
// before it, rolled_back_at cleared), twice without harm; the mark is
// undone only from rolled_back, only to a status a rollback could have
// marked, and a plain status change still cannot leave rolled_back.
func TestUndoRollbackMark(t *testing.T) {
	eachDB(t, testUndoRollbackMark)
}

func testUndoRollbackMark(t *testing.T, db *sqldb.DB) {
	d := newDeployment("production", "v2.5.3", t0, roman.StatusSuccess)
	d.HealthCheckPassed = true
	mustCreate(t, db, d)
	rb, at := roman.StatusRolledBack, t0.Add(time.Minute)
	if _, err := db.UpdateDeployment(ctx, d.DeploymentID, roman.DeploymentUpdate{Status: &rb, RolledBackAt: &at}); err != nil {
		t.Fatal(err)
	}
	success := roman.StatusSuccess
	// A plain status change away from rolled_back stays illegal.
	wantCode(t, updateErr(db, d.DeploymentID, roman.DeploymentUpdate{Status: &success}), roman.ECONFLICT)
	// Undoing to rolled_back or pending, or together with a status, is refused.
	for _, u := range []roman.DeploymentUpdate{
		{UndoRollbackTo: &rb},
		{UndoRollbackTo: ptr(roman.StatusPending)},
		{UndoRollbackTo: &success, Status: &success},
		{UndoRollbackTo: &success, RolledBackAt: &at},
	} {
		wantCode(t, updateErr(db, d.DeploymentID, u), roman.EINVALID)
	}
	for i := 0; i < 2; i++ {
		got, err := db.UpdateDeployment(ctx, d.DeploymentID, roman.DeploymentUpdate{UndoRollbackTo: &success})
		if err != nil {
			t.Fatalf("undo %d: %v", i, err)
		}
		if got.Status != roman.StatusSuccess || got.RolledBackAt != nil || !got.HealthCheckPassed {
			t.Fatalf("undo %d returned %+v", i, got)
		}
		got, _ = db.GetDeployment(ctx, d.DeploymentID)
		if got.Status != roman.StatusSuccess || got.RolledBackAt != nil {
			t.Fatalf("undo %d stored %+v", i, got)
		}
	}
	// A deployment that is not rolled_back cannot be "restored" to another status.
	wantCode(t, updateErr(db, d.DeploymentID, roman.DeploymentUpdate{UndoRollbackTo: ptr(roman.StatusFailed)}), roman.ECONFLICT)
	// The restored release can be rolled back again.
	if got, err := db.UpdateDeployment(ctx, d.DeploymentID, roman.DeploymentUpdate{Status: &rb}); err != nil || got.RolledBackAt == nil {
		t.Fatalf("second mark: %+v %v", got, err)
	}
}

func updateErr(db *sqldb.DB, id string, u roman.DeploymentUpdate) error {
	_, err := db.UpdateDeployment(ctx, id, u)
	return err
}

func ptr(s string) *string { return &s }
