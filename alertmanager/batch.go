package alertmanager

import (
	"context"
	"sync"

	"github.com/odyssey-1/roman"
)

// MaxGroupAlerts bounds the alerts one group commit stores: messages are
// added to a group while its alerts stay within it (a larger message is
// committed alone).
const MaxGroupAlerts = 1000

// eventsFunc returns the audit rows of one alert of a message, given the
// alert as the store left it (a resolved alert carries its stored
// attribution) and its outcome.
type eventsFunc func(i int, row *roman.IntegrationAlert, outcome string) []*roman.RomanEvent

// write is one message's alerts waiting for the group commit.
type write struct {
	ctx    context.Context
	rows   []*roman.IntegrationAlert
	events eventsFunc

	done     chan struct{}
	outcomes []string
	err      error
}

// batcher is a group commit: messages that arrive while a commit is
// running wait for the next one, which records all their alerts and audit
// rows in one transaction (RecordIntegrationAlerts over the group's alerts
// in arrival order, so deduplication decides exactly as if the messages
// had been recorded one after the other). A lone message is committed at
// once, alone, so its latency stays that of one write; under load the
// commits grow instead of queueing writes. A group the store refuses is
// recorded again message by message, so one message's failure fails only
// that message.
type batcher struct {
	mu      sync.Mutex
	queue   []*write
	running bool
}

// record stores rows with whatever else is waiting and returns their
// outcomes once the transaction holding them committed (or failed).
func (s *Service) record(ctx context.Context, rows []*roman.IntegrationAlert, events eventsFunc) ([]string, error) {
	if len(rows) == 0 {
		return []string{}, nil
	}
	w := &write{ctx: ctx, rows: rows, events: events, done: make(chan struct{})}
	b := &s.batch
	b.mu.Lock()
	b.queue = append(b.queue, w)
	if !b.running {
		b.running = true
		go s.drain()
	}
	b.mu.Unlock()
	<-w.done
	return w.outcomes, w.err
}

// drain commits the queue until it is empty.
func (s *Service) drain() {
	b := &s.batch
	for {
		b.mu.Lock()
		n, alerts := 0, 0
		for n < len(b.queue) && (n == 0 || alerts+len(b.queue[n].rows) <= MaxGroupAlerts) {
			alerts += len(b.queue[n].rows)
			n++
		}
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		group := b.queue[:n:n]
		b.queue = append([]*write(nil), b.queue[n:]...)
		b.mu.Unlock()
		if len(group) == 1 {
			s.flushOne(group[0])
		} else if err := guard(func() error { return s.flushGroup(group) }); err != nil {
			// Nothing of the group was written: each message is recorded
			// alone, and only one the store refuses again fails.
			if s.Logger != nil {
				s.Logger.Warn("alertmanager: a group commit failed; recording its messages one by one",
					"messages", len(group), "err", err)
			}
			for _, w := range group {
				s.flushOne(w)
			}
		}
		for _, w := range group {
			close(w.done)
		}
	}
}

// flushOne records one message's alerts in their own transaction.
func (s *Service) flushOne(w *write) {
	// The commit outlives no request's cancellation on its own: a message
	// whose sender gave up is recorded all the same, as in a group.
	ctx := context.WithoutCancel(w.ctx)
	w.err = guard(func() error {
		var err error
		w.outcomes, err = s.Store.RecordIntegrationAlerts(ctx, w.rows, func(i int, outcome string) []*roman.RomanEvent {
			return w.events(i, w.rows[i], outcome)
		})
		return err
	})
}

// guard runs fn and turns a panic into an internal error: the commits run
// on the batcher's goroutine, where a panic would end the process instead
// of failing the requests whose writes caused it.
func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = roman.Errorf(roman.EINTERNAL, "recording alerts panicked: %v", p)
		}
	}()
	return fn()
}

// flushGroup records several messages' alerts in one transaction. The
// store works on copies of the alerts, so that a failed group leaves each
// message's alerts as they were for its retry alone; on success the copies,
// with what the store filled in, replace them.
func (s *Service) flushGroup(group []*write) error {
	ctx := context.WithoutCancel(group[0].ctx)
	var all []*roman.IntegrationAlert
	type origin struct{ w, i int }
	var from []origin
	for k, w := range group {
		for i, r := range w.rows {
			c := *r
			all = append(all, &c)
			from = append(from, origin{k, i})
		}
	}
	outcomes, err := s.Store.RecordIntegrationAlerts(ctx, all, func(j int, outcome string) []*roman.RomanEvent {
		o := from[j]
		return group[o.w].events(o.i, all[j], outcome)
	})
	if err != nil {
		return err
	}
	for _, w := range group {
		w.outcomes = make([]string, len(w.rows))
	}
	for j, o := range from {
		w := group[o.w]
		*w.rows[o.i] = *all[j]
		w.outcomes[o.i] = outcomes[j]
	}
	return nil
}
