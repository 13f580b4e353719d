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

// TestUnstorableTextIsRefused: text that a store cannot keep, given by a Go
// caller rather than through the API's decoder, is refused naming the item
// and field, and nothing of the batch is stored.
func TestUnstorableTextIsRefused(t *testing.T) {
	d := &roman.Deployment{DeploymentID: "6f1c9a52-4a8e-4c55-9d0e-2f4f7a1d8e11", Environment: "production", Status: roman.StatusSuccess}
	stored := 0
	s := &ingest.Service{
		Deployments: &mock.DeploymentStore{CurrentDeploymentFn: func(context.Context, string, string) (*roman.Deployment, error) { return d, nil }},
		Signals: &mock.SignalStore{InsertErrorEventsFn: func(_ context.Context, evs []roman.ErrorEvent) error {
			stored += len(evs)
			return nil
		}},
		Hub: &roman.Hub{}, Clock: func() time.Time { return time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC) },
	}
	good := roman.ErrorEvent{Environment: "production", Message: "boom"}
	for _, tc := range []struct {
		edit func(e *roman.ErrorEvent)
		want string
	}{
		{func(e *roman.ErrorEvent) { e.Message = "a\x00b" }, "events[1].message: contains a NUL character, which cannot be stored"},
		{func(e *roman.ErrorEvent) { e.Fingerprint = "\x00" }, "events[1].fingerprint: contains a NUL character, which cannot be stored"},
		{func(e *roman.ErrorEvent) { e.Severity = "err\x00" }, "events[1].severity: contains a NUL character, which cannot be stored"},
		{func(e *roman.ErrorEvent) { e.Message = "a\xffb" }, "events[1].message: not valid UTF-8"},
	} {
		bad := good
		tc.edit(&bad)
		_, err := s.IngestErrors(context.Background(), roman.ErrorBatch{Events: []roman.ErrorEvent{good, bad}, Batch: true})
		if roman.ErrorCode(err) != roman.EINVALID || roman.ErrorMessage(err) != tc.want {
			t.Errorf("%+v: %v, want %q", bad, err, tc.want)
		}
	}
	if stored != 0 {
		t.Fatalf("stored %d events", stored)
	}
}
