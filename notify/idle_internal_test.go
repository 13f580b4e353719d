package notify

import (
	"context"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

// TestIdleOneRoundForQueuedChanges: the changes a rollback publishes at
// each of its steps, queued while a round ran, wake the sender for one
// round, not one each; the ticker's round drops them as well.
func TestIdleOneRoundForQueuedChanges(t *testing.T) {
	ctx := context.Background()
	wake := make(chan roman.Change, 16)
	for i := 0; i < 10; i++ {
		wake <- roman.Change{Kind: roman.ChangeRollback, EventID: "e"}
	}
	wake <- roman.Change{Kind: roman.ChangeRomanEvent}
	if !idle(ctx, nil, wake) {
		t.Fatal("idle returned false with changes queued")
	}
	if n := len(wake); n != 0 {
		t.Errorf("%d changes left queued after the wake: each would make another round", n)
	}

	// The ticker wakes it too, and the queue is dropped then as well.
	wake <- roman.Change{Kind: roman.ChangeRollback}
	tick := make(chan time.Time, 1)
	tick <- time.Now()
	if !idle(ctx, tick, wake) || len(wake) != 0 {
		t.Errorf("ticker round: %d changes left queued", len(wake))
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if idle(cctx, nil, wake) {
		t.Error("idle returned true after its context ended")
	}
}
