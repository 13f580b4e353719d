package chatops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/discord"
)

// Report phases of an approved rollback, as the edited reply shows them.
const (
	phaseRequested  = iota // deferred; validating
	phaseRunning           // approved by the constitution, executing
	phaseDone              // complete
	phaseFailed            // ran and failed
	phaseRejected          // rejected by the constitution
	phaseNotStarted        // refused before running (unknown id, conflict, ...)
)

// stepCount is how many steps a rollback runs, for the progress bar; a
// rollback that records more steps stretches it.
const stepCount = 8

// report is what the reply says about one approved rollback.
type report struct {
	phase      int
	a          *approval
	deployment *roman.Deployment
	target     *roman.Deployment
	validation *roman.Validation
	steps      []roman.RollbackStep
	duration   float64 // seconds
	failure    string
	// stillRunning is set when the follow-up ran out of time first.
	stillRunning bool
}

// followUp runs the approved rollback and edits the deferred reply as it
// proceeds. The rollback itself never waits for Discord: edits that fail are
// logged and skipped.
func (b *Bot) followUp(a *approval) {
	ctx, cancel := context.WithTimeout(context.Background(), FollowUpTimeout)
	defer cancel()
	ed := &editor{b: b, a: a}
	r := &report{a: a}
	d, err := b.Store.GetDeployment(ctx, a.req.DeploymentID)
	if err != nil {
		r.phase, r.failure = phaseNotStarted, roman.ErrorMessage(err)
		ed.edit(ctx, r, true)
		return
	}
	r.deployment = d
	// The target the rollback service will choose (the newest healthy
	// deployment of the same environment before this one), shown before it
	// runs; the result's target replaces it.
	if t, err := b.Store.FindRollbackTarget(ctx, d); err == nil {
		r.target = t
	}
	ed.edit(ctx, r, true)

	stop := b.watch(ctx, r, ed)
	res, err := b.Rollbacks.Execute(ctx, a.req)
	if err == nil && res != nil && res.Status == roman.RollbackInProgress {
		// The service answers in_progress while the executor or the verify
		// window still runs: the reply waits for the outcome.
		res = b.awaitOutcome(ctx, res)
	}
	stop()
	r.finish(res, err)
	ed.edit(ctx, r, true)
}

// awaitOutcome polls a rollback event until it is finished (or the
// follow-up's time is up) and returns the result it ended with.
func (b *Bot) awaitOutcome(ctx context.Context, res *roman.RollbackResult) *roman.RollbackResult {
	poll := b.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		ev, err := b.Store.GetRollbackEvent(ctx, res.EventID)
		if err == nil && ev.Finished() {
			out := *res
			out.Status, out.Success = ev.Status, ev.Status == roman.RollbackSuccess
			if ev.CompletedAt != nil {
				out.DurationMS = float64(ev.CompletedAt.Sub(ev.InitiatedAt).Microseconds()) / 1000
			}
			var meta struct {
				Failure string `json:"failure"`
			}
			_ = json.Unmarshal(ev.Metadata, &meta)
			out.Error = meta.Failure
			return &out
		}
		select {
		case <-ctx.Done():
			return res
		case <-b.stopped():
			return res
		case <-t.C:
		}
	}
}

// watch edits the reply on each step of the deployment's rollback until the
// returned stop function is called (which waits for the watcher to end).
func (b *Bot) watch(ctx context.Context, r *report, ed *editor) (stop func()) {
	if b.Hub == nil {
		return func() {}
	}
	changes, cancel := b.Hub.Subscribe(64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range changes {
			if c.Kind != roman.ChangeRollback || c.DeploymentID != r.deployment.DeploymentID {
				continue
			}
			evs, err := b.Store.ListRollbackEvents(ctx, roman.RollbackFilter{DeploymentID: r.deployment.DeploymentID, Limit: 1})
			if err != nil || len(evs) == 0 {
				continue
			}
			ed.mu.Lock()
			r.progress(evs[0])
			ed.mu.Unlock()
			ed.edit(ctx, r, false)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// progress takes what a rollback event shows so far.
func (r *report) progress(ev *roman.RollbackEvent) {
	r.steps = ev.RollbackSteps
	if len(ev.ConstitutionalValidation) > 0 {
		var v roman.Validation
		if json.Unmarshal(ev.ConstitutionalValidation, &v) == nil {
			r.validation = &v
			if v.Compliant && r.phase == phaseRequested {
				r.phase = phaseRunning
			}
		}
	}
}

// finish takes the rollback's outcome.
func (r *report) finish(res *roman.RollbackResult, err error) {
	var rej *roman.RejectedError
	switch {
	case errors.As(err, &rej):
		r.phase, r.validation = phaseRejected, &rej.Validation
	case err != nil:
		r.phase, r.failure = phaseNotStarted, roman.ErrorMessage(err)
	default:
		r.validation = &res.Validation
		if t := res.TargetDeployment; t != nil {
			r.target = &roman.Deployment{DeploymentID: t.DeploymentID, Version: t.Version, GitCommit: t.GitCommit}
		}
		r.duration = res.DurationMS / 1000
		switch {
		case res.Status == roman.RollbackInProgress:
			r.phase, r.stillRunning = phaseRunning, true
		case res.Success:
			r.phase, r.steps = phaseDone, fullSteps(r.steps)
		default:
			r.phase, r.failure = phaseFailed, res.Error
		}
	}
}

// fullSteps pads the steps seen so far to a full bar for a finished
// rollback (the hub may drop notifications; the outcome is what counts).
func fullSteps(s []roman.RollbackStep) []roman.RollbackStep {
	for len(s) < stepCount {
		s = append(s, roman.RollbackStep{Status: roman.StepStatusSuccess})
	}
	return s
}

// render is the reply text in the seed's format ("Via Discord").
func (r *report) render() string {
	var sb strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&sb, format+"\n", args...) }
	switch r.phase {
	case phaseRequested:
		line("⏳ Rollback requested. R.O.M.A.N. is validating...")
	case phaseRejected:
		line("🚨 Rollback rejected by R.O.M.A.N.")
	case phaseNotStarted:
		line("❌ Rollback not started")
	default:
		line("✅ Rollback approved by R.O.M.A.N.")
	}
	line("")
	dep := r.a.req.DeploymentID
	if d := r.deployment; d != nil {
		dep += fmt.Sprintf(" (%s, %s)", d.Version, d.Environment)
	}
	line("Deployment: %s", dep)
	line("Reason: %s", r.a.req.TriggerReason)
	if r.a.user != nil {
		line("Requested by: <@%s>", r.a.user.ID)
	}
	if t := r.target; t != nil {
		line("Target: %s (commit: %s)", t.Version, roman.ShortCommit(t.GitCommit))
	} else if r.deployment != nil {
		line("Target: none found")
	}
	if r.phase != phaseNotStarted {
		line("Constitutional Validation: %s", validationText(r.validation))
	}
	if v := r.validation; v != nil {
		bullets(&sb, "Violations", v.Violations)
		bullets(&sb, "Warnings", v.Warnings)
	}
	switch r.phase {
	case phaseRunning, phaseDone, phaseFailed:
		line("")
		line("Executing rollback...")
		line("%s", progressBar(r.steps))
	}
	if r.stillRunning {
		line("⏳ Still running after %s; follow it with `roman history` or the dashboard.", FollowUpTimeout)
	}
	switch r.phase {
	case phaseDone:
		line("✅ Rollback complete (%.1f seconds)", r.duration)
	case phaseFailed:
		line("❌ Rollback failed: %s", r.failure)
		line("Manual intervention required.")
	case phaseRejected:
		line("")
		line("Manual intervention required: fix the violations, or ask an admin approver to use `override:true`.")
	case phaseNotStarted:
		line("")
		line("%s", r.failure)
	}
	return strings.TrimRight(sb.String(), "\n")
}

func validationText(v *roman.Validation) string {
	switch {
	case v == nil:
		return "pending"
	case !v.Compliant:
		return "FAILED"
	case v.Override:
		return "PASSED (override)"
	}
	return "PASSED"
}

func bullets(sb *strings.Builder, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(sb, "%s:\n", title)
	for _, it := range items {
		fmt.Fprintf(sb, "• %s\n", it)
	}
}

// progressBar draws the steps done so far, e.g. "[██████████░░░░░░] 5/8 ·
// record_deployment".
func progressBar(steps []roman.RollbackStep) string {
	const width = 16
	total := max(stepCount, len(steps))
	done := len(steps)
	filled := done * width / total
	bar := "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "]"
	s := fmt.Sprintf("%s %d/%d", bar, done, total)
	if done > 0 && steps[done-1].Name != "" {
		last := steps[done-1]
		mark := "✓"
		if last.Status == roman.StepStatusFailed {
			mark = "✗"
		}
		s += fmt.Sprintf(" · %s %s", last.Name, mark)
	}
	return s
}

// editor edits one interaction's original response, spacing progress edits
// by MinEditInterval. It uses the monotonic wall clock on purpose: the
// spacing protects Discord's rate limit, which runs on real time.
type editor struct {
	b    *Bot
	a    *approval
	mu   sync.Mutex
	last time.Time
	sent string
}

// edit sends the report's current text; a non-final edit is skipped when the
// previous one was too recent or the text has not changed.
func (e *editor) edit(ctx context.Context, r *report, final bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	text := r.render()
	interval := e.b.MinEditInterval
	if interval <= 0 {
		interval = time.Second
	}
	if text == e.sent || (!final && time.Since(e.last) < interval) {
		return
	}
	if e.b.API == nil || e.a.token == "" {
		return
	}
	if err := e.b.API.EditOriginal(ctx, e.a.appID, e.a.token, &discord.Message{Content: text}); err != nil {
		e.b.logger().Warn("editing the Discord reply failed", "deployment_id", e.a.req.DeploymentID, "err", err)
		return
	}
	e.last, e.sent = time.Now(), text
}
