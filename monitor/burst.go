package monitor

import "time"

// BurstGap is the least wall time, on average, between evaluations of a
// deployment that change notifications ask for. A deployment may be
// evaluated burstAllowance times back to back (a batch after a quiet
// spell, and the next one right after it, are each evaluated at once);
// during a burst (a thousand Alertmanager webhooks or error batches a
// second for one release) the notifications beyond that are taken together
// by one evaluation every BurstGap, which sees everything stored by then
// and so decides as the evaluations it replaces would have. A trigger
// inside a burst is thereby decided at most this much later; ticker passes
// are not held back.
const BurstGap = 10 * time.Millisecond

// burstAllowance is how many evaluations on notifications a deployment
// may have back to back before they are spaced BurstGap apart.
const burstAllowance = 2

// burst is a watch's allowance of evaluations on notifications: a token
// bucket of burstAllowance tokens that refills one token per BurstGap.
type burst struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date (zero: full)
}

// take uses a token at wall time now and reports true, or reports false and
// when the next token is due.
func (b *burst) take(now time.Time) (bool, time.Time) {
	if b.at.IsZero() {
		b.tokens = burstAllowance
	} else {
		b.tokens = min(burstAllowance, b.tokens+float64(now.Sub(b.at))/float64(BurstGap))
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, time.Time{}
	}
	return false, now.Add(time.Duration((1 - b.tokens) * float64(BurstGap)))
}

// spaceOut holds back, from a pass that change notifications started, the
// deployments marked by a notification that have used up their allowance
// (burst): they stay marked (with the arrival time of their first batch,
// for the detection-latency metric) and a timer wakes the worker when the
// first of them is due. Deployments the monitor marked itself (a new
// watch, a pulled sample) are not held back. m.mu is held.
func (m *Monitor) spaceOut(dirty map[string]bool, arrived map[string]time.Time) {
	wall := time.Now()
	var due time.Time
	for id := range dirty {
		w := m.byID[id]
		if _, notified := arrived[id]; !notified || w == nil {
			continue // marked by the monitor itself: at once
		}
		ok, next := w.burst.take(wall)
		if ok {
			continue
		}
		delete(dirty, id)
		m.dirty[id] = true
		if _, newer := m.arrived[id]; !newer {
			m.arrived[id] = arrived[id]
		}
		if due.IsZero() || next.Before(due) {
			due = next
		}
	}
	if due.IsZero() || (!m.wakeAt.IsZero() && !m.wakeAt.After(due) && m.wakeAt.After(wall)) {
		return // nothing held back, or a timer wakes the worker in time
	}
	m.wakeAt = due
	time.AfterFunc(due.Sub(wall), func() {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	})
}
