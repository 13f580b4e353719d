package monitor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// queued returns the alerts the monitor's rows put in the outbox, oldest
// first (the harness routes every alert to one channel).
func (h *harness) queued() []roman.Alert {
	h.t.Helper()
	rows, err := h.st.ListAlerts(ctx, roman.OutboxFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []roman.Alert
	for _, r := range rows {
		out = append(out, r.Alert)
	}
	return out
}

func routeEverything(h *harness) {
	h.st.SetAlertRouter(func(*roman.Alert) []string { return []string{roman.ChannelDiscord} })
}

func TestHealthWarningAlert(t *testing.T) {
	h := newHarness(t)
	routeEverything(h)
	_, bad := h.scenario("production")
	h.clock.Add(time.Minute)
	h.errors(bad, 3, at(h.clock.Now().Add(-5*time.Second)))
	h.tick()
	h.clock.Add(time.Second)
	h.tick() // the same warning again: no second alert
	got := h.queued()
	if len(got) != 1 {
		t.Fatalf("alerts = %+v, want one health warning", got)
	}
	a := got[0]
	if a.Kind != roman.AlertHealthWarning || a.DeploymentID != bad.DeploymentID || a.Version != "v2" || a.Environment != "production" ||
		!strings.Contains(a.Detail, "Elevated error rate: 3 errors/minute") {
		t.Errorf("alert = %+v", a)
	}
}

func TestSuppressedRollbackAlert(t *testing.T) {
	h := newHarness(t)
	routeEverything(h)
	h.settings.Cooldown = 2 * time.Minute
	good, bad := h.scenario("production")
	h.pastRollback(good, roman.TriggerManual, "bug", roman.RollbackSuccess, t0.Add(-time.Minute))
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	var sup []roman.Alert
	for _, a := range h.queued() {
		if a.Kind == roman.AlertRollbackSuppressed {
			sup = append(sup, a)
		}
	}
	if len(sup) != 1 {
		t.Fatalf("suppression alerts = %+v", h.queued())
	}
	a := sup[0]
	if a.Trigger != roman.TriggerAutomatic || a.Reason != "High error rate: 9 errors/minute" || !strings.Contains(a.Detail, "cooldown") ||
		strings.Contains(a.Detail, "(trigger:") || a.DeploymentID != bad.DeploymentID {
		t.Errorf("alert = %+v", a)
	}
}

// TestRejectedAutomaticRollbackAlertsOnce: the rollback service alerts the
// violation; the monitor's manual_intervention_required row adds none.
func TestRejectedAutomaticRollbackAlertsOnce(t *testing.T) {
	h := newHarness(t)
	routeEverything(h)
	h.reject = true
	_, bad := h.scenario("production")
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	if len(h.events(bad, roman.EventManualIntervention)) != 1 {
		t.Fatal("no manual intervention row")
	}
	for _, a := range h.queued() {
		if a.Kind == roman.AlertRollbackFailed || a.Kind == roman.AlertConstitutionalViolation {
			t.Errorf("the monitor duplicated the rejection alert: %+v", a)
		}
	}
}

func TestAlertOnlyAfterWindow(t *testing.T) {
	h := newHarness(t)
	routeEverything(h)
	_, bad := h.scenario("production")
	h.clock.Add(6 * time.Minute) // past the 5-minute window
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	h.wantRollbacks(0, "rolled back after the window")
	var found bool
	for _, a := range h.queued() {
		if a.Kind == roman.AlertHealthWarning && strings.Contains(a.Detail, "alert only") && a.Reason == "High error rate: 9 errors/minute" {
			found = true
		}
	}
	if !found {
		t.Errorf("no alert for a trigger after the window: %+v", h.queued())
	}
}
