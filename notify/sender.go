package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
)

// Sender defaults.
const (
	DefaultMaxAge       = 24 * time.Hour
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultPollInterval = time.Second
	DefaultBatch        = 50
)

// Sender delivers the alert outbox. Each round it claims the rows that are
// due (at most one per channel and deployment, so each deployment's alerts
// arrive in order on each channel), delivers them concurrently, and settles
// each: delivered; retried later with exponential backoff and jitter (a 429
// waits its retry_after and defers the whole channel); or given up, with a
// roman_events row, when the channel refuses it for good or it has been
// failing for longer than MaxAge. Rows survive restarts in the database, and
// a claim is a lease, so rows a crashed sender held are retried once the
// lease ends; a graceful Close lets deliveries in flight finish first.
//
// Delivery is at least once: a sender that dies between a channel's
// "OK" and marking the row delivered sends that alert again after the lease.
// The generic webhook carries the event id so receivers can drop such a
// repeat; in normal operation, restarts included, nothing is sent twice.
type Sender struct {
	Outbox roman.OutboxStore
	// Notifier returns the notifier of a channel (roman.ChannelDiscord, ...)
	// in an environment, or nil. A row whose channel has no notifier (the
	// configuration changed since it was queued) is given up.
	Notifier func(channel, environment string) roman.Notifier
	// Clock decides what is due and stamps deliveries.
	Clock  roman.Clock
	Logger *slog.Logger
	// Hub, when set, wakes the sender when a rollback changes, so alerts
	// go out without waiting for the next poll.
	Hub *roman.Hub

	// MaxAge is how long a failing alert is retried (default 24h).
	MaxAge time.Duration
	// MinBackoff and MaxBackoff bound the wait after the n-th failure,
	// MinBackoff·2^(n-1) capped at MaxBackoff, of which a random half is
	// taken off (jitter) so that many failed rows do not retry in step.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one delivery attempt (default DefaultTimeout).
	Timeout time.Duration
	// Lease is how long a claim holds a row (default 2·Timeout + 30s).
	Lease time.Duration
	// PollInterval is how often the outbox is looked at (default 1s). It
	// is real time: what is due is decided by Clock.
	PollInterval time.Duration
	// Batch is how many rows one round claims at most (default 50).
	Batch int
	// Jitter returns a number in [0, 1) (default math/rand/v2).
	Jitter func() float64

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	// paused holds, per channel, the end of a 429's retry_after.
	paused map[string]time.Time
}

// Start runs the sender in the background until Close.
func (s *Sender) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		s.loop(ctx)
	}()
}

// Close stops the sender and waits for deliveries in flight (each bounded
// by Timeout) or for ctx.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Sender) loop(ctx context.Context) {
	var wake <-chan roman.Change
	if s.Hub != nil {
		c, unsubscribe := s.Hub.Subscribe(16)
		defer unsubscribe()
		wake = c
	}
	poll := s.PollInterval
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		n, err := s.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger().Error("alert sender round failed", "err", err)
		}
		if n > 0 && n >= s.batch() && ctx.Err() == nil {
			continue // more may be due right away
		}
		if !idle(ctx, t.C, wake) {
			return
		}
	}
}

// idle waits for the next round: the ticker, or a change that may have
// queued an alert (a rollback or a roman_events row). Other changes (an
// ingested batch, say) are skipped without a round, so a busy ingest does
// not make the sender claim on every batch. The changes already queued
// when it wakes are dropped: each was published after its rows were
// written, so the round that follows claims them all (a rollback
// publishes a change at each of its steps, and they used to make a round
// each). It returns false when ctx ends.
func idle(ctx context.Context, tick <-chan time.Time, wake <-chan roman.Change) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick:
			drain(wake)
			return true
		case c := <-wake:
			if c.Kind == roman.ChangeRollback || c.Kind == roman.ChangeRomanEvent {
				drain(wake)
				return true
			}
		}
	}
}

// drain drops the changes queued on wake.
func drain(wake <-chan roman.Change) {
	for {
		select {
		case <-wake:
		default:
			return
		}
	}
}

// RunOnce claims the rows due now, delivers them and settles each, and
// returns how many it handled. Deliveries run to completion even when ctx
// ends, so that no claimed row is left unsettled.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	if ctx.Err() != nil {
		return 0, nil
	}
	// A channel that answered 429 stays paused for alerts queued since.
	now := s.now()
	s.mu.Lock()
	for ch, until := range s.paused {
		if !until.After(now) {
			delete(s.paused, ch)
			continue
		}
		if err := s.Outbox.DeferAlertChannel(ctx, ch, until); err != nil {
			s.mu.Unlock()
			return 0, err
		}
	}
	s.mu.Unlock()
	rows, err := s.Outbox.ClaimAlerts(ctx, now, s.lease(), s.batch())
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, row := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.deliver(row)
		}()
	}
	wg.Wait()
	return len(rows), nil
}

// deliver makes one attempt at a claimed row and settles it.
func (s *Sender) deliver(row *roman.OutboxAlert) {
	// Settling must happen even during shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout()+10*time.Second)
	defer cancel()
	log := s.logger().With("outbox_id", row.ID, "channel", row.Channel, "kind", row.Kind,
		"deployment_id", row.DeploymentID, "attempt", row.Attempts)
	var n roman.Notifier
	if s.Notifier != nil {
		n = s.Notifier(row.Channel, row.Environment)
	}
	if n == nil {
		s.giveUp(ctx, log, row, fmt.Sprintf("channel %q is not configured", row.Channel))
		return
	}
	actx, acancel := context.WithTimeout(ctx, s.timeout())
	var retry bool
	var err error
	if an, ok := n.(AttemptNotifier); ok {
		retry, err = an.NotifyAttempt(actx, &row.Alert, row.Attempts)
	} else {
		retry, err = n.Notify(actx, &row.Alert)
	}
	acancel()
	now := s.now()
	if err == nil {
		if err := s.Outbox.AlertDelivered(ctx, row.ID, now); err != nil {
			log.Error("marking an alert delivered failed", "err", err)
			return
		}
		log.Info("alert delivered")
		return
	}
	msg := err.Error()
	if !retry {
		s.giveUp(ctx, log, row, "refused by the channel: "+msg)
		return
	}
	if age := now.Sub(row.CreatedAt); age >= s.maxAge() {
		s.giveUp(ctx, log, row, fmt.Sprintf("still failing after %s: %s", age.Round(time.Second), msg))
		return
	}
	next := now.Add(s.backoff(row.Attempts))
	if d, ok := RetryAfter(err); ok {
		next = now.Add(d)
		s.mu.Lock()
		if s.paused == nil {
			s.paused = map[string]time.Time{}
		}
		if next.After(s.paused[row.Channel]) {
			s.paused[row.Channel] = next
		}
		s.mu.Unlock()
		if err := s.Outbox.DeferAlertChannel(ctx, row.Channel, next); err != nil {
			log.Error("deferring a rate-limited channel failed", "err", err)
		}
	}
	if err := s.Outbox.RetryAlert(ctx, row.ID, next, msg); err != nil {
		log.Error("scheduling an alert retry failed", "err", err)
		return
	}
	log.Warn("alert delivery failed; will retry", "err", msg, "next_attempt_at", next)
}

// AttemptNotifier is a roman.Notifier that is told which attempt at a row
// it makes (1 for the first), so that a retry can first check whether an
// earlier attempt got through before the sender could settle the row (the
// GitHub deployments mirror does).
type AttemptNotifier interface {
	roman.Notifier
	NotifyAttempt(ctx context.Context, a *roman.Alert, attempt int) (retry bool, err error)
}

// giveUp marks a row given up and writes the roman_events row that says so.
func (s *Sender) giveUp(ctx context.Context, log *slog.Logger, row *roman.OutboxAlert, why string) {
	meta, _ := json.Marshal(map[string]any{
		"deployment_id": row.DeploymentID, "environment": row.Environment, "channel": row.Channel,
		"kind": row.Kind, "alert_event_id": row.EventID, "outbox_id": row.ID, "attempts": row.Attempts,
		"reason": why,
	})
	now := s.now()
	e := &roman.RomanEvent{EventType: roman.EventAlertUndeliverable, Severity: roman.SeverityError,
		Message:  fmt.Sprintf("Alert %s could not be delivered to %s: %s", row.Kind, row.Channel, why),
		Metadata: meta, Timestamp: roman.UTC(now)}
	if err := s.Outbox.GiveUpAlert(ctx, row.ID, now, why, e); err != nil {
		log.Error("giving up an alert failed", "err", err)
		return
	}
	log.Error("alert given up", "reason", why)
}

// backoff is the wait after the n-th failed attempt, with jitter.
func (s *Sender) backoff(n int) time.Duration {
	lo, hi := s.MinBackoff, s.MaxBackoff
	if lo <= 0 {
		lo = DefaultMinBackoff
	}
	if hi <= 0 {
		hi = DefaultMaxBackoff
	}
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	j := s.Jitter
	if j == nil {
		j = rand.Float64
	}
	return d - time.Duration(j()*float64(d)/2)
}

func (s *Sender) now() time.Time {
	if s.Clock == nil {
		return roman.SystemClock()
	}
	return roman.UTC(s.Clock())
}

func (s *Sender) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

func (s *Sender) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return 2*s.timeout() + 30*time.Second
}

func (s *Sender) maxAge() time.Duration {
	if s.MaxAge <= 0 {
		return DefaultMaxAge
	}
	return s.MaxAge
}

func (s *Sender) batch() int {
	if s.Batch <= 0 {
		return DefaultBatch
	}
	return s.Batch
}

func (s *Sender) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
