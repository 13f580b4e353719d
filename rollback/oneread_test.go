package rollback_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/appdb"
	"github.com/odyssey-1/roman/deploy"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/rollback"
)

// TestRollbackOneReadSameRecords: on both stores, a rollback whose store
// reads a check at once (roman.CheckReader) records what the separate
// reads give: the validation's verdict and the health and judgement it
// looked at, the pre_rollback snapshot's key metrics and the verify
// step's health, for a release with errors over the triggers, new errors
// and metrics, one with an acting baseline verdict, one whose acting
// verdict is older than the rows one read looks through, one with a
// verdict row that does not decode before an acting one, and one with
// firing alerts. The one read is used (counted), and the answers are not
// empty.
func TestRollbackOneReadSameRecords(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		th := func(string) roman.Thresholds { return roman.DefaultThresholds() }
		checker := &health.Checker{Store: e.store, Thresholds: th, Clock: e.clock.Now, Fingerprints: e.store,
			Alerts: e.store, AlertTriggers: func(string) []string { return []string{"CheckoutDown"} }}
		reader := &countingReader{DB: e.store}
		oneSaw, sepSaw := &recordingValidator{Validator: e.svc.Validator}, &recordingValidator{Validator: e.svc.Validator}
		snaps := &deploy.Snapshots{Store: reader, App: appdb.New(e.store.SQL(), e.store.Dialect()), Health: checker,
			Clock: e.clock.Now, Logger: e.svc.Logger}
		one := &rollback.Service{Store: reader, Validator: oneSaw, Snapshots: snaps, Health: checker,
			Thresholds: th, Executor: e.svc.Executor, Clock: e.clock.Now, Logger: e.svc.Logger}
		sep := &rollback.Service{Store: separateReads{e.store}, Validator: sepSaw, Health: checker,
			Thresholds: th, Executor: e.svc.Executor, Clock: e.clock.Now, Logger: e.svc.Logger}
		now := e.clock.Now()

		event := func(d *roman.Deployment, typ string, at time.Time, md map[string]any) {
			t.Helper()
			addDeploymentEvent(t, e, d, typ, typ, at, md)
		}
		fail := roman.Judgement{Judge: roman.JudgeBaseline, Verdict: roman.VerdictFail, Signal: "error_rate",
			Reason: "Error rate regression: 14 errors/minute vs 0.3 on v2.5.2 (47x)", At: now}
		shadowPass := roman.Judgement{Judge: roman.JudgeBaseline, Shadow: true, Verdict: roman.VerdictPass, At: now}
		errorsWith := func(d *roman.Deployment, n int, spread time.Duration, fp string) {
			t.Helper()
			insertErrors(t, e, d, now, n, spread, fp)
		}
		type rollbackCase struct {
			name string
			bad  *roman.Deployment
		}
		var cases []rollbackCase

		good, bad := e.seedScenario(t, "errors")
		errorsWith(good, 4, 4*time.Minute, "old")
		errorsWith(bad, 70, 4*time.Minute, "new")
		errorsWith(bad, 5, 30*time.Second, "old")
		var samples []roman.MetricSample
		for i, name := range []string{roman.MetricDatabaseConnections, roman.MetricActiveQueries} {
			samples = append(samples, roman.MetricSample{DeploymentID: bad.DeploymentID, Environment: bad.Environment, Name: name,
				Value: 0.1 * float64(i+1), At: now.Add(-time.Minute)})
		}
		if err := e.store.InsertMetricSamples(ctx, samples); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, rollbackCase{"errors over the triggers", bad})

		_, bad = e.seedScenario(t, "baseline")
		errorsWith(bad, 3, 30*time.Second, "b")
		event(bad, roman.EventHealthJudgement, now.Add(-time.Minute), map[string]any{"judgement": fail})
		event(bad, roman.EventHealthJudgement, now.Add(-30*time.Second), map[string]any{"judgement": shadowPass})
		cases = append(cases, rollbackCase{"baseline judgement", bad})

		_, bad = e.seedScenario(t, "deep-shadow")
		event(bad, roman.EventHealthJudgement, now.Add(-time.Hour), map[string]any{"judgement": fail})
		for i := 0; i < roman.CheckJudgementRows+2; i++ {
			event(bad, roman.EventHealthJudgement, now.Add(-time.Duration(roman.CheckJudgementRows-i)*time.Second),
				map[string]any{"judgement": shadowPass})
		}
		cases = append(cases, rollbackCase{"acting verdict older than the rows one read looks through", bad})

		// A row whose judgement looks acting to the store but does not
		// decode (a shadow that is not a boolean), before an acting one.
		_, bad = e.seedScenario(t, "odd")
		event(bad, roman.EventHealthJudgement, now.Add(-time.Minute), map[string]any{"judgement": fail})
		event(bad, roman.EventHealthJudgement, now.Add(-30*time.Second), map[string]any{"judgement": map[string]any{"judge": "baseline", "shadow": "yes"}})
		cases = append(cases, rollbackCase{"undecodable verdict row", bad})

		_, bad = e.seedScenario(t, "alerts")
		if _, err := e.store.RecordIntegrationAlerts(ctx, []*roman.IntegrationAlert{{Source: roman.SourceAlertmanager,
			Fingerprint: "fp-down", StartsAt: now.Add(-time.Minute), Status: "firing", AlertName: "CheckoutDown", Summary: "checkout down",
			DeploymentID: bad.DeploymentID, Environment: bad.Environment, Service: bad.Service, Rule: roman.AttributedByCurrent}},
			func(int, string) []*roman.RomanEvent { return nil }); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, rollbackCase{"firing alert", bad})

		asJSON := func(v any) string {
			b, _ := json.Marshal(v)
			return string(b)
		}
		for _, c := range cases {
			req := roman.RollbackRequest{DeploymentID: c.bad.DeploymentID, TriggerReason: "bad release", TriggerType: roman.TriggerManual}
			// What the separate reads give, at the same (fake) time.
			wantVerdict, err := sep.Validate(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			wantCheck, err := sep.Check(ctx, c.bad.DeploymentID)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			before := reader.reads.Load()
			res, err := one.Execute(ctx, req)
			if err != nil || res.Status != roman.RollbackSuccess {
				t.Fatalf("%s: %+v %v", c.name, res, err)
			}
			// reread, the snapshot and the verify step: a read each.
			if n := reader.reads.Load() - before; n != 3 {
				t.Errorf("%s: %d one reads, want 3", c.name, n)
			}
			if got, want := asJSON(oneSaw.last), asJSON(sepSaw.last); got != want {
				t.Errorf("%s: the constitution's input\none read:       %s\nseparate reads: %s", c.name, got, want)
			}
			if asJSON(res.Validation) != asJSON(wantVerdict) {
				t.Errorf("%s: verdict\none read:       %s\nseparate reads: %s", c.name, asJSON(res.Validation), asJSON(wantVerdict))
			}
			vals, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackValidation, DeploymentID: c.bad.DeploymentID})
			if len(vals) != 1 {
				t.Fatalf("%s: %d rollback_validation rows", c.name, len(vals))
			}
			var md struct {
				Health json.RawMessage `json:"health"`
			}
			_ = json.Unmarshal(vals[0].Metadata, &md)
			if got, want := compact(md.Health), compact([]byte(asJSON(wantCheck.Health))); got != want {
				t.Errorf("%s: validation health\none read:       %s\nseparate reads: %s", c.name, got, want)
			}
			snap, err := e.store.GetSnapshot(ctx, res.SnapshotID)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := compact(snap.KeyMetrics), compact([]byte(asJSON(wantCheck.Health))); got != want {
				t.Errorf("%s: snapshot key_metrics\none read:       %s\nseparate reads: %s", c.name, got, want)
			}
			newCheck, err := sep.Check(ctx, res.NewDeploymentID)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := e.store.GetRollbackEvent(ctx, res.EventID)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range ev.RollbackSteps {
				if st.Name != roman.StepVerify {
					continue
				}
				var vd struct {
					Health json.RawMessage `json:"health"`
				}
				_ = json.Unmarshal(st.Detail, &vd)
				if got, want := compact(vd.Health), compact([]byte(asJSON(newCheck.Health))); got != want {
					t.Errorf("%s: verify health\none read:       %s\nseparate reads: %s", c.name, got, want)
				}
			}
		}

		// The cases show what they are meant to.
		vals, _ := e.store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventRollbackValidation, DeploymentID: cases[0].bad.DeploymentID})
		var md struct {
			Health roman.Health `json:"health"`
		}
		_ = json.Unmarshal(vals[0].Metadata, &md)
		if md.Health.RecentErrors != 75 || md.Health.NewErrors == nil || md.Health.NewErrors.Events != 70 || md.Health.DatabaseConnections == nil {
			t.Errorf("errors over the triggers: validation health %+v", md.Health)
		}
		for _, i := range []int{1, 3} {
			if _, err := sep.Validate(ctx, roman.RollbackRequest{DeploymentID: cases[i].bad.DeploymentID, TriggerReason: "x"}); err != nil ||
				sepSaw.last.Judgement == nil || sepSaw.last.Judgement.Verdict != roman.VerdictFail {
				t.Errorf("%s: the constitution saw the judgement %+v (%v), want the acting fail", cases[i].name, sepSaw.last.Judgement, err)
			}
		}
		_ = json.Unmarshal(mustRow(t, e, cases[4].bad).Metadata, &md)
		if len(md.Health.Alerts) != 1 {
			t.Errorf("firing alert: validation health %+v", md.Health)
		}
	})
}

// compact returns raw JSON without insignificant space (the store may
// give jsonb's spacing back).
func compact(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// mustRow returns the rollback_validation row of a deployment.
func mustRow(t *testing.T, e *env, d *roman.Deployment) *roman.RomanEvent {
	t.Helper()
	vals, err := e.store.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: roman.EventRollbackValidation, DeploymentID: d.DeploymentID})
	if err != nil || len(vals) != 1 {
		t.Fatalf("rollback_validation rows of %s: %d %v", d.DeploymentID, len(vals), err)
	}
	return vals[0]
}

// recordingValidator is a validator that keeps the last input it was
// given.
type recordingValidator struct {
	roman.Validator
	last roman.ValidationInput
}

func (v *recordingValidator) Validate(ctx context.Context, in roman.ValidationInput) (roman.Validation, error) {
	v.last = in
	return v.Validator.Validate(ctx, in)
}
