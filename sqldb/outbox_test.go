package sqldb_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/sqldb"
)

// TestOutbox runs the alert outbox suite on both stores.
func TestOutbox(t *testing.T) { eachSuite(t, runOutboxSuite) }

func runOutboxSuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqldb.DB)
	}{
		{"WrittenWithEvent", testOutboxWrittenWithEvent},
		{"SameTransaction", testOutboxSameTransaction},
		{"OrderPerDeployment", testOutboxOrder},
		{"GitHubOrderPerEnvironment", testOutboxGitHubOrder},
		{"Lease", testOutboxLease},
		{"GiveUp", testOutboxGiveUp},
		{"DeferChannel", testOutboxDeferChannel},
		{"ConcurrentClaims", testOutboxConcurrentClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			db.SetAlertRouter(func(a *roman.Alert) []string {
				if a.Kind == roman.AlertHealthWarning {
					return []string{roman.ChannelSlack}
				}
				return []string{roman.ChannelDiscord, roman.ChannelSlack, roman.ChannelDiscord}
			})
			tc.fn(t, db)
		})
	}
}

// addAlert writes a roman event carrying an alert about dep at `at`.
func addAlert(t *testing.T, db *sqldb.DB, kind, dep string, at time.Time) *roman.RomanEvent {
	t.Helper()
	e := &roman.RomanEvent{EventType: roman.EventRollbackStarted, Severity: roman.SeverityWarning,
		Message: kind + " " + dep, Metadata: []byte(fmt.Sprintf(`{"deployment_id":%q}`, dep)), Timestamp: at,
		Alert: &roman.Alert{Kind: kind, DeploymentID: dep, Version: "v2.5.3", Environment: "production",
			Reason: "High error rate: 8.5 errors/minute", Trigger: roman.TriggerAutomatic,
			TargetVersion: "v2.5.2", TargetCommit: "a7f3b29", Validation: roman.ValidationApproved}}
	if err := db.AddRomanEvent(ctx, e); err != nil {
		t.Fatalf("AddRomanEvent: %v", err)
	}
	return e
}

func claim(t *testing.T, db *sqldb.DB, now time.Time) []*roman.OutboxAlert {
	t.Helper()
	got, err := db.ClaimAlerts(ctx, now, time.Minute, 100)
	if err != nil {
		t.Fatalf("ClaimAlerts: %v", err)
	}
	return got
}

// names renders claimed rows as "channel:message" for comparisons.
func names(rows []*roman.OutboxAlert) string {
	var s []string
	for _, r := range rows {
		s = append(s, r.Channel+":"+r.Alert.Kind+"@"+r.Alert.DeploymentID[:4])
	}
	return strings.Join(s, ",")
}

func testOutboxWrittenWithEvent(t *testing.T, db *sqldb.DB) {
	dep := roman.NewUUID()
	e := addAlert(t, db, roman.AlertRollbackTriggered, dep, t0)
	// An event without an alert queues nothing.
	if err := db.AddRomanEvent(ctx, &roman.RomanEvent{EventType: "x", Severity: roman.SeverityInfo, Message: "m", Timestamp: t0}); err != nil {
		t.Fatal(err)
	}
	rows, err := db.ListAlerts(ctx, roman.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// The router named discord twice: one row per distinct channel.
	if len(rows) != 2 || rows[0].Channel != roman.ChannelDiscord || rows[1].Channel != roman.ChannelSlack {
		t.Fatalf("outbox rows = %+v, want discord and slack", rows)
	}
	r := rows[0]
	if r.EventID != e.EventID || r.Alert.EventID != e.EventID || !r.Alert.At.Equal(roman.UTC(t0)) {
		t.Errorf("row event %s / alert event %s at %s, want %s at %s", r.EventID, r.Alert.EventID, r.Alert.At, e.EventID, roman.UTC(t0))
	}
	if r.DeploymentID != dep || r.OrderKey != dep || r.Kind != roman.AlertRollbackTriggered || r.Environment != "production" {
		t.Errorf("row columns = %+v", r)
	}
	if r.Alert.TargetVersion != "v2.5.2" || r.Alert.TargetCommit != "a7f3b29" || r.Alert.Validation != roman.ValidationApproved {
		t.Errorf("payload did not round-trip: %+v", r.Alert)
	}
	if r.Attempts != 0 || r.DeliveredAt != nil || r.FailedAt != nil || !r.NextAttemptAt.Equal(roman.UTC(t0)) {
		t.Errorf("new row state = %+v", r)
	}
	// Routing by kind: a health warning goes to slack only.
	addAlert(t, db, roman.AlertHealthWarning, dep, t0)
	slack, _ := db.ListAlerts(ctx, roman.OutboxFilter{Channel: roman.ChannelSlack})
	discord, _ := db.ListAlerts(ctx, roman.OutboxFilter{Channel: roman.ChannelDiscord})
	if len(slack) != 2 || len(discord) != 1 {
		t.Errorf("slack %d rows, discord %d rows; want 2 and 1", len(slack), len(discord))
	}
	// With no router an alert is not queued (no channel is configured).
	db.SetAlertRouter(nil)
	addAlert(t, db, roman.AlertRollbackFailed, dep, t0)
	if all, _ := db.ListAlerts(ctx, roman.OutboxFilter{}); len(all) != 3 {
		t.Errorf("%d rows after an alert with no router, want 3", len(all))
	}
}

// testOutboxSameTransaction makes the outbox insert fail and checks that the
// roman_events row it rode on was not written either.
func testOutboxSameTransaction(t *testing.T, db *sqldb.DB) {
	id := roman.NewUUID()
	// A stray outbox row holding (event_id, discord, env:production) makes
	// the alert's insert violate the unique index.
	if _, err := db.SQL().ExecContext(ctx, db.Rebind(`INSERT INTO alert_outbox (kind, payload, channel, event_id, order_key)
		VALUES ('x', '{}', 'discord', ?, 'env:production')`), id); err != nil {
		t.Fatal(err)
	}
	e := &roman.RomanEvent{EventID: id, EventType: roman.EventRollbackFailed, Severity: roman.SeverityCritical,
		Message: "failed", Timestamp: t0, Alert: &roman.Alert{Kind: roman.AlertRollbackFailed, Environment: "production"}}
	if err := db.AddRomanEvent(ctx, e); err == nil {
		t.Fatal("AddRomanEvent succeeded although its alert could not be queued")
	}
	evs, err := db.ListRomanEvents(ctx, roman.RomanEventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 0 {
		t.Errorf("roman_events has %d rows; the event must roll back with its alert", len(evs))
	}
	if rows, _ := db.ListAlerts(ctx, roman.OutboxFilter{Channel: roman.ChannelSlack}); len(rows) != 0 {
		t.Errorf("the slack row of the failed transaction exists: %+v", rows)
	}
}

func testOutboxOrder(t *testing.T, db *sqldb.DB) {
	a, b := "aaaa"+roman.NewUUID()[4:], "bbbb"+roman.NewUUID()[4:]
	addAlert(t, db, roman.AlertRollbackTriggered, a, t0)
	addAlert(t, db, roman.AlertRollbackTriggered, b, t0)
	addAlert(t, db, roman.AlertRollbackCompleted, a, t0.Add(time.Second))
	now := t0.Add(2 * time.Second)

	// Only the first pending row of each (channel, deployment) is claimable.
	got := claim(t, db, now)
	want := "discord:rollback_triggered@aaaa,slack:rollback_triggered@aaaa,discord:rollback_triggered@bbbb,slack:rollback_triggered@bbbb"
	if names(got) != want {
		t.Fatalf("first claim = %s\nwant %s", names(got), want)
	}
	for _, r := range got {
		if r.Attempts != 1 || r.ClaimedUntil == nil || !r.ClaimedUntil.Equal(roman.UTC(now.Add(time.Minute))) {
			t.Errorf("claimed row %d: attempts %d, claimed until %v", r.ID, r.Attempts, r.ClaimedUntil)
		}
	}
	// Claimed rows are not claimed again, and a's second alert waits.
	if again := claim(t, db, now); len(again) != 0 {
		t.Fatalf("second claim = %s, want nothing", names(again))
	}
	// a's first discord alert fails and is retried later: a's second
	// discord alert still waits behind it, slack goes on.
	if err := db.RetryAlert(ctx, got[0].ID, now.Add(time.Hour), "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	for _, r := range got[1:] {
		if err := db.AlertDelivered(ctx, r.ID, now); err != nil {
			t.Fatal(err)
		}
	}
	next := claim(t, db, now)
	if names(next) != "slack:rollback_completed@aaaa" {
		t.Fatalf("after slack delivery claim = %s, want a's completed alert on slack", names(next))
	}
	if err := db.AlertDelivered(ctx, next[0].ID, now); err != nil {
		t.Fatal(err)
	}
	// When the retried row is due it is claimed again, and once delivered
	// the next discord alert of a follows.
	retried := claim(t, db, now.Add(time.Hour))
	if names(retried) != "discord:rollback_triggered@aaaa" || retried[0].Attempts != 2 || retried[0].LastError != "HTTP 500" {
		t.Fatalf("retry claim = %s %+v", names(retried), retried)
	}
	if err := db.AlertDelivered(ctx, retried[0].ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if next := claim(t, db, now.Add(time.Hour)); names(next) != "discord:rollback_completed@aaaa" {
		t.Fatalf("claim after delivery = %s, want a's completed alert on discord", names(next))
	}
	pending, _ := db.ListAlerts(ctx, roman.OutboxFilter{Pending: true, DeploymentID: a})
	if len(pending) != 1 {
		t.Errorf("pending rows of a = %d, want 1 (the claimed completed alert on discord)", len(pending))
	}
	wantCode(t, db.AlertDelivered(ctx, 999999, now), roman.ENOTFOUND)
	wantCode(t, db.RetryAlert(ctx, 999999, now, ""), roman.ENOTFOUND)
}

func testOutboxLease(t *testing.T, db *sqldb.DB) {
	addAlert(t, db, roman.AlertHealthWarning, roman.NewUUID(), t0)
	first := claim(t, db, t0)
	if len(first) != 1 {
		t.Fatalf("claimed %d rows, want 1", len(first))
	}
	// A sender that died holding the claim: nobody gets the row until the
	// lease ends, then the next claimer does.
	if got := claim(t, db, t0.Add(59*time.Second)); len(got) != 0 {
		t.Fatalf("row claimed again inside the lease")
	}
	got := claim(t, db, t0.Add(time.Minute))
	if len(got) != 1 || got[0].ID != first[0].ID || got[0].Attempts != 2 {
		t.Fatalf("after the lease: %+v", got)
	}
}

func testOutboxGiveUp(t *testing.T, db *sqldb.DB) {
	dep := roman.NewUUID()
	addAlert(t, db, roman.AlertRollbackTriggered, dep, t0)
	addAlert(t, db, roman.AlertRollbackCompleted, dep, t0.Add(time.Second))
	got := claim(t, db, t0.Add(time.Second))
	if len(got) != 2 {
		t.Fatalf("claimed %s", names(got))
	}
	later := t0.Add(2 * time.Second) // within the other claims' lease
	ev := &roman.RomanEvent{EventType: roman.EventAlertUndeliverable, Severity: roman.SeverityError,
		Message: "Alert undeliverable", Timestamp: later}
	if err := db.GiveUpAlert(ctx, got[0].ID, later, "gave up after 24h", ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID == 0 {
		t.Error("GiveUpAlert did not write the roman event")
	}
	rows, _ := db.ListAlerts(ctx, roman.OutboxFilter{Channel: roman.ChannelDiscord})
	if rows[0].FailedAt == nil || rows[0].LastError != "gave up after 24h" || rows[0].ClaimedUntil != nil {
		t.Errorf("given-up row = %+v", rows[0])
	}
	// The next alert of the deployment is no longer blocked.
	if next := claim(t, db, later); names(next) != "discord:rollback_completed@"+dep[:4] {
		t.Errorf("claim after give-up = %s", names(next))
	}
	evs, _ := db.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventAlertUndeliverable})
	if len(evs) != 1 {
		t.Errorf("%d alert_undeliverable events, want 1", len(evs))
	}
	wantCode(t, db.GiveUpAlert(ctx, 999999, t0, "x", &roman.RomanEvent{EventType: "x", Severity: "info", Message: "x"}), roman.ENOTFOUND)
}

func testOutboxDeferChannel(t *testing.T, db *sqldb.DB) {
	addAlert(t, db, roman.AlertRollbackTriggered, roman.NewUUID(), t0)
	addAlert(t, db, roman.AlertRollbackTriggered, roman.NewUUID(), t0)
	if err := db.DeferAlertChannel(ctx, roman.ChannelDiscord, t0.Add(65*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := claim(t, db, t0.Add(time.Minute))
	for _, r := range got {
		if r.Channel == roman.ChannelDiscord {
			t.Fatalf("discord row claimed while the channel is deferred: %s", names(got))
		}
	}
	if len(got) != 2 {
		t.Fatalf("claimed %s, want the two slack rows", names(got))
	}
	if got := claim(t, db, t0.Add(65*time.Second)); len(got) != 2 || got[0].Channel != roman.ChannelDiscord {
		t.Fatalf("after the deferral: %s", names(got))
	}
}

// testOutboxConcurrentClaims has many claimers race over many rows: every row
// is claimed exactly once.
func testOutboxConcurrentClaims(t *testing.T, db *sqldb.DB) {
	const deployments = 40
	for i := 0; i < deployments; i++ {
		addAlert(t, db, roman.AlertRollbackTriggered, roman.NewUUID(), t0)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				got, err := db.ClaimAlerts(ctx, t0, time.Minute, 7)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, r := range got {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %d claimed %d times", id, n)
		}
	}
	if len(seen) != 2*deployments {
		t.Errorf("%d rows claimed, want %d", len(seen), 2*deployments)
	}
}

// testOutboxGitHubOrder: on the GitHub mirror's channel the rows of two
// releases of one environment queued together are claimed one release after
// the other, in the order they were queued (GitHub takes the deployment
// created last as the environment's newest); another environment's rows and
// other channels do not wait.
func testOutboxGitHubOrder(t *testing.T, db *sqldb.DB) {
	db.SetAlertRouter(func(a *roman.Alert) []string { return []string{roman.ChannelGitHub, roman.ChannelSlack} })
	good, bad, other := "aaaa"+roman.NewUUID()[4:], "bbbb"+roman.NewUUID()[4:], "cccc"+roman.NewUUID()[4:]
	addAlert(t, db, roman.AlertRollbackTriggered, good, t0)
	addAlert(t, db, roman.AlertRollbackTriggered, bad, t0)
	e := &roman.RomanEvent{EventType: roman.EventRollbackStarted, Severity: roman.SeverityWarning, Message: "staging", Timestamp: t0,
		Alert: &roman.Alert{Kind: roman.AlertRollbackTriggered, DeploymentID: other, Version: "v2.5.3", Environment: "staging"}}
	if err := db.AddRomanEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Second)
	got := claim(t, db, now)
	want := "github:rollback_triggered@aaaa,slack:rollback_triggered@aaaa,slack:rollback_triggered@bbbb,github:rollback_triggered@cccc,slack:rollback_triggered@cccc"
	if names(got) != want {
		t.Fatalf("first claim = %s\nwant %s", names(got), want)
	}
	// The older release's row fails and is retried: the newer one waits.
	if err := db.RetryAlert(ctx, got[0].ID, now.Add(time.Minute), "HTTP 502"); err != nil {
		t.Fatal(err)
	}
	for _, r := range got[1:] {
		if err := db.AlertDelivered(ctx, r.ID, now); err != nil {
			t.Fatal(err)
		}
	}
	if next := claim(t, db, now); len(next) != 0 {
		t.Fatalf("claim behind a retried row = %s, want nothing", names(next))
	}
	retried := claim(t, db, now.Add(time.Minute))
	if names(retried) != "github:rollback_triggered@aaaa" {
		t.Fatalf("retry claim = %s", names(retried))
	}
	if err := db.AlertDelivered(ctx, retried[0].ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if next := claim(t, db, now.Add(time.Minute)); names(next) != "github:rollback_triggered@bbbb" {
		t.Fatalf("claim after the older release's delivery = %s, want the newer release's row", names(next))
	}
}
