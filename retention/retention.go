// Package retention deletes what roman no longer needs, so its database
// does not grow without bound: error events and metric samples older than
// the retention setting, and alert outbox rows delivered or given up more
// than seven days ago; with Judge set, also the judge's tables (judge.go).
// Only the monitor's leader prunes; each batch is its own short
// transaction, with a pause between batches, so ingest never waits long
// behind a prune. The audit tables are never pruned.
package retention

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/odyssey-1/roman"
)

// Defaults of a Pruner.
const (
	// DefaultRetention is how long error events and metric samples are kept.
	DefaultRetention = 30 * 24 * time.Hour
	// OutboxRetention is how long delivered and given-up alert outbox rows
	// are kept.
	OutboxRetention = 7 * 24 * time.Hour
	// DefaultBatch is how many rows one delete statement removes at most.
	DefaultBatch = 5000
	// DefaultPause is the pause between two batches, which lets writers
	// waiting for the database go first.
	DefaultPause = 20 * time.Millisecond
	// DefaultBatchTime is how long one batch should hold the database's
	// writers: a batch that took longer halves the next one, one that took
	// less than half of it doubles the next (up to Batch). On SQLite, where
	// one writer at a time holds the database, this keeps ingest's wait
	// behind a batch short however slow deleting is on the machine.
	DefaultBatchTime = 25 * time.Millisecond
	// minBatch is the smallest batch the adaptation goes down to, and
	// firstBatch the size of the first batch of every run of deletes:
	// batches grow from it while they are quick, so a slow store never
	// holds its writers for a whole DefaultBatch before the adaptation
	// has measured it.
	minBatch   = 10
	firstBatch = 100
	// DefaultEvery is how much time, on the injected clock, passes between
	// two prune passes.
	DefaultEvery = time.Hour
	// DefaultPoll is how often, in real time, the Pruner looks at the
	// clock and at its leadership.
	DefaultPoll = time.Second
)

// EventPruned is the roman_events type of the row a prune pass that
// deleted something leaves, with the counts in its metadata.
const EventPruned = "retention_pruned"

// Counts is what one prune pass deleted.
type Counts struct {
	ErrorEvents   int64 `json:"error_events"`
	MetricSamples int64 `json:"metric_samples"`
	Alerts        int64 `json:"alert_outbox"`
	Batches       int   `json:"batches"`
	// Judge is what was deleted of the judge's tables (judge.go).
	Judge JudgeCounts `json:"judge"`
}

// Total is the number of rows deleted.
func (c Counts) Total() int64 { return c.ErrorEvents + c.MetricSamples + c.Alerts + c.Judge.Total() }

// Pacer is implemented by a store that prunes best at another pace than
// the defaults: batches of about batchTime each, with a pause of pause
// after each (zero: the default). SQLite, where each batch holds the one
// writer that ingest also needs, asks for batches of a few milliseconds,
// so an ingest that arrives during one waits that long at most.
type Pacer interface {
	PrunePace() (batchTime, pause time.Duration)
}

// Pruner runs prune passes while this replica leads the monitor. Configure
// the exported fields, then Start; Stop ends it. Pass runs one pass
// synchronously.
type Pruner struct {
	Store  roman.RetentionStore
	Events roman.EventStore
	// Judge, when set, also prunes the judge's tables by the same cutoff
	// (judge.go): error counters, error groups, first sightings no group
	// refers to, expired Discord interactions.
	Judge roman.JudgeRetentionStore
	// Clock gives the time the cutoffs are computed from and the pass
	// schedule (default the system clock).
	Clock roman.Clock
	// Retention is the age past which error events and metric samples are
	// deleted (default DefaultRetention).
	Retention time.Duration
	// Batch, BatchTime, Pause, Every and Poll default to DefaultBatch,
	// DefaultBatchTime, DefaultPause, DefaultEvery and DefaultPoll (or,
	// for BatchTime and Pause, to what a Store that is a Pacer asks for).
	// Batch is the largest batch; batches start small and shrink and grow
	// to take about BatchTime each (timed on Clock).
	Batch     int
	BatchTime time.Duration
	Pause     time.Duration
	Every     time.Duration
	Poll      time.Duration
	// Leading reports whether this replica leads the monitor; a pass
	// starts, and each batch runs, only while it does. Nil means always.
	Leading func() bool
	Logger  *slog.Logger

	last   time.Time // clock time of the last pass that finished
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs a pass at once when leading, then looks every Poll whether
// Every has passed on the clock since the last pass, until Stop.
func (p *Pruner) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(orDefault(p.Poll, DefaultPoll))
		defer t.Stop()
		for {
			p.maybePass(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the Pruner, cutting a pass in progress short between batches,
// and waits for it.
func (p *Pruner) Stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.cancel = nil
}

// maybePass runs a pass when this replica leads and Every has passed on
// the clock since the last one.
func (p *Pruner) maybePass(ctx context.Context) {
	if !p.leading() {
		return
	}
	now := p.now()
	if !p.last.IsZero() && now.Sub(p.last) < orDefault(p.Every, DefaultEvery) && !now.Before(p.last) {
		return
	}
	if _, err := p.Pass(ctx); err != nil && ctx.Err() == nil {
		p.logger().Error("pruning old rows failed; the next pass tries again", "err", err)
	}
	p.last = p.now()
}

// Pass deletes, batch by batch, the error events and metric samples older
// than Retention and the outbox rows settled more than OutboxRetention ago,
// as of the clock's time when it starts. It stops early, keeping what it
// deleted, when this replica stops leading or ctx ends. A pass that deleted
// something leaves a roman_events row (EventPruned) with the counts; a
// pass that found nothing only logs at debug level.
func (p *Pruner) Pass(ctx context.Context) (Counts, error) {
	start := p.now()
	keep := orDefault(p.Retention, DefaultRetention)
	signals, settled := start.Add(-keep), start.Add(-OutboxRetention)
	var c Counts
	began := time.Now()
	err := p.drain(ctx, &c, &c.ErrorEvents, func(n int) (int64, error) { return p.Store.PruneErrorEvents(ctx, signals, n) })
	if err == nil {
		err = p.drain(ctx, &c, &c.MetricSamples, func(n int) (int64, error) { return p.Store.PruneMetricSamples(ctx, signals, n) })
	}
	if err == nil {
		err = p.drain(ctx, &c, &c.Alerts, func(n int) (int64, error) { return p.Store.PruneAlerts(ctx, settled, n) })
	}
	if err == nil {
		err = p.pruneJudge(ctx, &c, signals, start) // judge.go
	}
	took := time.Since(began)
	log := p.logger().With("error_events", c.ErrorEvents, "metric_samples", c.MetricSamples, "alert_outbox", c.Alerts,
		"judge_rows", c.Judge.Total(), "batches", c.Batches, "took", took.Round(time.Millisecond).String())
	if c.Total() == 0 {
		log.Debug("retention pass found nothing to prune", "before", signals)
		return c, err
	}
	log.Info("pruned old rows", "before", signals)
	if p.Events != nil {
		md, _ := json.Marshal(map[string]any{"error_events": c.ErrorEvents, "metric_samples": c.MetricSamples,
			"alert_outbox": c.Alerts, "judge": c.Judge, "batches": c.Batches, "signals_before": signals, "outbox_before": settled,
			"retention": keep.String(), "took_ms": took.Milliseconds(), "complete": err == nil})
		e := &roman.RomanEvent{EventID: roman.NewUUID(), EventType: EventPruned, Severity: roman.SeverityInfo,
			Message: fmt.Sprintf("Pruned %d error events, %d metric samples and %d alert outbox rows older than the retention",
				c.ErrorEvents, c.MetricSamples, c.Alerts),
			Metadata: md, Timestamp: roman.UTC(p.now())}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if werr := p.Events.AddRomanEvent(wctx, e); werr != nil {
			log.Error("writing the retention row failed", "err", werr)
		}
	}
	return c, err
}

// drain runs batches of del until one deletes fewer rows than a batch,
// pausing between them, adding to *n and c.Batches.
func (p *Pruner) drain(ctx context.Context, c *Counts, n *int64, del func(limit int) (int64, error)) error {
	most := p.Batch
	if most <= 0 {
		most = DefaultBatch
	}
	target, pause := p.pace()
	batch := min(firstBatch, most)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !p.leading() {
			return fmt.Errorf("leadership lost during the pass")
		}
		start := p.now()
		got, err := del(batch)
		if err != nil {
			return err
		}
		took := p.now().Sub(start)
		c.Batches++
		*n += got
		if got < int64(batch) {
			return nil
		}
		switch {
		case took > target:
			batch = max(batch/2, min(minBatch, most))
		case took < target/2:
			batch = min(batch*2, most)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pace returns the batch time and the pause: the Pruner's own, else the
// store's (Pacer), else the defaults.
func (p *Pruner) pace() (batchTime, pause time.Duration) {
	batchTime, pause = p.BatchTime, p.Pause
	if pc, ok := p.Store.(Pacer); ok {
		bt, ps := pc.PrunePace()
		if batchTime <= 0 {
			batchTime = bt
		}
		if pause <= 0 {
			pause = ps
		}
	}
	return orDefault(batchTime, DefaultBatchTime), orDefault(pause, DefaultPause)
}

func (p *Pruner) leading() bool { return p.Leading == nil || p.Leading() }

func (p *Pruner) now() time.Time {
	if p.Clock == nil {
		return roman.SystemClock()
	}
	return p.Clock()
}

func (p *Pruner) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
