package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/ingest"
	"github.com/odyssey-1/roman/mock"
)

// TestSaturatedWritePathAnswersUnavailable: when every write slot is busy
// longer than MaxWait, a batch is refused with EUNAVAILABLE (503 with
// Retry-After) instead of queueing without limit, and is not stored.
func TestSaturatedWritePathAnswersUnavailable(t *testing.T) {
	d := &roman.Deployment{DeploymentID: "6f1c9a52-4a8e-4c55-9d0e-2f4f7a1d8e11", Environment: "production", Status: roman.StatusSuccess}
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	stored := 0
	deployments := &mock.DeploymentStore{
		CurrentDeploymentFn: func(context.Context, string, string) (*roman.Deployment, error) { return d, nil },
	}
	signals := &mock.SignalStore{
		InsertErrorEventsFn: func(_ context.Context, evs []roman.ErrorEvent) error {
			entered <- struct{}{}
			<-release
			stored += len(evs)
			return nil
		},
	}
	hub := &roman.Hub{}
	changes, cancel := hub.Subscribe(10)
	defer cancel()
	s := &ingest.Service{Deployments: deployments, Signals: signals, Hub: hub, Clock: func() time.Time { return time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC) },
		MaxConcurrent: 1, MaxWait: 50 * time.Millisecond}
	batch := roman.ErrorBatch{Events: []roman.ErrorEvent{{Environment: "production", Message: "x"}}}
	first := make(chan error, 1)
	go func() {
		_, err := s.IngestErrors(context.Background(), batch)
		first <- err
	}()
	<-entered // the first batch holds the only write slot
	if _, err := s.IngestErrors(context.Background(), batch); roman.ErrorCode(err) != roman.EUNAVAILABLE {
		t.Fatalf("saturated: %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if stored != 1 {
		t.Fatalf("stored %d events, want only the first batch", stored)
	}
	c := <-changes
	if c.Kind != roman.ChangeErrors || c.DeploymentID != d.DeploymentID || c.Count != 1 {
		t.Fatalf("change: %+v", c)
	}
}
