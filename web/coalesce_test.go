package web

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSummaryBuildsCoalesce checks the summary's build sharing: requests
// that arrive while a build runs share one next build, which starts only
// after they arrived (they never get the older build's answer), and at
// most one build runs at a time.
func TestSummaryBuildsCoalesce(t *testing.T) {
	var b builds
	var calls, running, most atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (*Summary, error) {
		n := calls.Add(1)
		if r := running.Add(1); r > most.Load() {
			most.Store(r)
		}
		defer running.Add(-1)
		if n == 1 {
			<-release // the first build runs until the others have arrived
		}
		return &Summary{Range: string(rune('0' + n))}, nil
	}
	first := make(chan *Summary, 1)
	go func() {
		s, _ := b.do(context.Background(), "24h", fn)
		first <- s
	}()
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	got := make([]*Summary, 3)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = b.do(context.Background(), "24h", fn)
		}()
	}
	time.Sleep(50 * time.Millisecond) // the three wait behind the first build
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d builds ran while the first was running", n)
	}
	close(release)
	wg.Wait()
	if s := <-first; s.Range != "1" {
		t.Errorf("first request got build %s", s.Range)
	}
	for i, s := range got {
		if s == nil || s.Range != "2" {
			t.Errorf("request %d got %+v, want the second build (started after it arrived)", i, s)
		}
	}
	if calls.Load() != 2 || most.Load() != 1 {
		t.Errorf("%d builds, at most %d at once; want 2 and 1", calls.Load(), most.Load())
	}
	// Afterwards a request builds at once again.
	if s, _ := b.do(context.Background(), "24h", fn); s.Range != "3" {
		t.Errorf("a later request got %+v", s)
	}
}
