package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// demoClient bounds every call of the demo to the server.
var demoClient = &http.Client{Timeout: 10 * time.Second}

// call sends a JSON request with the key and decodes the JSON answer into
// out (when not nil). A non-2xx answer is an error carrying the server's
// message.
func (d *demo) call(ctx context.Context, method, path, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := demoClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, e.Error)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// postError reports one application error of the running deployment, as an
// application's error handler would: it knows which deployment it is (the
// executor hands it ROMAN_DEPLOYMENT_ID), so errors of the bad version still
// in flight after the rollback began are not blamed on the redeploy.
func (d *demo) postError(ctx context.Context, deploymentID string) error {
	return d.call(ctx, "POST", "/errors", d.deploy, map[string]any{
		"deployment_id": deploymentID, "environment": demoEnvironment, "message": demoErrorMessage, "severity": "error",
		"occurred_at": time.Now().UTC().Format(time.RFC3339Nano),
	}, nil)
}

// play runs the scenario step by step and narrates it.
func (d *demo) play(ctx context.Context) error {
	good := map[string]any{
		"environment": demoEnvironment, "version": demoGoodVersion, "git_commit": demoGoodCommit, "git_branch": "main",
		"status": roman.StatusSuccess, "health_check_passed": true,
		"deployed_at": time.Now().UTC().Add(-d.scale(15 * time.Minute)).Format(time.RFC3339Nano),
	}
	if err := d.call(ctx, "POST", "/deployments", d.deploy, good, nil); err != nil {
		return err
	}
	d.event("%s (%s) is live in %s and healthy: the last known-good version.", demoGoodVersion, demoGoodCommit, demoEnvironment)
	var bad roman.Deployment
	if err := d.call(ctx, "POST", "/deployments", d.deploy, map[string]any{
		"environment": demoEnvironment, "version": demoBadVersion, "git_commit": demoBadCommit, "git_branch": "main",
	}, &bad); err != nil {
		return err
	}
	if err := d.call(ctx, "PATCH", "/deployments/"+bad.DeploymentID, d.deploy, map[string]any{"status": roman.StatusSuccess}, nil); err != nil {
		return err
	}
	d.start = time.Now()
	d.event("%s deployed to %s (CI recorded it through POST /deployments).", demoBadVersion, demoEnvironment)
	d.event("R.O.M.A.N. watches it for %d minutes: an error rate above 5/minute rolls it back.", int(demoWatchWindow.Minutes()))

	ev, err := d.spike(ctx, bad.DeploymentID)
	if err != nil {
		return err
	}
	if _, err := d.follow(ctx, ev); err != nil {
		return err
	}
	if d.shadow {
		if err := d.shadowVerdicts(ctx, bad.DeploymentID); err != nil {
			return err
		}
	}
	return d.recover(ctx)
}

// shadowVerdicts narrates what the shadow judge recorded about the bad
// release (GET /deployments/{id}/judgements): its verdicts, oldest first,
// each with its why line.
func (d *demo) shadowVerdicts(ctx context.Context, badID string) error {
	var res struct {
		Judgements []roman.Judgement `json:"judgements"`
	}
	if err := d.call(ctx, "GET", "/deployments/"+badID+"/judgements", d.read, nil, &res); err != nil {
		return err
	}
	n := 0
	for i := len(res.Judgements) - 1; i >= 0; i-- {
		j := res.Judgements[i]
		if !j.Shadow {
			continue
		}
		n++
		d.event("Shadow judge (%s, not acting): %s — %s", j.Judge, j.Verdict, j.Why)
	}
	if n == 0 {
		d.event("Shadow judge: no verdict recorded for %s.", demoBadVersion)
	}
	return nil
}

// spike waits until T+2 min, then feeds about 8 errors per minute (scaled)
// until the server records a rollback of the bad deployment, and returns
// that rollback event.
func (d *demo) spike(ctx context.Context, badID string) (*roman.RollbackEvent, error) {
	windowEnd := d.start.Add(d.scale(demoWatchWindow))
	spikeAt := d.start.Add(d.scale(demoSpikeAt))
	every := d.scale(time.Minute / demoSpikeRate)
	tick := time.NewTicker(min(every/2, 250*time.Millisecond))
	defer tick.Stop()
	var nextError time.Time
	spiking := false
	posted := 0
	for {
		now := time.Now()
		if now.After(windowEnd) {
			return nil, errors.New("the watch window ended without an automatic rollback")
		}
		if !spiking && !now.Before(spikeAt) {
			spiking, nextError = true, now
			d.event("The error rate spikes: the application reports about %d errors/minute (POST /errors).", demoSpikeRate)
		}
		if spiking && !now.Before(nextError) {
			if err := d.postError(ctx, badID); err != nil {
				return nil, err
			}
			posted++
			nextError = nextError.Add(every)
		}
		var hist struct {
			Rollbacks []*roman.RollbackEvent `json:"rollbacks"`
		}
		if err := d.call(ctx, "GET", "/auto-rollback/history?limit=5", d.read, nil, &hist); err != nil {
			return nil, err
		}
		for _, e := range hist.Rollbacks {
			if e.DeploymentID == badID {
				d.event("R.O.M.A.N. detects the threshold breach: %s (after %d errors).", e.TriggerReason, posted)
				d.event("Automatic rollback %s initiated (trigger: %s).", e.EventID, e.TriggerType)
				return e, nil
			}
		}
		var chk roman.CheckResult
		if err := d.call(ctx, "POST", "/auto-rollback/check", d.read, map[string]any{"deployment_id": badID}, &chk); err != nil {
			return nil, err
		}
		left := time.Until(windowEnd)
		d.show(fmt.Sprintf("  watch window %s %s left · %s errors/minute · %s",
			bar(1-float64(left)/float64(d.scale(demoWatchWindow)), 24), scenarioDuration(left, d.speed),
			roman.FormatRate(chk.Health.ErrorRatePerMinute), chk.Health.Status))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// scenarioDuration prints a wall-clock duration in the scenario's own time.
func scenarioDuration(d time.Duration, speed float64) string {
	t := time.Duration(float64(d) * speed).Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(t.Minutes()), int(t.Seconds())%60)
}

// follow narrates each step of the rollback as the server appends it, until
// the event finishes; it returns the finished event.
func (d *demo) follow(ctx context.Context, ev *roman.RollbackEvent) (*roman.RollbackEvent, error) {
	shown := 0
	for {
		var hist struct {
			Rollbacks []*roman.RollbackEvent `json:"rollbacks"`
		}
		if err := d.call(ctx, "GET", "/auto-rollback/history?limit=5", d.read, nil, &hist); err != nil {
			return nil, err
		}
		for _, e := range hist.Rollbacks {
			if e.EventID == ev.EventID {
				ev = e
			}
		}
		for ; shown < len(ev.RollbackSteps); shown++ {
			d.event("%s", stepText(ev.RollbackSteps[shown]))
		}
		if ev.Finished() {
			break
		}
		d.show(fmt.Sprintf("  rollback %s %s", ev.Status, bar(float64(shown)/8, 24)))
		if err := roman.Sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
	switch ev.Status {
	case roman.RollbackSuccess:
		secs := ev.CompletedAt.Sub(ev.InitiatedAt).Seconds()
		took := roman.FormatRate(secs) + " seconds"
		if d.speed != 1 {
			took += ", " + scenarioDuration(ev.CompletedAt.Sub(ev.InitiatedAt), d.speed) + " in the scenario's time"
		}
		d.event("✅ Rollback complete (%s): %s is back on %s.", took, demoEnvironment, demoGoodVersion)
		return ev, nil
	case roman.RollbackAborted:
		return nil, errors.New("the constitution rejected the rollback: manual intervention required")
	default:
		return nil, fmt.Errorf("the rollback ended %s: manual intervention required", ev.Status)
	}
}

// stepText turns a rollback step into a narration line.
func stepText(s roman.RollbackStep) string {
	var detail map[string]any
	_ = json.Unmarshal(s.Detail, &detail)
	str := func(k string) string { v, _ := detail[k].(string); return v }
	if s.Status == roman.StepStatusFailed {
		return fmt.Sprintf("Step %s failed: %v", s.Name, detail["error"])
	}
	switch s.Name {
	case roman.StepValidate:
		var v roman.Validation
		_ = json.Unmarshal(s.Detail, &v)
		if v.Compliant {
			return fmt.Sprintf("Constitutional validation: PASSED (%d violations, %d warnings).", len(v.Violations), len(v.Warnings))
		}
		return "Constitutional validation: REJECTED: " + strings.Join(v.Violations, "; ")
	case roman.StepSnapshot:
		return "Pre-rollback snapshot taken (" + str("snapshot_id") + ")."
	case roman.StepIdentifyTarget:
		return fmt.Sprintf("Rollback target: %s (commit %s), the last healthy deployment.", str("version"), str("git_commit"))
	case roman.StepMarkRolledBack:
		return demoBadVersion + " marked rolled_back."
	case roman.StepRecordDeployment:
		return fmt.Sprintf("%s recorded as the new deployment (rollback_from = %s).", str("version"), demoBadVersion)
	case roman.StepExecute:
		return "Executor ran: the platform redeploys " + demoGoodVersion + " (executor none records it only)."
	case roman.StepVerify:
		return "The rolled-back system verified healthy over the verify window."
	case roman.StepComplete:
		return "Rollback event complete."
	}
	return "Step " + s.Name + ": " + s.Status
}

// recover feeds the rolled-back application's normal trickle of errors for
// a (scaled) minute and shows its error rate.
func (d *demo) recover(ctx context.Context) error {
	end := time.Now().Add(d.scale(demoRecoveryFor))
	every := d.scale(time.Duration(float64(time.Minute) / demoRecoveryRate))
	next := time.Now().Add(every / 2)
	var cur struct {
		Deployments []*roman.Deployment `json:"deployments"`
	}
	if err := d.call(ctx, "GET", "/deployments?environment="+demoEnvironment+"&status=success&limit=1", d.read, nil, &cur); err != nil {
		return err
	}
	if len(cur.Deployments) == 0 {
		return errors.New("no current deployment after the rollback")
	}
	dep := cur.Deployments[0]
	var chk roman.CheckResult
	for time.Now().Before(end) {
		if !time.Now().Before(next) {
			if err := d.postError(ctx, dep.DeploymentID); err != nil {
				return err
			}
			next = next.Add(every)
		}
		if err := d.call(ctx, "POST", "/auto-rollback/check", d.read, map[string]any{"deployment_id": dep.DeploymentID}, &chk); err != nil {
			return err
		}
		d.show(fmt.Sprintf("  recovery %s · %s %s errors/minute · %s", bar(1-float64(time.Until(end))/float64(d.scale(demoRecoveryFor)), 24),
			dep.Version, roman.FormatRate(chk.Health.ErrorRatePerMinute), chk.Health.Status))
		if err := roman.Sleep(ctx, min(d.scale(time.Second), 250*time.Millisecond)); err != nil {
			return err
		}
	}
	d.event("Recovered: %s runs at %s errors/minute (%s); the bad deploy %s is rolled back.",
		dep.Version, roman.FormatRate(chk.Health.ErrorRatePerMinute), chk.Health.Status, demoBadVersion)
	d.event("Alerts (Discord, Slack, webhook) go out for each step when channels are configured.")
	return nil
}
