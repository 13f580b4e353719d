package server

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testpg"
)

// TestAlertmanagerAcrossReplicas: the webhook reaches the replica that does
// not lead the monitor; the alert's row notifies the leader through
// PostgreSQL (the integration_alerts trigger), which rolls the release back
// at once. The ticker is set to a minute, so only the notification can have
// woken the leader in time.
func TestAlertmanagerAcrossReplicas(t *testing.T) {
	url := testpg.URL(t)
	slow := map[string]string{"ROMAN_MONITOR_INTERVAL": "1m"}
	a := startServer(t, url, amTriggers, slow)
	b := startServer(t, url, amTriggers, slow)
	awaitMonitor(t, "the first replica to lead", func() bool { return leaderGauge(t, a.URL()) == "1" })
	badID := deployCheckout(t, b, "production")
	// The leader watches the new release (it heard of it through the
	// database), so the alert is what it acts on.
	awaitMonitor(t, "the leader to watch the release", func() bool { return len(romanEvents(t, b, badID, roman.EventWatchStarted)) == 1 })
	sent := time.Now()
	code, out := postAM(t, b.URL(), deployToken, amPayload(t, amFiringFile, startingAt(time.Now().Add(time.Millisecond))))
	if code != 200 || out["recorded"] != 1.0 {
		t.Fatalf("webhook: %d %v", code, out)
	}
	rolledBackOnce(t, b, "production", badID, a)
	t.Logf("rolled back %v after the webhook reached the other replica", time.Since(sent).Round(time.Millisecond))
	if ev := history(t, b, "production")[0]; ev.TriggerReason != amReason {
		t.Fatalf("reason: %q", ev.TriggerReason)
	}
}
