package monitor

import "time"

// BurstGap is the least wall time between two evaluations of a deployment
// that change notifications ask for. A notification for a deployment not
// evaluated that recently is evaluated at once, as before; during a burst
// (a thousand Alertmanager webhooks or error batches a second for one
// release) the notifications that arrive within the gap are taken together
// by one evaluation at its end, which sees everything they stored and so
// decides as the evaluations it replaces would have. A trigger inside a
// burst is thereby decided at most this much later; ticker passes are not
// held back.
const BurstGap = 10 * time.Millisecond

// spaceOut holds back, from a pass that change notifications started, the
// deployments marked by a notification and evaluated on one less than
// BurstGap ago: they stay marked (with the arrival time of their first
// batch, for the detection-latency metric) and a timer wakes the worker
// when the first of them is due. Deployments the monitor marked itself (a
// new watch, a pulled sample) are not held back. m.mu is held.
func (m *Monitor) spaceOut(dirty map[string]bool, arrived map[string]time.Time) {
	wall := time.Now()
	var due time.Time
	for id := range dirty {
		w := m.byID[id]
		if _, notified := arrived[id]; !notified || w == nil {
			continue // marked by the monitor itself (a new watch, a sample): at once
		}
		next := w.notifiedAt.Add(BurstGap)
		if !wall.Before(next) {
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
