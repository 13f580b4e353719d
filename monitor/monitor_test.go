package monitor_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/monitor"
)

func TestTriggerStartsExactlyOneAutomaticRollback(t *testing.T) {
	h := newHarness(t)
	_, bad := h.scenario("production")
	h.clock.Add(2 * time.Minute)
	h.errors(bad, 9, at(h.clock.Now().Add(-10*time.Second)))
	h.tick()
	reqs := h.requests()
	if len(reqs) != 1 {
		t.Fatalf("want one rollback, got %d: %+v", len(reqs), reqs)
	}
	if r := reqs[0]; r.DeploymentID != bad.DeploymentID || r.TriggerType != roman.TriggerAutomatic || r.TriggerReason != "High error rate: 9 errors/minute" {
		t.Fatalf("request: %+v", r)
	}
	trig := h.events(bad, roman.EventAutoRollbackTriggered)
	if len(trig) != 1 || !strings.Contains(trig[0].Message, "High error rate: 9 errors/minute") {
		t.Fatalf("trigger rows: %+v", trig)
	}
	if m := meta(t, trig[0]); m["deployment_id"] != bad.DeploymentID || m["reason"] != "High error rate: 9 errors/minute" {
		t.Fatalf("trigger metadata: %v", m)
	}
	// More errors, more ticks: never a second rollback of the deployment,
	// nor of the one the environment falls back to.
	for i := 0; i < 3; i++ {
		h.clock.Add(10 * time.Second)
		h.errors(bad, 20, at(h.clock.Now()))
		h.tick()
	}
	h.wantRollbacks(1, "still one rollback")
}

func TestWarningOnlyBelowTheTrigger(t *testing.T) {
	h := newHarness(t)
	_, bad := h.scenario("production")
	h.clock.Add(time.Minute)
	h.errors(bad, 3, at(h.clock.Now().Add(-5*time.Second)))
	h.tick()
	h.wantRollbacks(0, "3 errors/minute rolled back")
	w := h.events(bad, roman.EventHealthWarning)
	if len(w) != 1 || !strings.Contains(w[0].Message, "Elevated error rate: 3 errors/minute") || w[0].Severity != roman.SeverityWarning {
		t.Fatalf("warning rows: %+v", w)
	}
	// The same warning on later ticks is not logged again.
	h.clock.Add(time.Second)
	h.tick()
	if w := h.events(bad, roman.EventHealthWarning); len(w) != 1 {
		t.Fatalf("warning logged %d times", len(w))
	}
}

func TestRecentErrorsTrigger(t *testing.T) {
	h := newHarness(t)
	_, bad := h.scenario("production")
	h.clock.Add(4 * time.Minute)
	now := h.clock.Now()
	// 51 errors over five minutes, only 5 in the last one: the error rate
	// stays at the trigger, the five-minute count crosses it.
	h.errors(bad, 51, func(i int) time.Time {
		if i < 5 {
			return now.Add(-30 * time.Second)
		}
		return now.Add(-time.Duration(70+i*4) * time.Second)
	})
	h.tick()
	reqs := h.requests()
	if len(reqs) != 1 || reqs[0].TriggerReason != "Too many recent errors: 51 in 5 minutes" {
		t.Fatalf("requests: %+v", reqs)
	}
}

func TestCleanWindowMarksHealthCheckPassed(t *testing.T) {
	h := newHarness(t)
	_, bad := h.scenario("production")
	h.clock.Add(4*time.Minute + 59*time.Second)
	h.tick()
	if d, _ := h.st.GetDeployment(ctx, bad.DeploymentID); d.HealthCheckPassed {
		t.Fatal("passed before the window ended")
	}
	h.clock.Add(time.Second)
	h.tick()
	d, err := h.st.GetDeployment(ctx, bad.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if !d.HealthCheckPassed || !strings.Contains(string(d.HealthCheckDetails), `"decided_by":"monitor"`) ||
		!strings.Contains(string(d.HealthCheckDetails), `"status":"healthy"`) {
		t.Fatalf("deployment after the window: passed=%v details=%s", d.HealthCheckPassed, d.HealthCheckDetails)
	}
	if ev := h.events(bad, roman.EventWatchPassed); len(ev) != 1 {
		t.Fatalf("passed rows: %+v", ev)
	}
	// A trigger after the window only alerts.
	h.clock.Add(time.Minute)
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	h.wantRollbacks(0, "rolled back after the window")
	if a := h.events(bad, roman.EventHealthAlert); len(a) != 1 || !strings.Contains(a[0].Message, "after its watch window") {
		t.Fatalf("alert rows: %+v", a)
	}
}

func TestWindowWithATriggerIsNotPassed(t *testing.T) {
	h := newHarness(t)
	h.settings.AutoRollback = monitor.ModeNever
	_, bad := h.scenario("staging")
	h.clock.Add(time.Minute)
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	h.wantRollbacks(0, "auto_rollback never rolled back")
	if a := h.events(bad, roman.EventHealthAlert); len(a) != 1 || !strings.Contains(a[0].Message, "auto_rollback is never") {
		t.Fatalf("alert rows: %+v", a)
	}
	h.clock.Add(5 * time.Minute)
	h.tick()
	if d, _ := h.st.GetDeployment(ctx, bad.DeploymentID); d.HealthCheckPassed {
		t.Fatal("a window with a trigger was marked passed")
	}
}

func TestAlwaysRollsBackAfterTheWindow(t *testing.T) {
	h := newHarness(t)
	h.settings.AutoRollback = monitor.ModeAlways
	_, bad := h.scenario("production")
	h.clock.Add(time.Hour)
	h.tick()
	h.errors(bad, 6, at(h.clock.Now()))
	h.tick()
	if reqs := h.requests(); len(reqs) != 1 || reqs[0].TriggerReason != "High error rate: 6 errors/minute" {
		t.Fatalf("requests: %+v", reqs)
	}
}

func TestUnknownSignalThroughoutIsNotSilentlyPassed(t *testing.T) {
	h := newHarness(t)
	h.sources = []roman.HealthSource{&fakeSource{signals: []string{roman.MetricDatabaseConnectionUtilization}, err: errors.New("connection refused")}}
	_, bad := h.scenario("production")
	for i := 0; i < 6; i++ {
		h.clock.Add(time.Minute)
		h.tick()
	}
	d, _ := h.st.GetDeployment(ctx, bad.DeploymentID)
	if d.HealthCheckPassed {
		t.Fatal("passed with a signal unknown throughout")
	}
	if !strings.Contains(string(d.HealthCheckDetails), `"unverified"`) || !strings.Contains(string(d.HealthCheckDetails), "connection refused") {
		t.Fatalf("details do not say why: %s", d.HealthCheckDetails)
	}
	if ev := h.events(bad, roman.EventWatchUnverified); len(ev) != 1 || !strings.Contains(ev[0].Message, "database_connection_utilization") {
		t.Fatalf("unverified rows: %+v", ev)
	}
	h.wantRollbacks(0, "an unknown signal rolled back")
}

func TestConsecutiveBreaches(t *testing.T) {
	sig := roman.MetricDatabaseConnectionUtilization
	t.Run("flaky sample", func(t *testing.T) {
		h := newHarness(t)
		h.breaches = 3
		h.sources = []roman.HealthSource{&fakeSource{signals: []string{sig},
			values: []map[string]float64{{sig: 95}, {sig: 95}, {sig: 40}, {sig: 95}, {sig: 95}, {sig: 20}}}}
		h.scenario("production")
		for i := 0; i < 6; i++ {
			h.clock.Add(time.Second)
			h.tick()
		}
		h.wantRollbacks(0, "broken streaks rolled back")
	})
	t.Run("sustained", func(t *testing.T) {
		h := newHarness(t)
		h.breaches = 3
		h.sources = []roman.HealthSource{&fakeSource{signals: []string{sig}, values: []map[string]float64{{sig: 95}, {sig: 96}, {sig: 93}}}}
		h.scenario("production")
		for i := 0; i < 2; i++ {
			h.clock.Add(time.Second)
			h.tick()
		}
		if n := len(h.requests()); n != 0 {
			t.Fatalf("rolled back after %d breaches: %d", 2, n)
		}
		h.clock.Add(time.Second)
		h.tick()
		if reqs := h.requests(); len(reqs) != 1 || reqs[0].TriggerReason != "Database connection utilization at 93%" {
			t.Fatalf("requests: %+v", reqs)
		}
	})
}

func TestStormProtection(t *testing.T) {
	t.Run("cooldown", func(t *testing.T) {
		h := newHarness(t)
		h.settings.Cooldown = 2 * time.Minute
		good, bad := h.scenario("production")
		// A manual rollback in the environment a minute ago.
		h.pastRollback(good, roman.TriggerManual, "bug", roman.RollbackSuccess, t0.Add(-time.Minute))
		h.errors(bad, 9, at(h.clock.Now()))
		h.tick()
		h.wantRollbacks(0, "rolled back in the cooldown")
		sup := h.events(bad, roman.EventAutoRollbackSuppressed)
		if len(sup) != 1 || meta(t, sup[0])["suppressed_by"] != monitor.SuppressedCooldown || !strings.Contains(sup[0].Message, "cooldown") {
			t.Fatalf("suppression rows: %+v", sup)
		}
		// Once the cooldown is over, a trigger still inside the window rolls
		// back.
		h.clock.Add(90 * time.Second)
		h.errors(bad, 9, at(h.clock.Now()))
		h.tick()
		h.wantRollbacks(1, "after the cooldown")
	})
	t.Run("deployment created by a rollback", func(t *testing.T) {
		h := newHarness(t)
		h.settings.Cooldown = 0
		good := h.deploy("production", "v1", t0.Add(-time.Hour), true)
		from := good.DeploymentID
		at0 := t0
		d := &roman.Deployment{DeploymentID: roman.NewUUID(), Environment: "production", Version: "v1", GitCommit: "c", GitBranch: "main",
			DeployedAt: t0, Status: roman.StatusSuccess, CompletedAt: &at0, RollbackFrom: &from}
		if err := h.st.CreateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
		h.start()
		h.errors(d, 9, at(h.clock.Now()))
		h.tick()
		h.wantRollbacks(0, "rolled back a rollback's deployment")
		if sup := h.events(d, roman.EventAutoRollbackSuppressed); len(sup) != 1 || meta(t, sup[0])["suppressed_by"] != monitor.SuppressedRollbackDeployment {
			t.Fatalf("suppression rows: %+v", sup)
		}
	})
	t.Run("three in a row", func(t *testing.T) {
		h := newHarness(t)
		h.settings.Cooldown = 0
		good, bad := h.scenario("production")
		for i := 1; i <= 3; i++ {
			h.pastRollback(good, roman.TriggerAutomatic, "x", roman.RollbackSuccess, t0.Add(-time.Duration(i)*time.Hour))
		}
		h.errors(bad, 9, at(h.clock.Now()))
		h.tick()
		h.wantRollbacks(0, "fourth automatic rollback in a row ran")
		sup := h.events(bad, roman.EventAutoRollbackSuppressed)
		if len(sup) != 1 || meta(t, sup[0])["suppressed_by"] != monitor.SuppressedMaxInARow || !strings.Contains(sup[0].Message, "a human must act") {
			t.Fatalf("suppression rows: %+v", sup)
		}
	})
	t.Run("a manual rollback resets the count", func(t *testing.T) {
		h := newHarness(t)
		h.settings.Cooldown = 0
		good, bad := h.scenario("production")
		for i, typ := range []string{roman.TriggerManual, roman.TriggerAutomatic, roman.TriggerAutomatic, roman.TriggerAutomatic} {
			h.pastRollback(good, typ, "x", roman.RollbackSuccess, t0.Add(-time.Duration(i+1)*time.Hour))
		}
		h.errors(bad, 9, at(h.clock.Now()))
		h.tick()
		h.wantRollbacks(1, "after a manual rollback the count restarts")
	})
}

func TestConstitutionRejectionIsNotRetried(t *testing.T) {
	h := newHarness(t)
	h.reject = true
	_, bad := h.scenario("production")
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	for i := 0; i < 3; i++ {
		h.clock.Add(5 * time.Second)
		h.errors(bad, 9, at(h.clock.Now()))
		h.tick()
	}
	h.wantRollbacks(1, "one attempt")
	mi := h.events(bad, roman.EventManualIntervention)
	if len(mi) != 1 || mi[0].Severity != roman.SeverityCritical || !strings.Contains(mi[0].Message, "manual intervention required") {
		t.Fatalf("manual intervention rows: %+v", mi)
	}
}

func TestRestartMidWindowKeepsWatching(t *testing.T) {
	h := newHarness(t)
	_, bad := h.scenario("production")
	h.clock.Add(2 * time.Minute)
	h.tick()
	h.mon.Stop()
	// A new monitor over the same store, as after a restart.
	h.start()
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	h.wantRollbacks(1, "after a restart")
	h.mon.Stop()
	h.start()
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	h.wantRollbacks(1, "a restart forgot the attempt")
}

func TestNewerDeploymentSupersedesTheWatch(t *testing.T) {
	h := newHarness(t)
	_, bad := h.scenario("production")
	h.clock.Add(time.Minute)
	newer := h.deploy("production", "v3", h.clock.Now(), false)
	h.tick()
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	h.wantRollbacks(0, "the superseded deployment was rolled back")
	if ev := h.events(newer, roman.EventWatchStarted); len(ev) != 1 {
		t.Fatalf("watch rows of the newer deployment: %+v", ev)
	}
}

// TestPassedWindowResetsTheCount: three automatic rollbacks in a row stop
// the fourth, unless a deployment passed its watch window since (decided
// by the monitor); one that CI marked passed does not reset the count.
func TestPassedWindowResetsTheCount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		details string
		want    int
	}{
		{"passed by the monitor", `{"decided_by":"monitor","passed":true}`, 1},
		{"passed by CI", `{"smoke_test":"ok"}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.settings.Cooldown = 0
			old := h.deploy("production", "v0", t0.Add(-5*time.Hour), true)
			for i := 4; i >= 2; i-- {
				h.pastRollback(old, roman.TriggerAutomatic, "x", roman.RollbackSuccess, t0.Add(-time.Duration(i)*time.Hour))
			}
			good := h.deploy("production", "v1", t0.Add(-time.Hour), true)
			if _, err := h.st.UpdateDeployment(ctx, good.DeploymentID, roman.DeploymentUpdate{HealthCheckDetails: json.RawMessage(tc.details)}); err != nil {
				t.Fatal(err)
			}
			bad := h.deploy("production", "v2", t0, false)
			h.start()
			h.errors(bad, 9, at(h.clock.Now()))
			h.tick()
			if n := len(h.requests()); n != tc.want {
				t.Fatalf("%d automatic rollbacks, want %d", n, tc.want)
			}
			if tc.want == 0 {
				if sup := h.events(bad, roman.EventAutoRollbackSuppressed); len(sup) != 1 || meta(t, sup[0])["suppressed_by"] != monitor.SuppressedMaxInARow {
					t.Fatalf("suppression rows: %+v", sup)
				}
			}
		})
	}
}

// TestRejectedRollbackStartsNoCooldown: a rollback the constitution
// rejected changed nothing, so it neither starts a cooldown nor counts
// toward the automatic rollbacks in a row.
func TestRejectedRollbackStartsNoCooldown(t *testing.T) {
	h := newHarness(t)
	good, bad := h.scenario("production")
	// Newest first: three automatic ones, then a manual one.
	for i, typ := range []string{roman.TriggerAutomatic, roman.TriggerAutomatic, roman.TriggerAutomatic, roman.TriggerManual} {
		h.pastRollback(good, typ, "x", roman.RollbackAborted, t0.Add(-time.Duration(i+1)*time.Second))
	}
	h.errors(bad, 9, at(h.clock.Now()))
	h.tick()
	if n := len(h.requests()); n != 1 {
		t.Fatalf("rejected rollbacks held back the automatic one: %d rollbacks, suppressed: %+v", n, h.events(bad, roman.EventAutoRollbackSuppressed))
	}
}
