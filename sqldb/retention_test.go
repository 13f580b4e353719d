package sqldb_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestPrune checks, on both stores, that each prune call deletes at most
// its batch of rows, only rows older than the cutoff (and, for the outbox,
// only settled ones), and never touches the audit tables.
func TestPrune(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		db.SetAlertRouter(func(*roman.Alert) []string { return []string{roman.ChannelSlack} })
		d := newDeployment("production", "v1", t0, roman.StatusSuccess)
		mustCreate(t, db, d)
		cutoff := t0.Add(30 * 24 * time.Hour)
		var evs []roman.ErrorEvent
		var ss []roman.MetricSample
		// 7 rows before the cutoff, 3 at or after it.
		for i := range 10 {
			at := cutoff.Add(time.Duration(i-7) * time.Minute)
			evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: "production", OccurredAt: at,
				Message: fmt.Sprintf("boom %d", i), Severity: "error"})
			ss = append(ss, roman.MetricSample{DeploymentID: d.DeploymentID, Environment: "production", Name: "latency_ms",
				Value: float64(i), At: at})
		}
		if err := db.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertMetricSamples(ctx, ss); err != nil {
			t.Fatal(err)
		}
		// Outbox: one delivered and one given up before the cutoff, one
		// delivered after it, one pending from long ago.
		var ids []int64
		for range 4 {
			addAlert(t, db, roman.AlertRollbackTriggered, roman.NewUUID(), t0)
		}
		rows, err := db.ListAlerts(ctx, roman.OutboxFilter{})
		if err != nil || len(rows) != 4 {
			t.Fatalf("ListAlerts = %d rows, %v", len(rows), err)
		}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if err := db.AlertDelivered(ctx, ids[0], cutoff.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.GiveUpAlert(ctx, ids[1], cutoff.Add(-time.Hour), "gone", &roman.RomanEvent{EventType: "alert_undeliverable",
			Severity: roman.SeverityError, Message: "gave up", Timestamp: cutoff.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := db.AlertDelivered(ctx, ids[2], cutoff.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		auditBefore := countRows(t, db)

		// Batches of 3: 3, 3, 1, then nothing.
		for _, want := range []int64{3, 3, 1, 0} {
			if n, err := db.PruneErrorEvents(ctx, cutoff, 3); err != nil || n != want {
				t.Fatalf("PruneErrorEvents = %d, %v; want %d", n, err, want)
			}
		}
		for _, want := range []int64{5, 2, 0} {
			if n, err := db.PruneMetricSamples(ctx, cutoff, 5); err != nil || n != want {
				t.Fatalf("PruneMetricSamples = %d, %v; want %d", n, err, want)
			}
		}
		for _, want := range []int64{1, 1, 0} {
			if n, err := db.PruneAlerts(ctx, cutoff, 1); err != nil || n != want {
				t.Fatalf("PruneAlerts = %d, %v; want %d", n, err, want)
			}
		}

		// What is left is exactly the recent rows.
		c, err := db.CountErrorsBatch(ctx, []string{d.DeploymentID}, cutoff.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if got := c[d.DeploymentID].Last5Minutes; got != 3 {
			t.Errorf("errors left in the last 5 minutes = %d, want the 3 recent ones", got)
		}
		recent, err := db.RecentMetrics(ctx, d.DeploymentID, t0, cutoff.Add(time.Hour), 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := recent["latency_ms"]; len(got) != 3 || got[2] != 7 {
			t.Errorf("samples left = %v, want [9 8 7]", got)
		}
		rows, err = db.ListAlerts(ctx, roman.OutboxFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var left []int64
		for _, r := range rows {
			left = append(left, r.ID)
		}
		if fmt.Sprint(left) != fmt.Sprint(ids[2:]) {
			t.Errorf("outbox rows left = %v, want %v (delivered after the cutoff, and pending)", left, ids[2:])
		}
		if after := countRows(t, db); fmt.Sprint(after) != fmt.Sprint(auditBefore) {
			t.Errorf("audit tables changed: %v, want %v", after, auditBefore)
		}
	})
}

// countRows returns the row counts of the audit tables.
func countRows(t *testing.T, db *sqldb.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"roman_events", "rollback_events", "deployments", "system_snapshots", "migration_history"} {
		var n int
		if err := db.SQL().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}
