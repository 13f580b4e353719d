package rollback_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/rollback"
	"github.com/odyssey-1/roman/sqldb"
)

// separateReads hides the store's roman.CheckReader, so a service built on
// it reads each part of a check on its own (the path before the one read).
type separateReads struct{ rollback.Store }

// countingReader counts the one reads of a check.
type countingReader struct {
	*sqldb.DB
	reads atomic.Int64
}

func (c *countingReader) ReadCheck(ctx context.Context, q roman.CheckQuery) (*roman.CheckRead, error) {
	c.reads.Add(1)
	return c.DB.ReadCheck(ctx, q)
}

// TestCheckOneReadSameAnswer: on both stores, a check from one read of the
// store (roman.CheckReader) answers exactly what the separate reads answer,
// for releases with errors over the triggers, new errors and metrics; a
// suppression row (in its cooldown, after it, and under a newer manual
// intervention row); baseline verdicts that decide; shadow verdicts only;
// a verdict row the store takes for acting that does not decode (the
// service then reads every row); firing trigger, labelled and
// pre-existing alerts; a rolled-back release with a suppression row; more
// shadow rows than a check looks through; and an unknown deployment.
func TestCheckOneReadSameAnswer(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		th := func(string) roman.Thresholds { return roman.DefaultThresholds() }
		checker := &health.Checker{Store: e.store, Thresholds: th, Clock: e.clock.Now, Fingerprints: e.store,
			Alerts: e.store, AlertTriggers: func(string) []string { return []string{"CheckoutDown"} }}
		reader := &countingReader{DB: e.store}
		service := func(st rollback.Store) *rollback.Service {
			return &rollback.Service{Store: st, Validator: e.svc.Validator, Snapshots: e.svc.Snapshots, Health: checker,
				Thresholds: th, Executor: e.svc.Executor, Clock: e.clock.Now, Logger: e.svc.Logger}
		}
		one, sep := service(reader), service(separateReads{e.store})
		now := e.clock.Now()

		event := func(d *roman.Deployment, typ, msg string, at time.Time, md map[string]any) {
			t.Helper()
			addDeploymentEvent(t, e, d, typ, msg, at, md)
		}
		judgement := func(d *roman.Deployment, at time.Time, j roman.Judgement) {
			t.Helper()
			event(d, roman.EventHealthJudgement, "verdict "+j.Verdict, at, map[string]any{"judgement": j, "shadow": j.Shadow})
		}
		fail := roman.Judgement{Judge: roman.JudgeBaseline, Verdict: roman.VerdictFail, Signal: "error_rate",
			Reason: "Error rate regression: 14 errors/minute vs 0.3 on v2.5.2 (47x)", At: now}
		shadowPass := roman.Judgement{Judge: roman.JudgeBaseline, Shadow: true, Verdict: roman.VerdictPass, At: now}
		errorsWith := func(d *roman.Deployment, n int, spread time.Duration, fp string) {
			t.Helper()
			insertErrors(t, e, d, now, n, spread, fp)
		}
		cases := map[string]*roman.Deployment{}

		// Errors over both triggers, new to the release, and metrics.
		good, bad := e.seedScenario(t, "errors")
		errorsWith(good, 4, 4*time.Minute, "old")
		errorsWith(bad, 70, 4*time.Minute, "new")
		errorsWith(bad, 5, 30*time.Second, "old")
		var samples []roman.MetricSample
		for i, name := range []string{roman.MetricDatabaseConnections, roman.MetricActiveQueries, roman.MetricP95ResponseTimeMS} {
			for k := 0; k < 5; k++ {
				samples = append(samples, roman.MetricSample{DeploymentID: bad.DeploymentID, Environment: bad.Environment, Name: name,
					Value: 0.1*float64(i+1) + float64(k)/3, At: now.Add(-time.Duration(k) * 90 * time.Second)})
			}
		}
		if err := e.store.InsertMetricSamples(ctx, samples); err != nil {
			t.Fatal(err)
		}
		cases["errors over the triggers"] = bad

		// Suppressed in a cooldown; a cooldown over; a newer manual
		// intervention row; both rows at the same time.
		_, bad = e.seedScenario(t, "cooldown")
		errorsWith(bad, 12, 30*time.Second, "c")
		event(bad, roman.EventManualIntervention, "manual intervention required", now.Add(-time.Minute), map[string]any{"command": "roman rollback x"})
		event(bad, roman.EventAutoRollbackSuppressed, "suppressed by cooldown", now.Add(-30*time.Second), map[string]any{
			"suppressed_by": "cooldown", "suppressed_until": now.Add(5 * time.Minute), "command": "roman rollback " + bad.DeploymentID})
		cases["suppression row in its cooldown"] = bad
		_, bad = e.seedScenario(t, "cooldown-over")
		event(bad, roman.EventAutoRollbackSuppressed, "suppressed by cooldown", now.Add(-30*time.Second), map[string]any{
			"suppressed_by": "cooldown", "suppressed_reason": "cooling down", "suppressed_until": now.Add(-time.Second)})
		cases["suppression row after its cooldown"] = bad
		_, bad = e.seedScenario(t, "intervention")
		event(bad, roman.EventAutoRollbackSuppressed, "suppressed by cooldown", now.Add(-time.Minute), map[string]any{"suppressed_by": "cooldown"})
		event(bad, roman.EventManualIntervention, "rejected: manual intervention required", now.Add(-10*time.Second), map[string]any{
			"suppressed_by": "rejected", "command": "roman rollback y"})
		cases["newer manual intervention row"] = bad
		_, bad = e.seedScenario(t, "tie")
		event(bad, roman.EventAutoRollbackSuppressed, "suppressed: max", now.Add(-time.Minute), map[string]any{"suppressed_by": "max_auto_rollbacks"})
		event(bad, roman.EventManualIntervention, "intervention", now.Add(-time.Minute), map[string]any{"suppressed_by": "failed"})
		cases["suppression rows at the same time"] = bad

		// The baseline judge decides (newer shadow rows before its verdict);
		// shadow verdicts only; more shadow rows than a check reads before
		// an acting one.
		_, bad = e.seedScenario(t, "baseline")
		errorsWith(bad, 3, 30*time.Second, "b")
		judgement(bad, now.Add(-2*time.Minute), roman.Judgement{Judge: roman.JudgeBaseline, Verdict: roman.VerdictPass, At: now})
		judgement(bad, now.Add(-time.Minute), fail)
		judgement(bad, now.Add(-30*time.Second), shadowPass)
		judgement(bad, now.Add(-20*time.Second), shadowPass)
		cases["baseline judgement"] = bad
		_, bad = e.seedScenario(t, "shadow")
		errorsWith(bad, 60, 50*time.Second, "s")
		judgement(bad, now.Add(-time.Minute), shadowPass)
		judgement(bad, now.Add(-30*time.Second), roman.Judgement{Judge: roman.JudgeBaseline, Shadow: true, Verdict: roman.VerdictFail, Reason: "regression", At: now})
		cases["shadow judgement only"] = bad
		_, bad = e.seedScenario(t, "deep-shadow")
		judgement(bad, now.Add(-time.Hour), fail)
		for i := 0; i < roman.CheckJudgementRows+2; i++ {
			judgement(bad, now.Add(-time.Duration(roman.CheckJudgementRows-i)*time.Second), shadowPass)
		}
		cases["acting verdict older than the rows a check reads"] = bad
		// A row whose judgement looks acting to the store but does not
		// decode (a shadow that is not a boolean), before an acting one.
		_, bad = e.seedScenario(t, "odd")
		judgement(bad, now.Add(-time.Minute), fail)
		event(bad, roman.EventHealthJudgement, "odd", now.Add(-30*time.Second), map[string]any{"judgement": map[string]any{"judge": "baseline", "shadow": "yes"}})
		judgement(bad, now.Add(-10*time.Second), shadowPass)
		cases["undecodable verdict row"] = bad

		// Firing alerts: a trigger by name, a labelled one, one that was
		// firing before the release and a warning.
		bad, _, err := e.deps.Record(ctx, &roman.Deployment{Environment: "alerts", Version: "v3", GitCommit: "c0ffee1", GitBranch: "main",
			Status: roman.StatusSuccess, DeployedAt: now.Add(-10 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		var alerts []*roman.IntegrationAlert
		for i, a := range []struct {
			name     string
			labelled bool
			start    time.Time
		}{{"CheckoutDown", false, now.Add(-time.Minute)}, {"Latency", true, now.Add(-2 * time.Minute)},
			{"CheckoutDown", false, bad.DeployedAt.Add(-time.Hour)}, {"DiskFull", false, now.Add(-3 * time.Minute)}} {
			alerts = append(alerts, &roman.IntegrationAlert{Source: roman.SourceAlertmanager, Fingerprint: fmt.Sprintf("fp%d", i),
				StartsAt: a.start, Status: "firing", AlertName: a.name, Summary: "summary " + a.name, Labelled: a.labelled,
				DeploymentID: bad.DeploymentID, Environment: bad.Environment, Service: bad.Service, Rule: roman.AttributedByCurrent})
		}
		if _, err := e.store.RecordIntegrationAlerts(ctx, alerts, func(int, string) []*roman.RomanEvent { return nil }); err != nil {
			t.Fatal(err)
		}
		cases["firing trigger alert"] = bad

		// Rolled back, with a suppression row from before.
		_, bad = e.seedScenario(t, "rolled-back")
		errorsWith(bad, 80, 2*time.Minute, "r")
		event(bad, roman.EventAutoRollbackSuppressed, "suppressed", now.Add(-time.Minute), map[string]any{"suppressed_by": "conflict"})
		judgement(bad, now.Add(-time.Minute), fail)
		rb := roman.StatusRolledBack
		if _, err := e.store.UpdateDeployment(ctx, bad.DeploymentID, roman.DeploymentUpdate{Status: &rb, RolledBackAt: &now}); err != nil {
			t.Fatal(err)
		}
		cases["rolled-back status"] = bad

		for name, d := range cases {
			before := reader.reads.Load()
			got, err := one.Check(ctx, d.DeploymentID)
			if err != nil {
				t.Fatalf("%s: one read: %v", name, err)
			}
			if reader.reads.Load() != before+1 {
				t.Fatalf("%s: the check did not use the one read", name)
			}
			want, err := sep.Check(ctx, d.DeploymentID)
			if err != nil {
				t.Fatalf("%s: separate reads: %v", name, err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			if !reflect.DeepEqual(got, want) || string(gotJSON) != string(wantJSON) {
				t.Errorf("%s:\none read:       %s\nseparate reads: %s", name, gotJSON, wantJSON)
			}
		}

		// The cases show what they are meant to (so an equal answer is not
		// an empty one).
		check := func(name string) *roman.CheckResult {
			res, _ := one.Check(ctx, cases[name].DeploymentID)
			return res
		}
		if r := check("errors over the triggers"); !r.ShouldRollback || r.Health.RecentErrors != 75 || r.Health.DatabaseConnections == nil ||
			r.Health.ActiveQueries == nil || *r.Health.ActiveQueries != 0.2 || r.Health.NewErrors == nil || r.Health.NewErrors.Events != 70 {
			t.Errorf("errors over the triggers: %+v", r.Health)
		}
		if r := check("suppression row in its cooldown"); !r.Suppressed || r.SuppressedBy != "cooldown" || r.SuppressedUntil == nil {
			t.Errorf("cooldown: %+v", r)
		}
		if r := check("suppression row after its cooldown"); r.Suppressed {
			t.Errorf("cooldown over: %+v", r)
		}
		if r := check("newer manual intervention row"); !r.Suppressed || r.SuppressedBy != "rejected" {
			t.Errorf("intervention: %+v", r)
		}
		if r := check("suppression rows at the same time"); !r.Suppressed || r.SuppressedBy != "max_auto_rollbacks" {
			t.Errorf("tie: %+v", r)
		}
		if r := check("baseline judgement"); !r.ShouldRollback || r.Reason != fail.Reason || r.Judgement == nil || r.Judgement.Verdict != roman.VerdictFail {
			t.Errorf("baseline: %+v", r)
		}
		if r := check("shadow judgement only"); r.Judgement != nil || !r.ShouldRollback {
			t.Errorf("shadow: %+v", r)
		}
		if r := check("acting verdict older than the rows a check reads"); r.Judgement != nil {
			t.Errorf("deep shadow: %+v", r.Judgement)
		}
		if r := check("undecodable verdict row"); r.Judgement == nil || r.Judgement.Verdict != roman.VerdictFail {
			t.Errorf("odd row: %+v", r.Judgement)
		}
		if r := check("firing trigger alert"); !r.ShouldRollback || r.Reason != "Alert firing: Latency: summary Latency" || len(r.Health.Alerts) != 4 {
			t.Errorf("alerts: %+v", r)
		}
		if r := check("rolled-back status"); r.Suppressed || !r.ShouldRollback || r.Judgement == nil {
			t.Errorf("rolled back: %+v", r)
		}

		missing := roman.NewUUID()
		_, errOne := one.Check(ctx, missing)
		_, errSep := sep.Check(ctx, missing)
		if roman.ErrorCode(errOne) != roman.ENOTFOUND || roman.ErrorMessage(errOne) != roman.ErrorMessage(errSep) {
			t.Errorf("unknown deployment: one read %v, separate reads %v", errOne, errSep)
		}
	})
}

// addDeploymentEvent writes a roman_events row of type typ about d at at,
// with metadata md (its deployment_id set to d's).
func addDeploymentEvent(t *testing.T, e *env, d *roman.Deployment, typ, msg string, at time.Time, md map[string]any) {
	t.Helper()
	md["deployment_id"] = d.DeploymentID
	raw, _ := json.Marshal(md)
	if err := e.store.AddRomanEvent(context.Background(), &roman.RomanEvent{EventType: typ, Severity: roman.SeverityWarning,
		Message: msg, Metadata: raw, Timestamp: at}); err != nil {
		t.Fatal(err)
	}
}

// insertErrors stores n error events of d spread evenly over the spread
// before now, with fingerprints fp-0, fp-1 and fp-2 in turn.
func insertErrors(t *testing.T, e *env, d *roman.Deployment, now time.Time, n int, spread time.Duration, fp string) {
	t.Helper()
	evs := make([]roman.ErrorEvent, n)
	for i := range evs {
		evs[i] = roman.ErrorEvent{DeploymentID: d.DeploymentID, Environment: d.Environment, Message: "boom", Severity: "error",
			Fingerprint: fmt.Sprintf("%s-%d", fp, i%3), OccurredAt: now.Add(-time.Duration(i) * spread / time.Duration(n))}
	}
	if err := e.store.InsertErrorEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}
