package server

import (
	"context"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/sqldb"
)

// TestDirectInsertsAreGroupedByFingerprint: rows an application inserts
// straight into ops.error_events with only a deployment_id, a time and a
// message (no fingerprint) get roman's own fingerprint on the monitor's
// next tick: GET /deployments/{id}/errors groups them (one group for one
// message shape, new on this release) and they count for new_errors —
// here a trigger that rolls the release back. Both stores; on PostgreSQL
// the insert is the plain SQL an application would run.
func TestDirectInsertsAreGroupedByFingerprint(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		ctx := context.Background()
		m, clock, _, v2, _ := newErrorsScenario(t, database, map[string]string{"ROMAN_NEW_ERRORS_ACTION": "rollback"})
		clock.Add(30 * time.Second)
		at := clock.Now()
		db := m.Store.SQL()
		if m.Store.Dialect() == sqldb.DialectPostgres {
			if _, err := db.Exec(`INSERT INTO ops.error_events (deployment_id, occurred_at, message)
				SELECT $1, $2, 'payment ' || g || ' declined' FROM generate_series(1, 10) g`, v2, at); err != nil {
				t.Fatal(err)
			}
		} else {
			if _, err := db.Exec(`INSERT INTO error_events (deployment_id, occurred_at, message)
				WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 10)
				SELECT ?, ?, 'payment ' || i || ' declined' FROM g`, v2, at.Format("2006-01-02T15:04:05.000000Z")); err != nil {
				t.Fatal(err)
			}
		}
		clock.Add(time.Second)
		m.Monitor.Tick(ctx)
		m.Monitor.Wait()

		fp := roman.Fingerprint("", "payment 1 declined", "")
		gs := errorGroups(t, m, v2, "")
		if len(gs) != 1 || gs[0].Fingerprint != fp || gs[0].Count != 10 || !gs[0].New || gs[0].FirstDeploymentID != v2 {
			t.Fatalf("groups of the inserted rows: %+v, want one new group of 10 with fingerprint %s", gs, fp)
		}
		const reason = "New errors: 10 events of 1 fingerprint not seen before this release"
		h := history(t, m, "production")
		if len(h) != 1 || h[0].TriggerReason != reason || h[0].TriggerType != roman.TriggerAutomatic || h[0].DeploymentID != v2 {
			t.Fatalf("rollbacks = %+v, want one for the new errors", h)
		}
		awaitMonitor(t, "the rollback to finish", func() bool { return history(t, m, "production")[0].Finished() })
	})
}
