package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// lateDecision is how long after its end a window that roman did not see
// end (it was down) is still decided at start.
const lateDecision = time.Hour

// watch is the monitor's state of one watched deployment.
type watch struct {
	d         *roman.Deployment
	windowEnd time.Time
	// windowDone is set once the window's end was decided (or had been
	// before a restart).
	windowDone bool
	// attempted is set once an automatic rollback of the deployment was
	// started (once per deployment), whatever its outcome.
	attempted bool
	// triggered is set when a trigger fired inside the window: the window
	// did not end cleanly. It is also set from the stored watch_breach rows
	// when the watch is rebuilt after a restart.
	triggered bool
	// breaches are the breaches of the window recorded so far (one per
	// signal, oldest first), as their watch_breach rows say.
	breaches []breach
	// worst is the worst reading seen in the window while a trigger fired.
	worst *roman.Health
	// activeUntil: re-evaluate on every tick until then.
	activeUntil time.Time
	// pulled is set when the deployment has pulled sources.
	pulled bool
	// logged remembers the decisions already written, so a condition that
	// persists is one row, not one per second.
	logged map[string]bool
	// warn is the state of the health warnings (warnings.go).
	warn warnState
	// judge is the state of the judges (judge.go).
	judge judgeState
	// arrivedAt is the wall time the batch that marked the deployment for
	// this evaluation arrived (zero for ticker passes): the start of the
	// detection latency of a rollback it triggers.
	arrivedAt time.Time
	// burst is the allowance of evaluations on change notifications
	// (burst.go).
	burst burst
}

// Rebuild reads the newest successful deployment of every environment and
// watches each, as after a restart: a deployment still inside its window is
// watched for the rest of it; whether it was already rolled back
// automatically, or its window already decided, is read from the store.
func (m *Monitor) Rebuild(ctx context.Context) error {
	m.init()
	ds, err := m.Current(ctx)
	if err != nil {
		return err
	}
	m.evalMu.Lock()
	defer m.evalMu.Unlock()
	for _, d := range ds {
		if err := m.watch(ctx, d, true); err != nil {
			return err
		}
	}
	return nil
}

// scope is a (service, environment): the monitor watches one current
// deployment per scope, and storm protection counts per scope.
type scope struct {
	service, env string
}

// scopeOf returns the (service, environment) of d.
func scopeOf(d *roman.Deployment) scope {
	return scope{service: roman.ServiceOrDefault(d.Service), env: d.Environment}
}

// refreshEnv re-reads the current deployment of a (service, environment)
// and watches it if it changed (a newer deployment supersedes an older
// one's watch).
func (m *Monitor) refreshEnv(ctx context.Context, k scope) error {
	d, err := m.Store.CurrentDeployment(ctx, k.service, k.env)
	if err != nil {
		return err
	}
	m.mu.Lock()
	old := m.watches[k]
	m.mu.Unlock()
	switch {
	case d == nil:
		if old != nil {
			m.unwatch(old)
		}
		return nil
	case old != nil && old.d.DeploymentID == d.DeploymentID:
		m.mu.Lock()
		old.d = d
		m.mu.Unlock()
		return nil
	}
	return m.watch(ctx, d, false)
}

func (m *Monitor) unwatch(w *watch) {
	m.mu.Lock()
	delete(m.watches, scopeOf(w.d))
	delete(m.byID, w.d.DeploymentID)
	m.mu.Unlock()
	if m.Sampler != nil && m.Sampler.Pulled != nil {
		m.Sampler.Pulled.Forget(w.d.DeploymentID)
	}
}

// watch starts watching d in its environment, replacing the previous watch.
func (m *Monitor) watch(ctx context.Context, d *roman.Deployment, rebuilding bool) error {
	s := m.Settings(d.Environment)
	start := d.DeployedAt
	if d.CompletedAt != nil {
		start = *d.CompletedAt
	}
	now := m.Clock()
	w := &watch{d: d, windowEnd: start.Add(s.WatchWindow), logged: map[string]bool{}, activeUntil: now.Add(activeFor)}
	// An automatic rollback of d already attempted (before a restart)
	// counts: once per deployment.
	evs, err := m.Store.ListRollbackEvents(ctx, roman.RollbackFilter{DeploymentID: d.DeploymentID, Limit: 10})
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.TriggerType == roman.TriggerAutomatic {
			w.attempted, w.triggered = true, true
		}
	}
	// Breaches stored before a restart: the window did not pass, whatever
	// the reading is now.
	if err := m.loadBreaches(ctx, w); err != nil {
		return err
	}
	// Extensions of a window that ended inconclusive, written before a
	// restart: the window ends where the last one put it.
	if err := m.loadExtensions(ctx, w); err != nil { // judge.go
		return err
	}
	if !now.Before(w.windowEnd) {
		// The window ended; decide it now unless that was done before.
		decided, err := m.decided(ctx, d.DeploymentID)
		if err != nil {
			return err
		}
		// Only a window that ended while roman was down (within the last
		// hour) is decided late; an older one is history.
		w.windowDone = decided || !rebuilding || now.Sub(w.windowEnd) > lateDecision
	}
	m.mu.Lock()
	if old := m.watches[scopeOf(d)]; old != nil {
		delete(m.byID, old.d.DeploymentID)
		if m.Sampler != nil && m.Sampler.Pulled != nil {
			m.Sampler.Pulled.Forget(old.d.DeploymentID)
		}
	}
	m.watches[scopeOf(d)], m.byID[d.DeploymentID] = w, w
	m.dirty[d.DeploymentID] = true
	m.mu.Unlock()
	if now.Before(w.windowEnd) && !rebuilding {
		m.event(ctx, d, roman.EventWatchStarted, roman.SeverityInfo,
			fmt.Sprintf("Watching %s in %s until %s (auto_rollback: %s)", d.Version, d.Environment, w.windowEnd.UTC().Format(time.RFC3339), s.AutoRollback),
			map[string]any{"window_ends_at": w.windowEnd.UTC(), "auto_rollback": s.AutoRollback})
	}
	return nil
}

// decided reports whether the window of a deployment has a passed or
// unverified row already.
func (m *Monitor) decided(ctx context.Context, deploymentID string) (bool, error) {
	for _, typ := range []string{roman.EventWatchPassed, roman.EventWatchUnverified, roman.EventWatchFailed} {
		evs, err := m.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: typ, DeploymentID: deploymentID, Limit: 1})
		if err != nil {
			return false, err
		}
		if len(evs) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// act acts on the health h of a watched deployment at time now, as
// evaluateAll (batch.go) computed it; err is the error of computing it.
func (m *Monitor) act(ctx context.Context, w *watch, h roman.Health, err error, now time.Time) {
	if err != nil {
		m.Logger.Error("monitor: health check failed", "deployment_id", w.d.DeploymentID, "err", err)
		return
	}
	if s, ok := m.judgeSettings(w); ok {
		h = m.judge(ctx, w, s, h, now) // judge.go
	}
	inWindow := now.Before(w.windowEnd)
	if h.Reason != "" {
		if inWindow {
			w.triggered = true
			m.recordBreach(ctx, w, h, now) // verdict.go
		}
		m.onTrigger(ctx, w, h, inWindow, now)
	}
	m.flushVerdict(ctx, w) // judge.go
	m.warn(ctx, w, h, now) // warnings.go
}

// onTrigger decides what a firing trigger does: roll back, alert only, or
// nothing (already done).
func (m *Monitor) onTrigger(ctx context.Context, w *watch, h roman.Health, inWindow bool, now time.Time) {
	if w.attempted || w.d.Status != roman.StatusSuccess {
		return
	}
	s := m.Settings(w.d.Environment)
	meta := map[string]any{"reason": h.Reason, "health": h, "auto_rollback": s.AutoRollback, "why": m.whyOf(w, h)}
	if j := w.judge.last; j != nil {
		meta["judgement"] = *j
	}
	if a := h.TriggerAlert(); a != nil {
		// The evidence of an alert trigger: which alert, since when, and
		// how it was tied to this release.
		meta["alert"] = a
	}
	if s.AutoRollback == ModeNever || (s.AutoRollback != ModeAlways && !inWindow) {
		why := "after its watch window"
		if s.AutoRollback == ModeNever {
			why = "and auto_rollback is never"
		} else if w.triggered {
			return // fired inside the window earlier: already decided
		}
		m.flushVerdict(ctx, w)
		m.once(ctx, w, "alert:"+h.Reason, roman.EventHealthAlert, roman.SeverityWarning,
			fmt.Sprintf("%s in %s: %s (%s: alert only, no automatic rollback)", w.d.Version, w.d.Environment, h.Reason, why), meta)
		return
	}
	kind, why, until, err := m.storm(ctx, w, s, now)
	if err != nil {
		m.Logger.Error("monitor: storm protection check failed", "deployment_id", w.d.DeploymentID, "err", err)
		return
	}
	if kind != "" {
		m.flushVerdict(ctx, w)
		meta["suppressed_by"], meta["suppressed_reason"] = kind, why
		meta["command"] = RollbackCommand(w.d, h.Reason)
		if until != nil {
			meta["suppressed_until"] = until.UTC()
		}
		if j := w.judge.last; j != nil && !w.logged["suppressed:"+kind] {
			m.recordJudgement(ctx, w, *j, "suppression", now)
		}
		m.once(ctx, w, "suppressed:"+kind, roman.EventAutoRollbackSuppressed, roman.SeverityCritical,
			fmt.Sprintf("Automatic rollback of %s in %s suppressed: %s (trigger: %s); manual intervention required: %s",
				w.d.Version, w.d.Environment, why, h.Reason, meta["command"]), meta)
		return
	}
	if !m.stillLeading(ctx, w) { // leader.go
		return
	}
	w.attempted = true
	var judged *roman.Judgement
	if j := w.judge.last; j != nil {
		jc := *j
		judged = &jc
	}
	m.startRollback(ctx, w.d, h, now, w.arrivedAt, judged, meta)
	// The trigger's judgement row is written once the rollback is under
	// way (the rollback's constitution gets the judgement with the
	// request), so no audit write holds the rollback up; it carries the
	// decision's time.
	if judged != nil {
		m.recordJudgement(ctx, w, *judged, "trigger", now)
	}
}

// startRollback records the trigger decision and runs the rollback in its
// own goroutine, so evaluation (and ingest) never waits for it.
func (m *Monitor) startRollback(ctx context.Context, d *roman.Deployment, h roman.Health, now, arrived time.Time, judged *roman.Judgement, meta map[string]any) {
	m.rollbacks.Add(1)
	// The decision row below and the outcome rows of the goroutine each
	// get their own copy of meta: a map must not be written while read.
	decision := maps.Clone(meta)
	go func() {
		defer m.rollbacks.Done()
		res, err := m.Rollbacks.Execute(ctx, roman.RollbackRequest{
			DeploymentID: d.DeploymentID, TriggerReason: h.Reason, TriggerType: roman.TriggerAutomatic, Caller: "monitor",
			DetectedAt: arrived, Why: whyText(meta), Judgement: judged,
		})
		var rej *roman.RejectedError
		cmd := RollbackCommand(d, h.Reason)
		switch {
		case errors.As(err, &rej):
			why := strings.Join(rej.Validation.Violations, "; ")
			meta["rollback_event_id"], meta["validation"] = rej.EventID, rej.Validation
			meta["suppressed_by"], meta["suppressed_reason"], meta["command"] = SuppressedRejected, "rejected by the constitution: "+why, cmd
			m.event(ctx, d, roman.EventManualIntervention, roman.SeverityCritical,
				fmt.Sprintf("Automatic rollback of %s in %s rejected by the constitution: manual intervention required (%s): %s",
					d.Version, d.Environment, why, cmd), meta)
		case roman.ErrorCode(err) == roman.ECONFLICT:
			meta["suppressed_by"], meta["error"] = "conflict", roman.ErrorMessage(err)
			meta["suppressed_reason"], meta["command"] = roman.ErrorMessage(err), cmd
			m.event(ctx, d, roman.EventAutoRollbackSuppressed, roman.SeverityCritical,
				fmt.Sprintf("Automatic rollback of %s in %s not started: %s; manual intervention required: %s", d.Version, d.Environment, roman.ErrorMessage(err), cmd), meta)
		case err != nil:
			meta["error"] = roman.ErrorMessage(err)
			meta["suppressed_by"], meta["suppressed_reason"], meta["command"] = SuppressedFailed, "could not run: "+roman.ErrorMessage(err), cmd
			m.Logger.Error("monitor: automatic rollback could not run", "deployment_id", d.DeploymentID, "err", err)
			m.event(ctx, d, roman.EventManualIntervention, roman.SeverityCritical,
				fmt.Sprintf("Automatic rollback of %s in %s could not run: manual intervention required (%s): %s",
					d.Version, d.Environment, roman.ErrorMessage(err), cmd), meta)
		case res != nil && !res.Success:
			// The rollback service has written rollback_failed ("manual
			// intervention required") already.
		}
	}()
	// The decision row carries the decision's time, so the audit trail
	// orders it before the rollback's own rows even though it is written
	// beside them.
	m.eventAt(ctx, d, now, roman.EventAutoRollbackTriggered, roman.SeverityWarning,
		fmt.Sprintf("Automatic rollback of %s in %s triggered: %s", d.Version, d.Environment, h.Reason), decision)
}

// endWindow decides a window that is over: clean (health_check_passed),
// unverified (a signal unknown throughout), or not clean (a trigger fired:
// nothing to mark).
func (m *Monitor) endWindow(ctx context.Context, w *watch) {
	w.windowDone = true
	d := w.d
	if d.Status != roman.StatusSuccess {
		return
	}
	h, err := m.Checker.CheckAt(ctx, d, w.windowEnd)
	if err != nil {
		w.windowDone = false // retried on the next tick
		m.Logger.Error("monitor: final health check failed", "deployment_id", d.DeploymentID, "err", err)
		return
	}
	// Under the baseline judge the judge decides what breaches: the
	// absolute error triggers alone are inconclusive, not a breach.
	js, judging := m.judgeSettings(w)
	baseline := judging && js.Judge == roman.JudgeBaseline
	absolute := h // the health before the judge, which the window's end judges
	if baseline {
		h = m.judge(ctx, w, js, h, w.windowEnd) // judge.go
		m.flushVerdict(ctx, w)
	}
	if h.Reason != "" {
		// The window's last moment breached: that is a breach too.
		w.triggered = true
		m.recordBreach(ctx, w, h, w.windowEnd) // verdict.go
	}
	if !w.triggered && !baseline {
		if err := m.replayWindow(ctx, w); err != nil { // verdict.go
			w.windowDone = false // retried on the next tick
			m.Logger.Error("monitor: judging the window's busiest moments failed", "deployment_id", d.DeploymentID, "err", err)
			return
		}
	}
	if w.triggered {
		m.failWindow(ctx, w, &h) // verdict.go
		return
	}
	if m.judgeWindowEnd(ctx, w, absolute) { // judge.go
		return
	}
	window := m.Settings(d.Environment).WatchWindow
	details := map[string]any{"decided_by": "monitor", "window": window.String(),
		"window_ends_at": w.windowEnd.UTC(), "health": h}
	unknown := map[string]string{}
	if m.Sampler != nil && m.Sampler.Pulled != nil {
		unknown = m.Sampler.Pulled.Unmeasured(d.DeploymentID)
	}
	if len(unknown) > 0 {
		details["passed"], details["unverified"] = false, unknown
		if _, err := m.Deployments.Update(ctx, d.DeploymentID, roman.DeploymentUpdate{HealthCheckDetails: mustJSON(details)}); err != nil {
			m.Logger.Error("monitor: recording the window failed", "deployment_id", d.DeploymentID, "err", err)
		}
		m.event(ctx, d, roman.EventWatchUnverified, roman.SeverityWarning,
			fmt.Sprintf("Watch window of %s in %s ended with no trigger, but %s stayed unknown throughout: not marked health_check_passed (%s)",
				d.Version, d.Environment, strings.Join(sortedKeys(unknown), ", "), joinReasons(unknown)),
			map[string]any{"unverified": unknown, "health": h})
		return
	}
	msg := fmt.Sprintf("Watch window of %s in %s ended with no trigger: health check passed", d.Version, d.Environment)
	if d.HealthCheckPassed {
		msg += " (already marked passed)"
	} else {
		passed := true
		details["passed"] = true
		if _, err := m.Deployments.Update(ctx, d.DeploymentID, roman.DeploymentUpdate{HealthCheckPassed: &passed, HealthCheckDetails: mustJSON(details)}); err != nil {
			w.windowDone = false
			m.Logger.Error("monitor: marking health_check_passed failed", "deployment_id", d.DeploymentID, "err", err)
			return
		}
	}
	m.event(ctx, d, roman.EventWatchPassed, roman.SeverityInfo, msg, map[string]any{"health": h, "window": window.String()})
}

// once writes a decision row the first time key is seen for the watch.
func (m *Monitor) once(ctx context.Context, w *watch, key, typ, sev, msg string, meta map[string]any) {
	if w.logged[key] {
		return
	}
	w.logged[key] = true
	m.event(ctx, w.d, typ, sev, msg, meta)
}

func (m *Monitor) event(ctx context.Context, d *roman.Deployment, typ, sev, msg string, meta map[string]any) {
	m.eventAt(ctx, d, m.Clock(), typ, sev, msg, meta)
}

// eventAt writes one roman_events row about d. The audit log must not stop
// the monitor: a failed write is logged.
func (m *Monitor) eventAt(ctx context.Context, d *roman.Deployment, at time.Time, typ, sev, msg string, meta map[string]any) {
	md := make(map[string]any, len(meta)+3)
	for k, v := range meta {
		md[k] = v
	}
	md["deployment_id"], md["environment"], md["version"] = d.DeploymentID, d.Environment, d.Version
	md["service"] = roman.ServiceOrDefault(d.Service)
	alert := alertFor(d, typ, msg, meta) // alerts.go
	reason, _ := meta["reason"].(string)
	if alert != nil || roman.IsNewErrorsText(reason) {
		// An alert lists the release's new errors, and a decision on the
		// new_errors signal names them: the row keeps them as evidence.
		news, err := roman.AlertNewErrors(ctx, m.Fingerprints, d.DeploymentID)
		if err != nil {
			m.Logger.Error("monitor: reading new errors failed", "deployment_id", d.DeploymentID, "err", err)
		}
		if alert != nil {
			alert.NewErrors = news
		}
		if len(news) > 0 {
			md["new_errors"] = news
		}
	}
	e := &roman.RomanEvent{EventID: roman.NewUUID(), EventType: typ, Severity: sev, Message: msg, Metadata: mustJSON(md), Timestamp: roman.UTC(at),
		Alert: alert}
	if err := m.Store.AddRomanEvent(context.WithoutCancel(ctx), e); err != nil {
		m.Logger.Error("monitor: writing roman_events row failed", "event_type", typ, "err", err)
		return
	}
	m.Logger.Info("monitor decision", "event_type", typ, "deployment_id", d.DeploymentID, "message", msg)
	m.Hub.Publish(roman.Change{Kind: roman.ChangeRomanEvent, Service: d.Service, Environment: d.Environment, DeploymentID: d.DeploymentID, EventID: e.EventID})
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with marshalable values
	}
	return b
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func joinReasons(m map[string]string) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + m[k]
	}
	return strings.Join(parts, "; ")
}
