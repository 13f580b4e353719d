package monitor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/monitor"
)

// TestBreachSurvivesARestart: with auto_rollback never, a release that
// breached inside its window is never marked health_check_passed, even when
// the monitor restarts and the reading at the window's end is clean.
func TestBreachSurvivesARestart(t *testing.T) {
	h := newHarness(t)
	h.settings.AutoRollback = monitor.ModeNever
	_, bad := h.scenario("production")
	h.clock.Add(time.Minute)
	h.errors(bad, 10, at(h.clock.Now().Add(-5*time.Second)))
	h.tick()
	if n := len(h.requests()); n != 0 {
		t.Fatalf("auto_rollback never rolled back: %d", n)
	}
	br := h.events(bad, roman.EventWatchBreach)
	if len(br) != 1 || meta(t, br[0])["reason"] != "High error rate: 10 errors/minute" {
		t.Fatalf("breach rows: %+v", br)
	}
	if d, _ := h.st.GetDeployment(ctx, bad.DeploymentID); d.HealthCheckPassed ||
		!strings.Contains(string(d.HealthCheckDetails), "High error rate: 10 errors/minute") {
		t.Fatalf("after the breach: passed=%v details=%s", d.HealthCheckPassed, d.HealthCheckDetails)
	}
	// Restart twice; the errors age out; the window ends with a clean
	// reading.
	for i := 0; i < 2; i++ {
		h.mon.Stop()
		h.clock.Add(time.Minute)
		h.start()
		h.tick()
	}
	h.clock.Set(t0.Add(5*time.Minute + time.Second))
	h.tick()
	d, err := h.st.GetDeployment(ctx, bad.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	det := string(d.HealthCheckDetails)
	if d.HealthCheckPassed || !strings.Contains(det, `"passed":false`) || !strings.Contains(det, "High error rate: 10 errors/minute") ||
		!strings.Contains(det, `"worst":{`) || !strings.Contains(det, `"error_rate_per_minute":10`) {
		t.Fatalf("after the window: passed=%v details=%s", d.HealthCheckPassed, det)
	}
	if ev := h.events(bad, roman.EventWatchPassed); len(ev) != 0 {
		t.Fatalf("passed rows: %+v", ev)
	}
	if ev := h.events(bad, roman.EventWatchFailed); len(ev) != 1 {
		t.Fatalf("failed rows: %+v", ev)
	}
	// One breach row per signal, restarts or not.
	if br := h.events(bad, roman.EventWatchBreach); len(br) != 1 {
		t.Fatalf("breach rows after restarts: %d", len(br))
	}
	// A restart after the window's end decides nothing again.
	h.mon.Stop()
	h.start()
	h.tick()
	if ev := h.events(bad, roman.EventWatchFailed); len(ev) != 1 {
		t.Fatalf("failed rows after a restart: %d", len(ev))
	}
}

// TestBreachAtTheWindowsEnd: a trigger firing at the window's last moment
// fails it too.
func TestBreachAtTheWindowsEnd(t *testing.T) {
	h := newHarness(t)
	h.settings.AutoRollback = monitor.ModeNever
	_, bad := h.scenario("production")
	h.clock.Set(t0.Add(5 * time.Minute))
	h.errors(bad, 9, at(t0.Add(5*time.Minute-time.Second)))
	h.tick()
	d, _ := h.st.GetDeployment(ctx, bad.DeploymentID)
	if d.HealthCheckPassed || !strings.Contains(string(d.HealthCheckDetails), "High error rate: 9 errors/minute") {
		t.Fatalf("passed=%v details=%s", d.HealthCheckPassed, d.HealthCheckDetails)
	}
}

// TestCooldownOnlyForDeploymentsBeforeTheRollback: a deployment recorded
// after a rollback finished is rolled back normally; one recorded before it
// is suppressed for the cooldown, loudly, and is not marked healthy.
func TestCooldownOnlyForDeploymentsBeforeTheRollback(t *testing.T) {
	manual := func(h *harness, d *roman.Deployment, started, finished time.Time) {
		h.t.Helper()
		ev := &roman.RollbackEvent{EventID: roman.NewUUID(), DeploymentID: d.DeploymentID, Environment: d.Environment,
			TriggerType: roman.TriggerManual, TriggerReason: "bug", InitiatedAt: started, Status: roman.RollbackSuccess, CompletedAt: &finished}
		if err := h.st.CreateRollbackEvent(ctx, ev); err != nil {
			h.t.Fatal(err)
		}
	}
	t.Run("recorded after", func(t *testing.T) {
		h := newHarness(t)
		good, bad := h.scenario("production")
		manual(h, good, t0.Add(-2*time.Minute), t0.Add(-time.Minute))
		h.clock.Add(time.Minute)
		h.errors(bad, 9, at(h.clock.Now()))
		h.tick()
		if reqs := h.requests(); len(reqs) != 1 || reqs[0].DeploymentID != bad.DeploymentID {
			t.Fatalf("a deployment after the rollback was not rolled back: %+v", reqs)
		}
		if sup := h.events(bad, roman.EventAutoRollbackSuppressed); len(sup) != 0 {
			t.Fatalf("suppression rows: %+v", sup)
		}
	})
	t.Run("recorded before", func(t *testing.T) {
		h := newHarness(t)
		good, bad := h.scenario("production")
		manual(h, good, t0.Add(-time.Minute), t0.Add(30*time.Second))
		h.clock.Add(time.Minute)
		h.errors(bad, 9, at(h.clock.Now()))
		h.tick()
		if n := len(h.requests()); n != 0 {
			t.Fatalf("rolled back in the cooldown: %d", n)
		}
		sup := h.events(bad, roman.EventAutoRollbackSuppressed)
		if len(sup) != 1 {
			t.Fatalf("suppression rows: %+v", sup)
		}
		m := meta(t, sup[0])
		cmd := `roman rollback ` + bad.DeploymentID + ` --reason "High error rate: 9 errors/minute"`
		if sup[0].Severity != roman.SeverityCritical || m["suppressed_by"] != monitor.SuppressedCooldown ||
			m["suppressed_until"] != "2025-12-15T14:09:00Z" || m["command"] != cmd ||
			!strings.Contains(sup[0].Message, "manual intervention required: "+cmd) {
			t.Fatalf("suppression row: %s %s %v", sup[0].Severity, sup[0].Message, m)
		}
		h.clock.Set(t0.Add(5*time.Minute + time.Second))
		h.tick()
		if d, _ := h.st.GetDeployment(ctx, bad.DeploymentID); d.HealthCheckPassed || !strings.Contains(string(d.HealthCheckDetails), "High error rate") {
			t.Fatalf("suppressed release: passed=%v details=%s", d.HealthCheckPassed, d.HealthCheckDetails)
		}
	})
}

// TestRejectedRollbackIsNotHealthy: a rollback the constitution rejects
// leaves a critical row with the command to run, and the window fails.
func TestRejectedRollbackIsNotHealthy(t *testing.T) {
	h := newHarness(t)
	h.reject = true
	_, bad := h.scenario("production")
	h.clock.Add(time.Minute)
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	mi := h.events(bad, roman.EventManualIntervention)
	if len(mi) != 1 || mi[0].Severity != roman.SeverityCritical || meta(t, mi[0])["suppressed_by"] != monitor.SuppressedRejected ||
		!strings.Contains(mi[0].Message, "roman rollback "+bad.DeploymentID) {
		t.Fatalf("manual intervention rows: %+v", mi)
	}
	h.clock.Set(t0.Add(5*time.Minute + time.Second))
	h.tick()
	if d, _ := h.st.GetDeployment(ctx, bad.DeploymentID); d.HealthCheckPassed {
		t.Fatal("a release whose rollback was rejected passed its window")
	}
}

// TestBreachNoMonitorSaw: errors that breached while no monitor ran (the
// server was down) fail the window when it ends, although every reading the
// monitor takes afterwards is clean; errors that never crossed a line let
// it pass.
func TestBreachNoMonitorSaw(t *testing.T) {
	h := newHarness(t)
	_, bad := h.scenario("production")
	h.mon.Stop()
	// Ten errors at T+1m, stored while no monitor runs (no change is
	// published), then the server comes back at T+3m.
	evs := make([]roman.ErrorEvent, 10)
	for i := range evs {
		evs[i] = roman.ErrorEvent{DeploymentID: bad.DeploymentID, Environment: "production", OccurredAt: t0.Add(time.Minute), Message: "boom", Severity: "error"}
	}
	if err := h.st.InsertErrorEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(t0.Add(3 * time.Minute))
	h.start()
	h.tick()
	h.wantRollbacks(0, "the errors are two minutes old: no reading now fires")
	h.clock.Set(t0.Add(5*time.Minute + time.Second))
	h.tick()
	d, err := h.st.GetDeployment(ctx, bad.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if d.HealthCheckPassed || !strings.Contains(string(d.HealthCheckDetails), "High error rate: 10 errors/minute") {
		t.Fatalf("after the window: passed=%v details=%s", d.HealthCheckPassed, d.HealthCheckDetails)
	}
	br := h.events(bad, roman.EventWatchBreach)
	if len(br) != 1 || meta(t, br[0])["reason"] != "High error rate: 10 errors/minute" {
		t.Fatalf("breach rows: %+v", br)
	}
	if at := meta(t, br[0])["at"]; at != t0.Add(time.Minute).Format(time.RFC3339) {
		t.Errorf("the breach is dated %v, want the moment it happened", at)
	}
	if len(h.events(bad, roman.EventWatchFailed)) != 1 || len(h.events(bad, roman.EventWatchPassed)) != 0 {
		t.Fatal("the window must end failed")
	}
	h.wantRollbacks(0, "a breach found at the window's end is not rolled back after the window")

	// A release whose errors stayed below every trigger passes.
	h2 := newHarness(t)
	_, calm := h2.scenario("production")
	h2.mon.Stop()
	calmEvs := make([]roman.ErrorEvent, 3)
	for i := range calmEvs {
		calmEvs[i] = roman.ErrorEvent{DeploymentID: calm.DeploymentID, Environment: "production", OccurredAt: t0.Add(time.Minute), Message: "boom", Severity: "error"}
	}
	if err := h2.st.InsertErrorEvents(ctx, calmEvs); err != nil {
		t.Fatal(err)
	}
	h2.clock.Set(t0.Add(5*time.Minute + time.Second))
	h2.start()
	h2.tick()
	if d, _ := h2.st.GetDeployment(ctx, calm.DeploymentID); !d.HealthCheckPassed {
		t.Fatalf("three errors in a minute must pass: details=%s", d.HealthCheckDetails)
	}
}
