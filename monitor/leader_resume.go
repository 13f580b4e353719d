package monitor

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/odyssey-1/roman"
)

// DefaultGraceRounds is how many consecutive leader rounds a rollback's
// replica must be seen gone before another replica claims the rollback.
const DefaultGraceRounds = 3

// OrphanStore finds and claims the unfinished rollbacks of replicas that
// died; *sqldb.DB implements it on PostgreSQL.
type OrphanStore interface {
	// Orphans returns the unfinished rollback events whose replica is not
	// alive, as event id → the owner recorded on the event ("" when none
	// was).
	Orphans(ctx context.Context) (map[string]string, error)
	// ClaimRollback makes this replica the event's owner if its owner is
	// still owner and gone; it reports whether it did.
	ClaimRollback(ctx context.Context, eventID, owner string) (bool, error)
}

// Resumer resumes, on the replica that leads, the rollbacks whose replica
// died (crash safety with several replicas). While a replica
// runs a rollback it holds its presence lock; an unfinished event whose
// replica's lock is free in GraceRounds consecutive rounds is claimed (a
// compare-and-set on the event's owner, so exactly one replica wins) and
// resumed here. The grace lets a live replica whose lock session dropped
// for a moment (a database restart) take its presence lock again before
// anyone decides it is dead. Call Round on every leader round
// (Elector.WhileLeading) and give the rollback service Claim.
type Resumer struct {
	Store OrphanStore
	// Resume resumes the unfinished events that Claim accepts
	// (rollback.Service.Resume with its Claim set to this Resumer's).
	Resume func(ctx context.Context) (int, error)
	// Replica is this replica's id, written as the owner of what it claims.
	Replica string
	// GraceRounds defaults to DefaultGraceRounds.
	GraceRounds int
	Logger      *slog.Logger

	mu    sync.Mutex
	seen  map[string]int    // event id → consecutive rounds seen orphaned
	ready map[string]string // event id → owner, for events past the grace
}

// Round looks for orphaned rollbacks and resumes those past the grace.
func (r *Resumer) Round(ctx context.Context) {
	orphans, err := r.Store.Orphans(ctx)
	if err != nil {
		r.logger().Error("looking for rollbacks of replicas that died failed", "err", err)
		return
	}
	grace := r.GraceRounds
	if grace <= 0 {
		grace = DefaultGraceRounds
	}
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[string]int{}
	}
	for id := range r.seen {
		if _, ok := orphans[id]; !ok {
			delete(r.seen, id) // finished, claimed by another, or its replica is back
		}
	}
	r.ready = map[string]string{}
	for id, owner := range orphans {
		r.seen[id]++
		if r.seen[id] >= grace {
			r.ready[id] = owner
		}
	}
	n := len(r.ready)
	r.mu.Unlock()
	if n == 0 {
		return
	}
	resumed, err := r.Resume(ctx)
	if err != nil {
		r.logger().Error("resuming rollbacks of replicas that died failed", "err", err)
		return
	}
	if resumed > 0 {
		r.logger().Warn("resumed rollbacks of replicas that died", "count", resumed)
	}
}

// Claim is the rollback service's Claim: it accepts an event only when the
// event is past the grace and the store's claim succeeds, and then records
// this replica as the owner in ev.Metadata too (a run rewrites its event's
// metadata whole, which must keep the new owner).
func (r *Resumer) Claim(ctx context.Context, ev *roman.RollbackEvent) bool {
	r.mu.Lock()
	owner, ok := r.ready[ev.EventID]
	if ok {
		delete(r.ready, ev.EventID)
		delete(r.seen, ev.EventID)
	}
	r.mu.Unlock()
	if !ok {
		return false
	}
	claimed, err := r.Store.ClaimRollback(ctx, ev.EventID, owner)
	if err != nil {
		r.logger().Error("claiming a rollback of a replica that died failed", "event_id", ev.EventID, "err", err)
		return false
	}
	if !claimed {
		return false
	}
	meta := map[string]any{}
	_ = json.Unmarshal(ev.Metadata, &meta)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["replica"] = r.Replica
	ev.Metadata = mustJSON(meta)
	r.logger().Warn("claimed the rollback of a replica that died", "event_id", ev.EventID, "environment", ev.Environment, "previous_replica", owner)
	return true
}

func (r *Resumer) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}
