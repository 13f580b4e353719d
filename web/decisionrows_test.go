package web

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestSummaryDecisionBehindOtherRows checks that a card finds its
// deployment's decision however many other roman_events rows (here 300
// validations, more than a card reads) are newer than it, on both stores:
// the card reads only rows of the decision types, a bounded number of
// them.
func TestSummaryDecisionBehindOtherRows(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, dbURL string) {
		f := newFixtureOn(t, dbURL)
		ctx := context.Background()
		done := f.now.Add(-20 * time.Minute)
		d := &roman.Deployment{Environment: "production", Version: "v9", GitCommit: "c0ffee9", GitBranch: "main",
			Status: roman.StatusSuccess, DeployedAt: done.Add(-time.Minute), CompletedAt: &done}
		if err := f.st.CreateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
		meta := func(extra string) json.RawMessage {
			return json.RawMessage(fmt.Sprintf(`{"deployment_id":%q,"environment":"production","service":"default","version":"v9"%s}`, d.DeploymentID, extra))
		}
		breachAt := f.now.Add(-15 * time.Minute)
		if err := f.st.AddRomanEvent(ctx, &roman.RomanEvent{EventType: roman.EventWatchBreach, Severity: roman.SeverityWarning,
			Message: "breach", Metadata: meta(`,"reason":"High error rate: 9 errors/minute"`), Timestamp: breachAt}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 300; i++ {
			if err := f.st.AddRomanEvent(ctx, &roman.RomanEvent{EventType: roman.EventRollbackValidation, Severity: roman.SeverityInfo,
				Message: "validated", Metadata: meta(""), Timestamp: breachAt.Add(time.Duration(i+1) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		s := f.summary(t)
		if len(s.Environments) != 1 {
			t.Fatalf("cards: %+v", s.Environments)
		}
		if dc := s.Environments[0].Decision; dc == nil || dc.Kind != DecisionBreach || dc.Reason != "High error rate: 9 errors/minute" {
			t.Fatalf("decision: %+v, want the breach behind 300 newer rows", dc)
		}
	})
}
