package roman_test

import (
	"testing"

	"github.com/odyssey-1/roman"
)

// TestUndoRollbackIsNoCallerTransition: only the rollback machine takes back
// a rolled_back mark; the status machine still refuses every change away
// from rolled_back, and a caller's update that asks for the undo is invalid.
func TestUndoRollbackIsNoCallerTransition(t *testing.T) {
	for _, to := range []string{roman.StatusPending, roman.StatusInProgress, roman.StatusSuccess, roman.StatusFailed} {
		if roman.CanTransition(roman.StatusRolledBack, to) {
			t.Errorf("rolled_back → %s is a transition", to)
		}
	}
	for to, want := range map[string]bool{roman.StatusSuccess: true, roman.StatusFailed: true, roman.StatusInProgress: true,
		roman.StatusPending: false, roman.StatusRolledBack: false} {
		if roman.CanUndoRollback(to) != want {
			t.Errorf("CanUndoRollback(%s) = %v", to, !want)
		}
	}
	s := roman.StatusSuccess
	u := roman.DeploymentUpdate{HealthCheckPassed: new(bool), UndoRollbackTo: &s}
	if err := u.Validate(); roman.ErrorCode(err) != roman.EINVALID {
		t.Fatalf("Validate = %v, want EINVALID", err)
	}
}
