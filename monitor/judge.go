package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/odyssey-1/roman"
)

// judgeState is a watch's state of the judges (docs/judge.md).
type judgeState struct {
	// baseline is the replaced release's sample, read once per watch;
	// baselineRead is set once it was.
	baseline     *roman.BaselineSample
	baselineRead bool
	// horizon and window are the test's horizon and first window from
	// the deployment (roman.JudgeInput), fixed when the baseline is read.
	horizon, window time.Duration
	// verdicts holds the last recorded verdict per judge ("baseline",
	// "threshold"; shadow ones prefixed "shadow:").
	verdicts map[string]string
	// tested remembers the error count and exposure at which the
	// sequential test last ran without rejecting: with no new error since,
	// it cannot reject (the e-value only falls between errors).
	testedErrors int64
	tested       bool
	// last is the newest judgement of the acting judge.
	last *roman.Judgement
	// extensions counts the window's extensions for an inconclusive end.
	extensions int
	// input is the judge's input as last read from the store (its counts
	// since deployed_at), at input.Now. stale is set when a batch of the
	// deployment arrived since, or on the monitor's periodic sweep shortly
	// after one (markJudgeStale): until then a pass judges on these counts
	// at its own time instead of reading them again (the counts change
	// only with new errors and request samples; time alone only lowers
	// the e-value).
	input    roman.JudgeInput
	hasInput bool
	stale    bool
	// batchAt is when a batch of the deployment last marked it.
	batchAt time.Time
	// pending is the acting judge's change to fail, not yet written: when
	// the same evaluation starts an automatic rollback, the trigger's row
	// records the change too (one audit write fewer before the rollback
	// starts); otherwise it is written once the evaluation's other
	// decisions are (flushVerdict).
	pending   *roman.Judgement
	pendingAt time.Time
	// pre is the judge's input read by prefetchJudge for the pass at
	// preAt with the settings preSettings, while the pass read the
	// health; preErr its error.
	pre         *roman.JudgeInput
	preAt       time.Time
	preSettings roman.JudgeSettings
	preErr      error
}

// prefetchJudge starts reading, in the background while the pass reads the
// chunk's health, the judge's input of each watch of the chunk that a batch
// marked (the detection path) and that will read it afresh; the returned
// function waits for the reads. judgeInputCached then takes the input read
// for the pass instead of reading it after the health: the same reads at
// the same time, one round trip fewer on the way to a decision. Watches are
// read in turn, in one goroutine, and only one pass reads at a time (the
// watches are not touched by anything else until done returns).
func (m *Monitor) prefetchJudge(ctx context.Context, chunk []*watch, now time.Time) (done func()) {
	var todo []*watch
	for _, w := range chunk {
		if w.arrivedAt.IsZero() {
			continue
		}
		if _, ok := m.judgeSettings(w); !ok {
			continue
		}
		if j := &w.judge; j.hasInput && !j.stale && !now.Before(j.input.Now) {
			continue // judged on the counts it has
		}
		todo = append(todo, w)
	}
	if len(todo) == 0 {
		return func() {}
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for _, w := range todo {
			s, _ := m.judgeSettings(w)
			in, err := m.judgeInput(ctx, w, s, roman.Health{}, now)
			w.judge.pre, w.judge.preAt, w.judge.preSettings, w.judge.preErr = &in, now, s, err
		}
	}()
	return func() { <-ch }
}

// flushVerdict writes the pending verdict-change row of w, if any.
func (m *Monitor) flushVerdict(ctx context.Context, w *watch) {
	if j := w.judge.pending; j != nil {
		w.judge.pending = nil
		m.recordJudgement(ctx, w, *j, "verdict", w.judge.pendingAt)
	}
}

// judgeSweepRefresh is how long after a batch of a deployment the
// monitor's periodic sweep still makes the judge re-read its counts: a
// batch's events may be dated up to a minute ahead (ingest's future skew)
// and enter the counts, which end at now, with time alone.
const judgeSweepRefresh = 2 * time.Minute

// markJudgeStale decides, as a pass marks w, whether the judge re-reads
// its counts: when a batch of w's deployment arrived (batch), a
// notification named no deployment (notified), or the periodic sweep runs
// within judgeSweepRefresh of w's last batch. Callers hold m.mu.
func (m *Monitor) markJudgeStale(w *watch, batch, notified, sweep bool, now time.Time) {
	if batch {
		w.judge.batchAt = now
	}
	if batch || notified || sweep && now.Sub(w.judge.batchAt) < judgeSweepRefresh {
		w.judge.stale = true
	}
}

// judgeInputCached returns the judge's input at now: the counts read
// before when nothing arrived for the deployment since (and now is not
// earlier than they were read), else judgeInput's fresh read.
func (m *Monitor) judgeInputCached(ctx context.Context, w *watch, s roman.JudgeSettings, h roman.Health, now time.Time) (roman.JudgeInput, error) {
	j := &w.judge
	pre, preAt, preSettings, preErr := j.pre, j.preAt, j.preSettings, j.preErr
	j.pre, j.preErr = nil, nil
	if j.hasInput && !j.stale && !now.Before(j.input.Now) {
		in := j.input
		in.Now, in.Health = now, h
		return in, nil
	}
	var in roman.JudgeInput
	var err error
	if pre != nil && preAt.Equal(now) && preSettings == s {
		in, err = *pre, preErr // read for this pass (prefetchJudge)
		in.Health = h
	} else {
		in, err = m.judgeInput(ctx, w, s, h, now)
	}
	if err != nil {
		return in, err
	}
	w.judge.input, w.judge.hasInput, w.judge.stale = in, true, false
	return in, nil
}

// judgeSettings returns the judge settings of w's environment, and whether
// the monitor judges at all (a judge store and settings are configured and
// either the baseline judge acts or shadow mode is on).
func (m *Monitor) judgeSettings(w *watch) (roman.JudgeSettings, bool) {
	if m.Judge == nil || m.JudgeStore == nil {
		return roman.JudgeSettings{}, false
	}
	s := m.Judge(w.d.Environment)
	return s, s.Judge == roman.JudgeBaseline || s.Shadow
}

// judgeInput reads what the judges need at now.
func (m *Monitor) judgeInput(ctx context.Context, w *watch, s roman.JudgeSettings, h roman.Health, now time.Time) (roman.JudgeInput, error) {
	d := w.d
	in := roman.JudgeInput{Now: now, DeployedAt: d.DeployedAt, Health: h}
	if !w.judge.baselineRead {
		b, err := m.readBaseline(ctx, d, s)
		if err != nil {
			return in, err
		}
		w.judge.baseline, w.judge.baselineRead = b, true
		w.judge.horizon, w.judge.window = m.judgeHorizon(d, s)
	}
	in.Baseline = w.judge.baseline
	in.Horizon, in.Window = w.judge.horizon, w.judge.window
	c, err := m.JudgeStore.JudgeCounts(ctx, d.DeploymentID, d.DeployedAt, now)
	if err != nil {
		return in, err
	}
	in.Errors = c.Errors
	if b := in.Baseline; b != nil && b.Requests != nil && c.RequestSamples > 0 {
		r := c.Requests
		in.Requests, in.RequestsUntil = &r, c.RequestsUntil
		if c.RequestsUntil.Before(now) {
			// Errors and requests over the same time.
			upTo, err := m.JudgeStore.JudgeCounts(ctx, d.DeploymentID, d.DeployedAt, c.RequestsUntil)
			if err != nil {
				return in, err
			}
			in.Errors = upTo.Errors
		}
	}
	return in, nil
}

// judgeHorizon returns how long after its deployed_at d can be watched at
// most — its window (from completed_at) plus every extension — and the part
// up to its first window's end; zeros when the window ends before deployed_at.
func (m *Monitor) judgeHorizon(d *roman.Deployment, s roman.JudgeSettings) (horizon, window time.Duration) {
	start := d.DeployedAt
	if d.CompletedAt != nil {
		start = *d.CompletedAt
	}
	window = start.Add(m.Settings(d.Environment).WatchWindow).Sub(d.DeployedAt)
	if window <= 0 {
		return 0, 0
	}
	return window + roman.MaxJudgeExtensions*max(0, s.Extend), window
}

// readBaseline reads the replaced release's errors (and requests) over the
// baseline window before d's deployed_at; nil when there is none.
func (m *Monitor) readBaseline(ctx context.Context, d *roman.Deployment, s roman.JudgeSettings) (*roman.BaselineSample, error) {
	prev, err := m.JudgeStore.PreviousDeployment(ctx, d)
	if err != nil || prev == nil {
		return nil, err
	}
	from := d.DeployedAt.Add(-s.BaselineWindow)
	if prev.DeployedAt.After(from) {
		from = prev.DeployedAt
	}
	if !d.DeployedAt.After(from) {
		return nil, nil
	}
	c, err := m.JudgeStore.JudgeCounts(ctx, prev.DeploymentID, from, d.DeployedAt)
	if err != nil {
		return nil, err
	}
	b := &roman.BaselineSample{DeploymentID: prev.DeploymentID, Version: prev.Version, From: from, To: d.DeployedAt, Errors: c.Errors}
	if c.RequestSamples > 0 {
		r := c.Requests
		b.Requests = &r
	}
	return b, nil
}

// judge runs the judges on w's health h at now, records their verdict
// changes and returns the health the monitor acts on: under the baseline
// judge its reason is the judge's (a regression, or the absolute
// DB-connection trigger), and the absolute error triggers without a
// significant regression alert instead of rolling back. Under the threshold
// judge h is returned as it is.
func (m *Monitor) judge(ctx context.Context, w *watch, s roman.JudgeSettings, h roman.Health, now time.Time) roman.Health {
	in, err := m.judgeInputCached(ctx, w, s, h, now)
	if err != nil {
		m.Logger.Error("monitor: reading the judge's counts failed", "deployment_id", w.d.DeploymentID, "err", err)
		return h
	}
	th := m.thresholds(w.d.Environment)
	// With no new error since the test last ran without rejecting, it
	// cannot reject now; it is skipped (and re-run for the evidence of a
	// verdict change).
	in.SkipTest = w.judge.tested && in.Errors == w.judge.testedErrors
	run := func(kind string, shadow bool) roman.Judgement {
		j := roman.Judge(kind, in, s, th)
		key := kind
		if shadow {
			key = "shadow:" + kind
		}
		if w.judge.verdicts == nil {
			w.judge.verdicts = map[string]string{}
		}
		if w.judge.verdicts[key] != j.Verdict {
			w.judge.verdicts[key] = j.Verdict
			if in.SkipTest {
				full := in
				full.SkipTest = false
				j = roman.Judge(kind, full, s, th)
			}
			j.Shadow = shadow
			if !shadow && j.Verdict == roman.VerdictFail {
				// Written by onTrigger's trigger row, or flushVerdict.
				pj := j
				w.judge.pending, w.judge.pendingAt = &pj, now
			} else {
				m.recordJudgement(ctx, w, j, "verdict", now)
			}
		}
		j.Shadow = shadow
		return j
	}
	primary := run(s.Judge, false)
	if s.Shadow {
		run(s.Other(), true)
	}
	if !in.SkipTest {
		w.judge.tested, w.judge.testedErrors = true, in.Errors
	}
	if primary.Verdict == roman.VerdictFail && primary.Signal == roman.SignalRegression {
		w.judge.tested = false
	}
	w.judge.last = &primary
	if s.Judge != roman.JudgeBaseline {
		return h
	}
	switch primary.Verdict {
	case roman.VerdictFail:
		h.Reason, h.Healthy, h.Status = primary.Reason, false, roman.HealthUnhealthy
	case roman.VerdictInconclusive:
		if h.Reason != "" {
			m.once(ctx, w, "inconclusive:"+primary.Signal, roman.EventHealthAlert, roman.SeverityWarning,
				fmt.Sprintf("%s in %s: %s; judge baseline: inconclusive, no automatic rollback (%s)",
					w.d.Version, w.d.Environment, h.Reason, primary.Why),
				map[string]any{"reason": h.Reason, "why": primary.Why, "judgement": primary, "health": h})
			h.Reason, h.Healthy, h.Status = "", true, roman.HealthDegraded
		}
	default:
		h.Reason = ""
	}
	return h
}

// thresholds returns the trigger limits of env.
func (m *Monitor) thresholds(env string) roman.Thresholds {
	if m.Checker != nil && m.Checker.Thresholds != nil {
		return m.Checker.Thresholds(env)
	}
	return roman.DefaultThresholds()
}

// recordJudgement writes a health_judgement row: why is "verdict", "trigger",
// "suppression" or "window_end". A trigger row that also records the
// verdict's change to fail (the change and the trigger came in one
// evaluation) says so in metadata verdict_changed.
func (m *Monitor) recordJudgement(ctx context.Context, w *watch, j roman.Judgement, why string, now time.Time) {
	mode := "acting"
	if j.Shadow {
		mode = "shadow"
	}
	meta := map[string]any{"judgement": j, "judge": j.Judge, "verdict": j.Verdict, "signal": j.Signal, "shadow": j.Shadow, "record": why}
	if why == "trigger" && w.judge.pending != nil {
		w.judge.pending = nil
		meta["verdict_changed"] = true
	}
	m.eventAt(ctx, w.d, now, roman.EventHealthJudgement, roman.SeverityInfo,
		fmt.Sprintf("Judge %s (%s) on %s in %s: %s (%s). %s", j.Judge, mode, w.d.Version, w.d.Environment, j.Verdict, why, j.Why), meta)
}

// whyOf returns the why line of the trigger behind h: the acting judge's
// when it judged, else the threshold's.
func (m *Monitor) whyOf(w *watch, h roman.Health) string {
	if j := w.judge.last; j != nil && j.Verdict == roman.VerdictFail && j.Reason == h.Reason {
		return j.Why
	}
	return roman.ThresholdWhy(h, m.thresholds(w.d.Environment))
}

// judgeWindowEnd judges a window that ended with no breach under the
// baseline judge. It returns true when the window was extended (decided
// later) or ended inconclusive (decided here: not marked healthy, a human
// must decide); false lets the window pass as before.
func (m *Monitor) judgeWindowEnd(ctx context.Context, w *watch, h roman.Health) bool {
	s, ok := m.judgeSettings(w)
	if !ok {
		return false
	}
	in, err := m.judgeInput(ctx, w, s, h, w.windowEnd)
	if err != nil {
		m.Logger.Error("monitor: reading the judge's counts failed", "deployment_id", w.d.DeploymentID, "err", err)
		return false
	}
	th := m.thresholds(w.d.Environment)
	j := roman.Judge(s.Judge, in, s, th)
	m.recordJudgement(ctx, w, j, "window_end", w.windowEnd)
	if s.Shadow {
		o := roman.Judge(s.Other(), in, s, th)
		o.Shadow = true
		m.recordJudgement(ctx, w, o, "window_end", w.windowEnd)
	}
	w.judge.last = &j
	if s.Judge != roman.JudgeBaseline || j.Verdict != roman.VerdictInconclusive {
		return false
	}
	if w.judge.extensions < roman.MaxJudgeExtensions && s.Extend > 0 {
		w.judge.extensions++
		w.windowEnd = w.windowEnd.Add(s.Extend)
		w.windowDone = false
		m.event(ctx, w.d, roman.EventWatchExtended, roman.SeverityInfo,
			fmt.Sprintf("Watch window of %s in %s ended inconclusive: extended by %s to %s (extension %d of %d). %s",
				w.d.Version, w.d.Environment, s.Extend, w.windowEnd.UTC().Format(time.RFC3339), w.judge.extensions, roman.MaxJudgeExtensions, j.Why),
			map[string]any{"judgement": j, "window_ends_at": w.windowEnd.UTC(), "extension": w.judge.extensions})
		return true
	}
	details := map[string]any{"decided_by": "monitor", "passed": false, "judgement": j, "window_ends_at": w.windowEnd.UTC(), "health": h}
	if _, err := m.Deployments.Update(ctx, w.d.DeploymentID, roman.DeploymentUpdate{HealthCheckDetails: mustJSON(details)}); err != nil {
		m.Logger.Error("monitor: recording the window failed", "deployment_id", w.d.DeploymentID, "err", err)
	}
	m.event(ctx, w.d, roman.EventWatchUnverified, roman.SeverityWarning,
		fmt.Sprintf("Watch window of %s in %s ended inconclusive after %d extension(s): not marked health_check_passed; a human must decide. %s",
			w.d.Version, w.d.Environment, w.judge.extensions, j.Why),
		map[string]any{"judgement": j, "judge_inconclusive": true, "why": j.Why, "health": h})
	return true
}

// extensionRow is what a watch_extended row's metadata says of the window.
type extensionRow struct {
	WindowEndsAt time.Time `json:"window_ends_at"`
	Extension    int       `json:"extension"`
}

// loadExtensions reads the watch_extended rows of w's deployment, so a
// watch rebuilt after a restart (or by a new leader) keeps the extended end
// of its window and the number of extensions used: the extension is durable
// in the audit trail, not only in this process's memory.
// Only a judging environment extends windows, so only its watches read them.
func (m *Monitor) loadExtensions(ctx context.Context, w *watch) error {
	if _, ok := m.judgeSettings(w); !ok {
		return nil
	}
	evs, err := m.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventWatchExtended, DeploymentID: w.d.DeploymentID, Limit: 10})
	if err != nil {
		return err
	}
	for _, e := range evs {
		var x extensionRow
		if err := json.Unmarshal(e.Metadata, &x); err != nil || x.Extension <= 0 {
			continue
		}
		w.judge.extensions = max(w.judge.extensions, x.Extension)
		if x.WindowEndsAt.After(w.windowEnd) {
			w.windowEnd = x.WindowEndsAt
		}
	}
	return nil
}
