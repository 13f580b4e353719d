package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// Kinds of a rollback that did not happen, recorded as metadata.suppressed_by
// beside the storm protection kinds (storm.go).
const (
	// SuppressedRejected: the constitution rejected the automatic rollback.
	SuppressedRejected = "rejected"
	// SuppressedFailed: the automatic rollback could not run.
	SuppressedFailed = "failed"
)

// breach is one trigger that fired inside a watch window, as its
// watch_breach row records it.
type breach struct {
	At     time.Time    `json:"at"`
	Signal string       `json:"signal"`
	Reason string       `json:"reason"`
	Health roman.Health `json:"health"`
}

// RollbackCommand is the command a human runs to roll d back by hand, as
// alerts and the check response show it.
func RollbackCommand(d *roman.Deployment, reason string) string {
	if reason == "" {
		reason = "manual rollback"
	}
	return fmt.Sprintf("roman rollback %s --reason %q", d.DeploymentID, reason)
}

// signalOf names the trigger behind a reason: the text before its colon
// ("High error rate: 9 errors/minute" → "High error rate").
func signalOf(reason string) string {
	if i := strings.Index(reason, ":"); i >= 0 {
		return reason[:i]
	}
	return reason
}

// worse reports whether reading a is worse than b: a higher error rate,
// then more recent errors, then a higher connection utilisation.
func worse(a, b roman.Health) bool {
	if a.ErrorRatePerMinute != b.ErrorRatePerMinute {
		return a.ErrorRatePerMinute > b.ErrorRatePerMinute
	}
	if a.RecentErrors != b.RecentErrors {
		return a.RecentErrors > b.RecentErrors
	}
	return deref(a.DatabaseConnectionUtilization) > deref(b.DatabaseConnectionUtilization)
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// loadBreaches reads the watch_breach rows of w's deployment, so a watch
// rebuilt after a restart knows its window already breached.
func (m *Monitor) loadBreaches(ctx context.Context, w *watch) error {
	evs, err := m.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventWatchBreach, DeploymentID: w.d.DeploymentID, Limit: 100})
	if err != nil {
		return err
	}
	for i := len(evs) - 1; i >= 0; i-- { // oldest first
		var b breach
		if err := json.Unmarshal(evs[i].Metadata, &b); err != nil {
			continue
		}
		if b.At.IsZero() {
			b.At = evs[i].Timestamp
		}
		w.triggered = true
		w.logged["breach:"+b.Signal] = true
		w.breaches = append(w.breaches, b)
		if w.worst == nil || worse(b.Health, *w.worst) {
			hb := b.Health
			w.worst = &hb
		}
	}
	return nil
}

// recordBreach records a trigger that fired inside w's window at now: the
// first breach of each signal is a watch_breach row, and the deployment's
// health_check_details (health_check_passed false) lists every breach and
// the worst reading so far. Both survive a restart.
func (m *Monitor) recordBreach(ctx context.Context, w *watch, h roman.Health, now time.Time) {
	if w.worst == nil || worse(h, *w.worst) {
		hc := h
		w.worst = &hc
	}
	sig := signalOf(h.Reason)
	key := "breach:" + sig
	if w.logged[key] {
		return
	}
	w.logged[key] = true
	b := breach{At: roman.UTC(now), Signal: sig, Reason: h.Reason, Health: h}
	w.breaches = append(w.breaches, b)
	m.eventAt(ctx, w.d, now, roman.EventWatchBreach, roman.SeverityWarning,
		fmt.Sprintf("Trigger fired inside the watch window of %s in %s: %s; the release will not be marked health_check_passed",
			w.d.Version, w.d.Environment, h.Reason),
		map[string]any{"at": b.At, "signal": sig, "reason": h.Reason, "health": h, "window_ends_at": w.windowEnd.UTC()})
	m.writeVerdict(ctx, w, nil)
}

// replayWindow judges the busiest moments of w's errors inside its window
// before the window may pass, and records a breach for each that fired a
// trigger. The monitor evaluates as errors arrive, but a moment can pass
// unseen: roman was down while the errors came, or they were stored late
// with their own occurred_at. A window passes only when no moment of it
// breached, so its end is never judged on the last reading alone.
func (m *Monitor) replayWindow(ctx context.Context, w *watch) error {
	window := m.Settings(w.d.Environment).WatchWindow
	peaks, err := m.Checker.Peaks(ctx, w.d, w.windowEnd.Add(-window), w.windowEnd)
	if err != nil {
		return err
	}
	for _, h := range peaks {
		if h.Reason != "" {
			w.triggered = true
			m.recordBreach(ctx, w, h, h.Timestamp)
		}
	}
	return nil
}

// writeVerdict stores the not-passed verdict of w in the deployment's
// health_check_details: every breach, the worst reading and, at the
// window's end, the last reading.
func (m *Monitor) writeVerdict(ctx context.Context, w *watch, end *roman.Health) error {
	details := map[string]any{"decided_by": "monitor", "passed": false,
		"window": m.Settings(w.d.Environment).WatchWindow.String(), "window_ends_at": w.windowEnd.UTC(),
		"breaches": w.breaches, "worst": w.worst}
	if end != nil {
		details["health"] = end
	}
	passed := false
	_, err := m.Deployments.Update(ctx, w.d.DeploymentID, roman.DeploymentUpdate{HealthCheckPassed: &passed, HealthCheckDetails: mustJSON(details)})
	if err != nil {
		m.Logger.Error("monitor: recording the window's breaches failed", "deployment_id", w.d.DeploymentID, "err", err)
	}
	return err
}

// failWindow decides a window that ended with a breach: not passed, with
// its breaches in health_check_details and a watch_window_failed row.
func (m *Monitor) failWindow(ctx context.Context, w *watch, end *roman.Health) {
	if err := m.writeVerdict(ctx, w, end); err != nil {
		w.windowDone = false // retried on the next tick
		return
	}
	reasons := make([]string, len(w.breaches))
	for i, b := range w.breaches {
		reasons[i] = b.Reason
	}
	m.event(ctx, w.d, roman.EventWatchFailed, roman.SeverityWarning,
		fmt.Sprintf("Watch window of %s in %s ended after %d breach(es) (%s): not marked health_check_passed",
			w.d.Version, w.d.Environment, len(w.breaches), strings.Join(reasons, "; ")),
		map[string]any{"breaches": w.breaches, "worst": w.worst, "window_ends_at": w.windowEnd.UTC()})
}
