package monitor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// judgeHarness records v1 an hour before t0 with errors at perMinute over
// the 30 minutes before t0, and v2 deployed at t0, and starts the monitor
// with the judge settings s.
func judgeHarness(t *testing.T, s roman.JudgeSettings, perMinute int) (h *harness, good, bad *roman.Deployment) {
	h = newHarness(t)
	h.judge = &s
	good = h.deploy("production", "v1", t0.Add(-time.Hour), true)
	if perMinute > 0 {
		n := 30 * perMinute
		h.errors(good, n, func(i int) time.Time {
			return t0.Add(-30 * time.Minute).Add(time.Duration(i) * 30 * time.Minute / time.Duration(n))
		})
	}
	bad = h.deploy("production", "v2", t0, false)
	h.clock.Set(t0)
	h.start()
	return h, good, bad
}

// stream feeds d errors at perMinute for the given time, in batches every
// ten seconds, ticking after each.
func (h *harness) stream(d *roman.Deployment, perMinute int, dur time.Duration) {
	per := perMinute / 6
	for elapsed := time.Duration(0); elapsed < dur; elapsed += 10 * time.Second {
		h.clock.Add(10 * time.Second)
		now := h.clock.Now()
		h.errors(d, per, func(i int) time.Time { return now.Add(-time.Duration(i) * 10 * time.Second / time.Duration(per)) })
		h.tick()
	}
}

func baselineSettings() roman.JudgeSettings {
	s := roman.DefaultJudgeSettings()
	s.Judge = roman.JudgeBaseline
	return s
}

func TestBaselineJudgeBusyServiceIsNotRolledBack(t *testing.T) {
	h, _, bad := judgeHarness(t, baselineSettings(), 20)
	h.stream(bad, 20, 3*time.Minute)
	h.wantRollbacks(0, "20/minute after 20/minute under baseline")
	alerts := h.events(bad, roman.EventHealthAlert)
	if len(alerts) == 0 || !strings.Contains(alerts[0].Message, "judge baseline: inconclusive, no automatic rollback") {
		t.Fatalf("want an inconclusive alert, got %+v", alerts)
	}
	js := h.events(bad, roman.EventHealthJudgement)
	if len(js) == 0 {
		t.Fatal("no health_judgement rows")
	}
	m := meta(t, js[0])
	j := m["judgement"].(map[string]any)
	b := j["baseline"].(map[string]any)
	if j["judge"] != "baseline" || b["version"] != "v1" || b["errors"].(float64) != 600 || b["minutes"].(float64) != 30 {
		t.Errorf("judgement evidence %v", j)
	}
	// Still 20/minute to the end of the window and its two extensions:
	// inconclusive throughout, never a breach, never marked healthy.
	h.stream(bad, 20, 13*time.Minute)
	h.wantRollbacks(0, "20/minute for 16 minutes under baseline")
	if n := len(h.events(bad, roman.EventWatchExtended)); n != 2 {
		t.Errorf("%d extensions, want 2", n)
	}
	if n := len(h.events(bad, roman.EventWatchBreach)); n != 0 {
		t.Errorf("%d breaches under baseline for absolute triggers alone", n)
	}
	if un := h.events(bad, roman.EventWatchUnverified); len(un) != 1 || !strings.Contains(un[0].Message, "a human must decide") {
		t.Errorf("unverified rows %+v", un)
	}
}

func TestBaselineJudgeRollsBackARegression(t *testing.T) {
	h, good, bad := judgeHarness(t, baselineSettings(), 20)
	h.stream(bad, 200, time.Minute)
	reqs := h.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d rollbacks, want 1", len(reqs))
	}
	if !strings.HasPrefix(reqs[0].TriggerReason, "Error rate regression: ") || !strings.Contains(reqs[0].TriggerReason, "vs 20 on v1") {
		t.Errorf("reason %q", reqs[0].TriggerReason)
	}
	if !strings.HasPrefix(reqs[0].Why, "Why: ") || !strings.Contains(reqs[0].Why, "vs 600 in 30 min (20/minute) on v1") || !strings.Contains(reqs[0].Why, "p < 0.0001") {
		t.Errorf("why %q", reqs[0].Why)
	}
	var trigger bool
	for _, e := range h.events(bad, roman.EventHealthJudgement) {
		m := meta(t, e)
		if m["record"] == "trigger" {
			trigger = true
			j := m["judgement"].(map[string]any)
			if j["verdict"] != "fail" || j["baseline"].(map[string]any)["deployment_id"] != good.DeploymentID || j["e_value"].(float64) < 100 {
				t.Errorf("trigger judgement %v", j)
			}
		}
	}
	if !trigger {
		t.Error("no health_judgement row for the trigger")
	}
}

func TestThresholdJudgeWithShadowRecordsBaseline(t *testing.T) {
	s := roman.DefaultJudgeSettings()
	s.Shadow = true
	h, _, bad := judgeHarness(t, s, 20)
	h.stream(bad, 20, 2*time.Minute)
	reqs := h.requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].TriggerReason, "High error rate: ") {
		t.Fatalf("threshold judge: rollbacks %+v, want one for the high error rate", reqs)
	}
	if !strings.HasPrefix(reqs[0].Why, "Why: ") || !strings.Contains(reqs[0].Why, "above the trigger of 5/minute") {
		t.Errorf("why %q", reqs[0].Why)
	}
	var shadow bool
	for _, e := range h.events(bad, roman.EventHealthJudgement) {
		if m := meta(t, e); m["shadow"] == true && m["judge"] == "baseline" && m["verdict"] == "inconclusive" {
			shadow = true
		}
	}
	if !shadow {
		t.Error("no shadow baseline verdict recorded")
	}
}

func TestBaselineJudgeWithoutRequestsExtendsThenAsksAHuman(t *testing.T) {
	h := newHarness(t)
	s := baselineSettings()
	h.judge = &s
	good := h.deploy("production", "v1", t0.Add(-time.Hour), true)
	var ms []roman.MetricSample
	for i := range 30 {
		ms = append(ms, roman.MetricSample{DeploymentID: good.DeploymentID, Environment: "production", Name: roman.MetricRequests, Value: 1000, At: t0.Add(-time.Duration(i) * time.Minute)})
	}
	if err := h.st.InsertMetricSamples(ctx, ms); err != nil {
		t.Fatal(err)
	}
	bad := h.deploy("production", "v2", t0, false)
	h.clock.Set(t0)
	h.start()
	for range 16 {
		h.clock.Add(time.Minute)
		h.tick()
	}
	if ext := h.events(bad, roman.EventWatchExtended); len(ext) != 2 {
		t.Fatalf("%d extensions, want 2", len(ext))
	}
	un := h.events(bad, roman.EventWatchUnverified)
	if len(un) != 1 || !strings.Contains(un[0].Message, "a human must decide") || un[0].Alert == nil && !strings.Contains(un[0].Message, "no traffic is not health") {
		t.Fatalf("unverified rows %+v", un)
	}
	if len(h.events(bad, roman.EventWatchPassed)) != 0 {
		t.Error("window passed without traffic")
	}
	d, err := h.st.GetDeployment(ctx, bad.DeploymentID)
	if err != nil || d.HealthCheckPassed {
		t.Errorf("marked healthy: %+v %v", d, err)
	}
	h.wantRollbacks(0, "no traffic")
}
