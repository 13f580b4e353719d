package monitor

import "context"

// Backfill limits of one tick: batches of backfillBatch events, at most
// backfillBatches of them, so a large backlog (a table of old events from
// before fingerprints) is worked off over many ticks without holding one
// up for long.
const (
	backfillBatch   = 500
	backfillBatches = 4
)

// backfill gives roman's fingerprint to error events stored without one
// (inserted straight into the table) and groups them, and marks their
// deployments for this pass's evaluation, so their new errors count within
// a tick. Only the leader's ticks run it.
func (m *Monitor) backfill(ctx context.Context) {
	if m.Backfill == nil {
		return
	}
	for range backfillBatches {
		n, ids, err := m.Backfill.FingerprintUnmarked(ctx, backfillBatch)
		if err != nil {
			m.Logger.Error("monitor: fingerprinting error events stored without one failed", "err", err)
			return
		}
		if len(ids) > 0 {
			m.mu.Lock()
			for _, id := range ids {
				m.dirty[id] = true
			}
			m.mu.Unlock()
		}
		if n < backfillBatch {
			return
		}
	}
}
