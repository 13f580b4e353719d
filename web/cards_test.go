package web

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestBatchedSummaryMatchesPerCard builds the summary of the decisions
// scenario, with errors (whole and partial seconds, in the last hour),
// new errors, judgements and rollbacks, once with the store's batched
// reads (every card at once, the health with CheckMany) and once card by
// card, on both stores: the two summaries are the same, byte for byte.
func TestBatchedSummaryMatchesPerCard(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, dbURL string) {
		f := newFixtureOn(t, dbURL)
		sc := recordDecisions(t, f)
		ctx := context.Background()
		thresholds := func(string) roman.Thresholds {
			th := roman.DefaultThresholds()
			th.NewErrorsMin = 1
			return th
		}
		checker := &health.Checker{Store: f.st, Thresholds: thresholds, Clock: f.clock, Fingerprints: f.st, Alerts: f.st}
		dash := New(Config{Store: f.st, Health: checker, Clock: f.clock, Thresholds: thresholds, Fingerprints: f.st,
			WatchWindow: func(string) time.Duration { return 5 * time.Minute }})
		t.Cleanup(dash.Close)

		// An earlier release of search/production had fingerprint old, so
		// the breached release's new fingerprints are new errors.
		prev := &roman.Deployment{Service: "search", Environment: "production", Version: "s0", Status: roman.StatusSuccess,
			DeployedAt: f.now.Add(-3 * time.Hour)}
		if err := f.st.CreateDeployment(ctx, prev); err != nil {
			t.Fatal(err)
		}
		var evs []roman.ErrorEvent
		evs = append(evs, roman.ErrorEvent{DeploymentID: prev.DeploymentID, OccurredAt: f.now.Add(-2 * time.Hour), Message: "old", Fingerprint: "old"})
		for i, d := range []*roman.Deployment{sc.bad, sc.restored, sc.cooled, sc.passed, sc.failed, sc.breached} {
			for j := range 40 + 10*i {
				at := f.now.Add(-time.Duration(j*(i+1)*7919) * time.Millisecond) // whole and partial seconds over the hour
				fp := fmt.Sprintf("fp-%d", j%(3+i))
				if d == sc.breached && j%2 == 0 {
					fp = "old"
				}
				evs = append(evs, roman.ErrorEvent{DeploymentID: d.DeploymentID, OccurredAt: at, Message: "boom " + fp, Fingerprint: fp})
			}
		}
		if err := f.st.InsertErrorEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		// Judgements: an acting verdict behind a newer shadow one.
		for i, j := range []roman.Judgement{{Judge: "threshold", Verdict: "pass", Why: "acting"}, {Judge: "baseline", Shadow: true, Verdict: "fail", Why: "shadow"}} {
			md, _ := json.Marshal(map[string]any{"deployment_id": sc.passed.DeploymentID, "judgement": j})
			if err := f.st.AddRomanEvent(ctx, &roman.RomanEvent{EventType: roman.EventHealthJudgement, Severity: roman.SeverityInfo,
				Message: j.Why, Metadata: md, Timestamp: f.now.Add(time.Duration(i-10) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}

		batched, err := dash.Build(ctx, "24h", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		dash.perCard = true
		perCard, err := dash.Build(ctx, "24h", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.MarshalIndent(batched, "", " ")
		b, _ := json.MarshalIndent(perCard, "", " ")
		if string(a) != string(b) {
			t.Fatalf("the batched summary differs from the per-card one:\nbatched: %s\nper card: %s", a, b)
		}

		// The comparison covers every part of a card.
		var rates, newErrors, judgements, rollbacks, decisions int
		for _, c := range batched.Environments {
			for _, s := range c.Chart.Series {
				for _, r := range s.Rates {
					if r > 0 {
						rates++
					}
				}
			}
			newErrors += len(c.NewErrors)
			if c.Judgement != nil {
				judgements++
				if c.Judgement.Why != "acting" {
					t.Errorf("judgement: %+v", c.Judgement)
				}
			}
			if c.Rollback != nil {
				rollbacks++
			}
			if c.Decision != nil {
				decisions++
			}
		}
		if rates == 0 || newErrors == 0 || judgements != 1 || rollbacks == 0 || decisions != 5 || len(batched.Rollbacks) == 0 {
			t.Errorf("the scenario does not cover the cards: %d nonzero rates, %d new errors, %d judgements, %d rollbacks, %d decisions, %d rollbacks listed",
				rates, newErrors, judgements, rollbacks, decisions, len(batched.Rollbacks))
		}
	})
}
