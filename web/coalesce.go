package web

import (
	"context"
	"sync"
)

// builds runs at most one summary build per range at a time and shares
// each build among the requests that wait for it. A request that arrives
// while a build runs never takes that build's answer (it may predate the
// change the request was sent for): it waits for the next build, which
// starts when the running one ends and answers every request that arrived
// in between. However many dashboards refresh at once, the summary then
// costs one build at a time, and the processor stays free for ingest and
// detection; every answer is still computed after its request arrived.
type builds struct {
	mu      sync.Mutex
	running map[string]*build // the build in progress, per range
	next    map[string]*build // the build that starts when it ends
}

// build is one summary build and its result.
type build struct {
	done chan struct{}
	s    *Summary
	err  error
}

// do returns the result of a build of key that starts after the call,
// running fn for it when no other request does.
func (b *builds) do(ctx context.Context, key string, fn func(ctx context.Context) (*Summary, error)) (*Summary, error) {
	b.mu.Lock()
	if b.running == nil {
		b.running, b.next = map[string]*build{}, map[string]*build{}
	}
	run := b.running[key]
	if run == nil {
		f := &build{done: make(chan struct{})}
		b.running[key] = f
		b.mu.Unlock()
		b.run(ctx, key, f, fn)
		return f.s, f.err
	}
	f, lead := b.next[key], false
	if f == nil {
		f, lead = &build{done: make(chan struct{})}, true
		b.next[key] = f
	}
	b.mu.Unlock()
	if lead {
		// The running build promotes f to running when it ends.
		<-run.done
		b.run(ctx, key, f, fn)
		return f.s, f.err
	}
	select {
	case <-f.done:
		return f.s, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run builds f (outliving the request that runs it, since others wait for
// it), then makes the next build of key the running one.
func (b *builds) run(ctx context.Context, key string, f *build, fn func(ctx context.Context) (*Summary, error)) {
	f.s, f.err = fn(context.WithoutCancel(ctx))
	b.mu.Lock()
	delete(b.running, key)
	if n := b.next[key]; n != nil {
		b.running[key] = n
		delete(b.next, key)
	}
	b.mu.Unlock()
	close(f.done)
}
