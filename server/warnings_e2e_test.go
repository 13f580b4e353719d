package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestAlertHealthWarningOnceBeforeTheRollback plays the bug report through
// the real server on a fake clock: six errors arrive one by one within a
// minute (1, 2 … 6 errors/minute). Discord gets exactly one health warning,
// "1 error/minute", before the rollback's alerts, and none while the errors
// age out afterwards.
func TestAlertHealthWarningOnceBeforeTheRollback(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, database string) {
		ctx := context.Background()
		ch := newDiscordChannel(t)
		ch.up.Store(true)
		clock := testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
		m := closedAtEnd(t, openServer(t, database, clock.Now, nil, map[string]string{"ROMAN_DISCORD_WEBHOOK_URL": ch.srv.URL + "/api/webhooks/1/token"}))
		base := m.URL()
		if code, out := testkit.Call(t, "POST", base+"/deployments", deployToken, fmt.Sprintf(
			`{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":%q}`,
			clock.Now().Add(-time.Hour).Format(time.RFC3339))); code != 201 {
			t.Fatalf("record good: %d %v", code, out)
		}
		code, out := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main","status":"success"}`)
		if code != 201 {
			t.Fatalf("record bad: %d %v", code, out)
		}
		bad := out["deployment_id"].(string)

		for i := 0; i < 6; i++ {
			clock.Add(10 * time.Second)
			body := fmt.Sprintf(`{"environment":"production","occurred_at":%q,"message":"TypeError: cart is undefined"}`, clock.Now().Format(time.RFC3339Nano))
			if code, out := testkit.Call(t, "POST", base+"/errors", deployToken, body); code != 200 {
				t.Fatalf("error %d: %d %v", i, code, out)
			}
			m.Monitor.Tick(ctx) // evaluated at this time, whatever the worker's timing
		}
		m.Monitor.Wait()
		// On the way down: each error leaves the one-minute window in turn.
		for i := 0; i < 14; i++ {
			clock.Add(10 * time.Second)
			m.Monitor.Tick(ctx)
		}
		m.Monitor.Wait()

		rows, err := m.Store.ListAlerts(ctx, roman.OutboxFilter{DeploymentID: bad})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, r := range rows {
			kinds = append(kinds, r.Kind)
		}
		want := []string{roman.AlertHealthWarning, roman.AlertRollbackTriggered, roman.AlertRollbackCompleted}
		if !slices.Equal(kinds, want) {
			t.Fatalf("alerts of the bad release = %q, want %q", kinds, want)
		}
		if d := rows[0].Alert.Detail; d != "Elevated error rate: 1 error/minute" {
			t.Errorf("warning = %q", d)
		}
		if r := rows[1].Alert.Reason; r != "High error rate: 6 errors/minute" {
			t.Errorf("trigger reason = %q", r)
		}
		waitUntil(t, "three alerts in Discord", 10*time.Second, func() bool { return len(ch.received()) >= 3 })
		got := ch.received()
		if len(got) != 3 || !strings.Contains(got[0].Embeds[0].Title, "HEALTH WARNING") ||
			!strings.Contains(fmt.Sprint(got[0].Embeds[0]), "Elevated error rate: 1 error/minute") ||
			!strings.Contains(got[1].Embeds[0].Title, "ROLLBACK INITIATED") {
			t.Fatalf("Discord got %+v", got)
		}
	})
}
