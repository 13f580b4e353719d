package roman_test

import (
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// TestEvaluateHealthAlerts: a firing trigger alert that started after the
// release is the reason when no other trigger fired; a pre-existing trigger
// alert and any other alert are warnings; the stability rule does not call
// a release with a firing trigger alert stable at 0 errors/minute.
func TestEvaluateHealthAlerts(t *testing.T) {
	now := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	th := roman.DefaultThresholds()
	trigger := roman.FiringAlert{AlertName: "HighErrorRate", Summary: "Error rate above 5% on checkout-api", Fingerprint: "15620aa453614b8b",
		StartsAt: now.Add(-time.Minute), Rule: roman.AttributedByVersion, Trigger: true}
	other := roman.FiringAlert{AlertName: "DiskFilling", Fingerprint: "d1", StartsAt: now, Rule: roman.AttributedByCurrent}
	before := trigger
	before.PreExisting, before.AlertName = true, "Old"

	h := roman.EvaluateHealth(roman.HealthInputs{Alerts: []roman.FiringAlert{other, trigger}}, th, now)
	if h.Reason != "Alert firing: HighErrorRate: Error rate above 5% on checkout-api" || h.Healthy || h.Status != roman.HealthUnhealthy {
		t.Fatalf("trigger alert: %+v", h)
	}
	if len(h.Warnings) != 1 || h.Warnings[0] != "Alert firing: DiskFilling" || roman.WarningSignal(h.Warnings[0]) != "alert:DiskFilling" {
		t.Fatalf("warnings: %q", h.Warnings)
	}
	if h.Stable(th) {
		t.Fatal("a release with a firing trigger alert is stable at 0 errors/minute")
	}
	if a := h.TriggerAlert(); a == nil || a.Fingerprint != "15620aa453614b8b" || a.Rule != roman.AttributedByVersion {
		t.Fatalf("trigger alert: %+v", a)
	}

	// An error-rate trigger comes first; the alert is still listed.
	h = roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 9, ErrorsLast5Minutes: 9, Alerts: []roman.FiringAlert{trigger}}, th, now)
	if h.Reason != "High error rate: 9 errors/minute" || len(h.Alerts) != 1 || h.TriggerAlert() != nil {
		t.Fatalf("error rate first: %+v", h)
	}

	h = roman.EvaluateHealth(roman.HealthInputs{Alerts: []roman.FiringAlert{before}}, th, now)
	if h.Reason != "" || h.Status != roman.HealthDegraded || len(h.Warnings) != 1 ||
		h.Warnings[0] != "Alert firing since before this release: Old: Error rate above 5% on checkout-api" || roman.WarningSignal(h.Warnings[0]) != "alert:Old" {
		t.Fatalf("pre-existing: %+v", h)
	}
	if !h.Stable(th) {
		t.Fatal("a pre-existing alert made the release unstable")
	}

	if !roman.IsAlertTrigger("X", true, nil) || !roman.IsAlertTrigger("X", false, []string{"Y", "X"}) || roman.IsAlertTrigger("X", false, []string{"x"}) {
		t.Fatal("IsAlertTrigger")
	}
}
