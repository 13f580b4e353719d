package sentry

import (
	"context"
	"sync"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/intake"
)

// MaxGroup is the most webhooks one group commit stores.
const MaxGroup = 1000

// maxListedIDs bounds the Sentry event and issue ids one integration_events
// row lists.
const maxListedIDs = 100

// job is one error webhook waiting for the group commit: its error event
// (nil when it could not be attributed, then reason says why).
type job struct {
	ctx         context.Context
	event       *roman.ErrorEvent
	attribution *roman.Attribution
	reason      string
	eventID     string
	issueID     string

	done  chan struct{}
	err   error
	rowID string
}

// batcher is a group commit: webhooks that arrive while a commit is
// running wait for the next one, which stores all their error events in
// one ingest batch (one transaction, one re-evaluation per deployment)
// and records them in one integration_events row. A lone webhook is
// committed at once, alone, so latency stays that of one write; under
// load the commits grow instead of queueing writes.
type batcher struct {
	mu      sync.Mutex
	queue   []*job
	running bool
}

// commit stores j with whatever else is waiting and returns once it is
// durable (or failed).
func (r *Receiver) commit(ctx context.Context, j *job) error {
	j.ctx = ctx
	b := &r.batch
	b.mu.Lock()
	b.queue = append(b.queue, j)
	if !b.running {
		b.running = true
		go r.drain()
	}
	b.mu.Unlock()
	<-j.done
	return j.err
}

// drain commits the queue until it is empty.
func (r *Receiver) drain() {
	b := &r.batch
	for {
		b.mu.Lock()
		n := min(len(b.queue), MaxGroup)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		group := b.queue[:n:n]
		b.queue = append([]*job(nil), b.queue[n:]...)
		b.mu.Unlock()
		if err := r.guardedFlush(group); roman.ErrorCode(err) == roman.EINVALID && len(group) > 1 {
			// One webhook the store refuses must not fail the others:
			// each is committed alone, and only the bad one fails.
			for _, j := range group {
				j.err = r.guardedFlush([]*job{j})
			}
		} else {
			for _, j := range group {
				j.err = err
			}
		}
		for _, j := range group {
			close(j.done)
		}
	}
}

// guardedFlush is flush with a panic turned into an internal error: the
// commits run on the batcher's goroutine, where a panic would end the
// process instead of failing the webhooks whose writes caused it.
func (r *Receiver) guardedFlush(group []*job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = roman.Errorf(roman.EINTERNAL, "storing Sentry webhooks panicked: %v", p)
		}
	}()
	return r.flush(group)
}

// flush stores one group: its error events in one ingest batch, then one
// integration_events row naming every release, rule and unattributed
// event.
func (r *Receiver) flush(group []*job) error {
	// The commit outlives no request's cancellation on its own: a webhook
	// whose caller gave up is stored all the same.
	ctx := context.WithoutCancel(group[0].ctx)
	now := r.now()
	rep := intake.NewReport(intake.SourceSentry)
	var evs []roman.ErrorEvent
	var eventIDs, issueIDs []string
	seenIssue := map[string]bool{}
	for _, j := range group {
		if j.event != nil {
			evs = append(evs, *j.event)
			rep.Release(j.attribution).Errors++
		} else {
			rep.Unmapped(j.reason, 1)
		}
		if j.eventID != "" && len(eventIDs) < maxListedIDs {
			eventIDs = append(eventIDs, j.eventID)
		}
		if j.issueID != "" && !seenIssue[j.issueID] && len(issueIDs) < maxListedIDs {
			seenIssue[j.issueID] = true
			issueIDs = append(issueIDs, j.issueID)
		}
	}
	if len(evs) > 0 {
		if _, err := r.Ingest.IngestErrors(ctx, roman.ErrorBatch{Events: evs, Batch: len(evs) > 1}); err != nil {
			return err
		}
	}
	detail := map[string]any{}
	if len(eventIDs) > 0 {
		detail["sentry_event_ids"] = eventIDs
	}
	if len(issueIDs) > 0 {
		detail["sentry_issue_ids"] = issueIDs
	}
	ev := rep.Event(now, detail)
	if err := r.Events.AddRomanEvent(ctx, ev); err != nil {
		return err
	}
	for _, j := range group {
		j.rowID = ev.EventID
	}
	return nil
}
