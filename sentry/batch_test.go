package sentry

import (
	"context"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/mock"
)

// TestCommitPanicFailsOnlyItsWebhook: a panic while storing (a bug) runs on
// the batcher's goroutine; it fails the webhook that caused it with an
// internal error, and the next webhook is stored.
func TestCommitPanicFailsOnlyItsWebhook(t *testing.T) {
	now := time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC)
	d := &roman.Deployment{DeploymentID: roman.NewUUID(), Service: "front-end", Environment: "production", Version: "1.4.2",
		DeployedAt: now.Add(-time.Hour), Status: roman.StatusSuccess}
	var stored int
	r := &Receiver{
		Deployments: &mock.DeploymentStore{
			ListDeploymentsFn: func(context.Context, roman.DeploymentFilter) ([]*roman.Deployment, error) {
				return []*roman.Deployment{d}, nil
			},
			CurrentDeploymentFn: func(context.Context, string, string) (*roman.Deployment, error) { return d, nil },
		},
		Ingest: &mock.IngestService{IngestErrorsFn: func(_ context.Context, b roman.ErrorBatch) (*roman.IngestResult, error) {
			if b.Events[0].Message == "boom" {
				panic("a bug while storing")
			}
			stored += len(b.Events)
			return &roman.IngestResult{Accepted: len(b.Events)}, nil
		}},
		Events: &mock.EventStore{AddRomanEventFn: func(context.Context, *roman.RomanEvent) error { return nil }},
		Clock:  func() time.Time { return now },
	}
	send := func(id, title string) (*Result, error) {
		return r.Receive(context.Background(), &Payload{Resource: ResourceError, Action: "created",
			Error: &Error{EventID: id, Release: "front-end@1.4.2", Environment: "production", Title: title, Level: "error"}}, Defaults{})
	}
	if _, err := send("0001", "boom"); roman.ErrorCode(err) != roman.EINTERNAL {
		t.Fatalf("panicking webhook: %v, want an internal error", err)
	}
	res, err := send("0002", "ReferenceError: x is not defined")
	if err != nil || res.Accepted != 1 || stored != 1 {
		t.Fatalf("next webhook: %+v %v (stored %d)", res, err, stored)
	}
}
