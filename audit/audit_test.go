package audit_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/audit"
	"github.com/odyssey-1/roman/mock"
)

// TestBreachedWindowIsExplained: a release whose window breached while the
// automatic rollback could not happen reads, in its timeline, as a breach
// and a window that ended badly, and its verdict says
// why it is not healthy.
func TestBreachedWindowIsExplained(t *testing.T) {
	const id = "11111111-1111-4111-8111-111111111111"
	t0 := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	done := t0.Add(time.Minute)
	meta := json.RawMessage(`{"deployment_id":"` + id + `"}`)
	events := []*roman.RomanEvent{
		{ID: 1, EventType: roman.EventWatchStarted, Severity: roman.SeverityInfo, Message: "Watching v2.5.3", Metadata: meta, Timestamp: done.Add(time.Second)},
		{ID: 2, EventType: roman.EventWatchBreach, Severity: roman.SeverityWarning, Message: "High error rate: 10 errors/minute", Metadata: meta, Timestamp: t0.Add(2 * time.Minute)},
		{ID: 3, EventType: roman.EventWatchFailed, Severity: roman.SeverityWarning, Message: "The watch window of v2.5.3 ended with 1 breach", Metadata: meta, Timestamp: t0.Add(6 * time.Minute)},
	}
	svc := &audit.Service{
		Deployments: &mock.DeploymentStore{GetDeploymentFn: func(context.Context, string) (*roman.Deployment, error) {
			return &roman.Deployment{DeploymentID: id, Environment: "production", Version: "v2.5.3", GitCommit: "b81c4d0",
				DeployedAt: t0, Status: roman.StatusSuccess, CompletedAt: &done}, nil
		}},
		Rollbacks: &mock.RollbackStore{ListRollbackEventsFn: func(context.Context, roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
			return nil, nil
		}},
		Snapshots: &mock.SnapshotStore{ListSnapshotsFn: func(context.Context, string) ([]*roman.Snapshot, error) { return nil, nil }},
		Audit: &mock.EventStore{ListRomanEventsFn: func(context.Context, roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
			out := make([]*roman.RomanEvent, len(events))
			for i, e := range events { // newest first, as the store answers
				out[len(events)-1-i] = e
			}
			return out, nil
		}},
	}
	ex, err := svc.Explain(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range ex.Timeline {
		kinds = append(kinds, e.Kind)
	}
	want := []string{roman.ExplainRecorded, roman.ExplainCompleted, roman.ExplainWatch, roman.EventWatchBreach, roman.ExplainWindowEnd, roman.ExplainVerdictKind}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	if ex.Verdict.HealthCheckPassed || ex.Verdict.RolledBack ||
		ex.Verdict.Why != "Not rolled back, and not marked healthy: The watch window of v2.5.3 ended with 1 breach" {
		t.Fatalf("verdict %+v", ex.Verdict)
	}
}
