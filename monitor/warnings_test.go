package monitor_test

import (
	"slices"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/monitor"
)

// warningAlerts returns the health warning alerts of warning signals (not
// the alert-only triggers) queued so far, oldest first.
func (h *harness) warningAlerts() []roman.Alert {
	var out []roman.Alert
	for _, a := range h.queued() {
		if a.Kind == roman.AlertHealthWarning && roman.WarningSignal(a.Detail) != "" {
			out = append(out, a)
		}
	}
	return out
}

// oneErrorAt stores one error of d at the clock's time and evaluates.
func (h *harness) oneErrorNow(d *roman.Deployment) {
	h.errors(d, 1, at(h.clock.Now()))
	h.tick()
}

// TestSixErrorsOneWarningAlert: six errors arriving one by one within a
// minute enter the warning state once (1 error/minute), move within it
// (2 … 5 errors/minute) and then trigger the rollback: exactly one health
// warning alert, sent before the rollback was decided, and no more as the
// errors age out afterwards.
func TestSixErrorsOneWarningAlert(t *testing.T) {
	h := newHarness(t)
	routeEverything(h)
	_, bad := h.scenario("production")
	for i := 0; i < 6; i++ {
		h.clock.Add(10 * time.Second)
		h.oneErrorNow(bad)
	}
	if n := len(h.requests()); n != 1 {
		t.Fatalf("rollbacks = %d, want 1", n)
	}
	got := h.warningAlerts()
	if len(got) != 1 || got[0].Detail != "Elevated error rate: 1 error/minute" || !got[0].At.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("warning alerts = %+v, want one for 1 error/minute", got)
	}
	trig := h.events(bad, roman.EventAutoRollbackTriggered)
	if len(trig) != 1 || !got[0].At.Before(trig[0].Timestamp) {
		t.Fatalf("the warning alert does not precede the rollback: %+v", trig)
	}
	// The audit trail keeps the state change: one row, as the rate only
	// moved within the warning state.
	if rows := h.events(bad, roman.EventHealthWarning); len(rows) != 1 {
		t.Fatalf("health_warning rows = %d, want 1", len(rows))
	}
	// On the way down (each error leaves the one-minute window in turn).
	for i := 0; i < 14; i++ {
		h.clock.Add(10 * time.Second)
		h.tick()
	}
	if got := h.warningAlerts(); len(got) != 1 {
		t.Fatalf("alerts on the way down: %+v", got)
	}
}

// TestWarningAlertsOnTheWayDownWithoutRollback: with auto_rollback: never
// the bad release stays watched while its errors age out: the rate falls
// through the warning state (5 … 1 errors/minute) without another warning
// alert, since a trigger firing is no leaving of the warning state.
func TestWarningAlertsOnTheWayDownWithoutRollback(t *testing.T) {
	h := newHarness(t)
	routeEverything(h)
	h.settings.AutoRollback = monitor.ModeNever
	_, bad := h.scenario("production")
	for i := 0; i < 6; i++ {
		h.clock.Add(10 * time.Second)
		h.oneErrorNow(bad)
	}
	for i := 0; i < 14; i++ {
		h.clock.Add(10 * time.Second)
		h.tick()
	}
	if got := h.warningAlerts(); len(got) != 1 || got[0].Detail != "Elevated error rate: 1 error/minute" {
		t.Fatalf("warning alerts = %+v, want the first only", got)
	}
	if n := len(h.requests()); n != 0 {
		t.Fatalf("auto_rollback never rolled back (%d)", n)
	}
}

// TestWarningReentryRateLimited: a signal that leaves its warning state and
// enters it again within five minutes writes a row (evidence) without an
// alert; after five minutes it alerts again.
func TestWarningReentryRateLimited(t *testing.T) {
	h := newHarness(t)
	routeEverything(h)
	_, bad := h.scenario("production")
	h.oneErrorNow(bad) // t0: enters, alerts
	h.clock.Add(90 * time.Second)
	h.tick() // the error left the minute: healthy again
	h.clock.Add(90 * time.Second)
	h.oneErrorNow(bad) // t0+3m: enters again, within five minutes
	if got := h.warningAlerts(); len(got) != 1 {
		t.Fatalf("re-entering within five minutes alerted: %+v", got)
	}
	rows := h.events(bad, roman.EventHealthWarning)
	if len(rows) != 2 {
		t.Fatalf("health_warning rows = %d, want 2 (each entry is evidence)", len(rows))
	}
	md := meta(t, rows[0])
	if held, _ := md["alert_held"].(map[string]any); held[roman.SignalErrorRate] != t0.Format(time.RFC3339) || len(md["alerted"].([]any)) != 0 {
		t.Fatalf("the held entry's row: %v", md)
	}
	h.clock.Add(90 * time.Second)
	h.tick() // healthy again
	h.clock.Add(2 * time.Minute)
	h.oneErrorNow(bad) // t0+6m30s: more than five minutes after the alert
	got := h.warningAlerts()
	if len(got) != 2 || !got[1].At.Equal(t0.Add(6*time.Minute+30*time.Second)) {
		t.Fatalf("re-entering after five minutes: %+v", got)
	}
}

// TestWarningRateLimitSurvivesRestart: the rate limit is read back from
// roman_events, so a new monitor (a restart, another leader) does not
// alert again about a warning alerted on two minutes earlier.
func TestWarningRateLimitSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	routeEverything(h)
	_, bad := h.scenario("production")
	h.errors(bad, 2, at(h.clock.Now()))
	h.tick()
	h.mon.Stop()
	h.clock.Add(2 * time.Minute)
	h.start() // the warning is gone from memory; the errors too
	h.oneErrorNow(bad)
	if got := h.warningAlerts(); len(got) != 1 {
		t.Fatalf("a restart re-sent the warning: %+v", got)
	}
	h.mon.Stop()
	h.clock.Add(4 * time.Minute)
	h.start()
	h.oneErrorNow(bad)
	if got := h.warningAlerts(); len(got) != 2 {
		t.Fatalf("after five minutes and a restart: %+v", got)
	}
}

// TestEachSignalAlertsOnItsOwn: a second signal entering its warning state
// alerts about that signal, naming it, while the first stays quiet.
func TestEachSignalAlertsOnItsOwn(t *testing.T) {
	h := newHarness(t)
	routeEverything(h)
	_, bad := h.scenario("production")
	h.oneErrorNow(bad)
	h.clock.Add(5 * time.Second)
	if err := h.st.InsertMetricSamples(ctx, []roman.MetricSample{{DeploymentID: bad.DeploymentID, Environment: "production",
		Name: roman.MetricMemoryUsagePercent, Value: 97, At: h.clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	h.publish(roman.Change{Kind: roman.ChangeMetrics, Environment: "production", DeploymentID: bad.DeploymentID})
	h.tick()
	var details []string
	for _, a := range h.warningAlerts() {
		details = append(details, a.Detail)
	}
	if !slices.Equal(details, []string{"Elevated error rate: 1 error/minute", "Memory usage at 97%"}) {
		t.Fatalf("warning alerts = %q", details)
	}
}
