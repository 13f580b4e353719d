package sqldb_test

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// BenchmarkAlertOutbox measures the cost alerting adds to a decision and
// the outbox's own round trip: "event" writes a roman_events row alone,
// "event+alert" the same row carrying an alert for two channels (the
// overhead a rollback pays), and "claim+deliver" claims one row and marks
// it delivered (the sender's database work per alert).
func BenchmarkAlertOutbox(b *testing.B) {
	dep := roman.NewUUID()
	newEvent := func(withAlert bool) *roman.RomanEvent {
		e := &roman.RomanEvent{EventType: roman.EventRollbackStarted, Severity: roman.SeverityWarning, Message: "started",
			Metadata: []byte(`{"deployment_id":"` + dep + `"}`), Timestamp: t0}
		if withAlert {
			e.Alert = &roman.Alert{Kind: roman.AlertRollbackTriggered, DeploymentID: roman.NewUUID(), Version: "v2.5.3",
				Environment: "production", Reason: "High error rate: 8.5 errors/minute", Trigger: roman.TriggerAutomatic,
				TargetVersion: "v2.5.2", TargetCommit: "a7f3b29", Validation: roman.ValidationApproved}
		}
		return e
	}
	route := func(db *sqldb.DB) {
		db.SetAlertRouter(func(*roman.Alert) []string { return []string{roman.ChannelDiscord, roman.ChannelSlack} })
	}
	b.Run("event", func(b *testing.B) {
		benchStores(b, func(b *testing.B, db *sqldb.DB) {
			route(db)
			for b.Loop() {
				if err := db.AddRomanEvent(ctx, newEvent(false)); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("event+alert", func(b *testing.B) {
		benchStores(b, func(b *testing.B, db *sqldb.DB) {
			route(db)
			for b.Loop() {
				if err := db.AddRomanEvent(ctx, newEvent(true)); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("claim+deliver", func(b *testing.B) {
		benchStores(b, func(b *testing.B, db *sqldb.DB) {
			route(db)
			for b.Loop() {
				b.StopTimer()
				if err := db.AddRomanEvent(ctx, newEvent(true)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rows, err := db.ClaimAlerts(ctx, t0.Add(time.Second), time.Minute, 1)
				if err != nil || len(rows) != 1 {
					b.Fatalf("claimed %d rows: %v", len(rows), err)
				}
				if err := db.AlertDelivered(ctx, rows[0].ID, t0.Add(time.Second)); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
