package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/odyssey-1/roman"
)

// coalesce is how long the live stream gathers changes before it sends one
// message: an ingest flood publishes a change per batch, and the page needs
// only one nudge to re-fetch the summary.
const coalesce = 100 * time.Millisecond

// streamBuffer is each stream's hub buffer; a full buffer drops changes,
// which costs nothing here since one pending nudge is enough.
const streamBuffer = 64

// ChangeMessage is the data of a "change" event on the live stream: the
// kinds of change (deployment, rollback, errors, metrics, roman_event) and
// the environments they concern, since the last message.
type ChangeMessage struct {
	Kinds        []string `json:"kinds"`
	Environments []string `json:"environments"`
}

// Events answers GET /app/admin/roman-dashboard/events (it implements
// api.DashboardHandlers): it streams Server-Sent Events: "ready" once connected, then "change"
// whenever the hub reports one (at most every 100 ms), with a keep-alive
// comment every Heartbeat. It ends when the client goes away or the
// dashboard is closed.
func (d *Dashboard) Events(w http.ResponseWriter, r *http.Request) error {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// Tell nginx-style proxies not to buffer the stream.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var changes <-chan roman.Change
	if d.cfg.Hub != nil {
		c, cancel := d.cfg.Hub.Subscribe(streamBuffer)
		defer cancel()
		changes = c
	}
	send := func(format string, args ...any) bool {
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 2000\nevent: ready\ndata: {}\n\n") {
		return nil
	}
	heartbeat := time.NewTicker(d.cfg.Heartbeat)
	defer heartbeat.Stop()
	var pending *ChangeMessage
	var flush <-chan time.Time
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-d.done:
			return nil
		case <-heartbeat.C:
			if !send(": keep-alive\n\n") {
				return nil
			}
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			if pending == nil {
				pending = &ChangeMessage{Kinds: []string{}, Environments: []string{}}
				flush = time.After(coalesce)
			}
			if !slices.Contains(pending.Kinds, c.Kind) {
				pending.Kinds = append(pending.Kinds, c.Kind)
			}
			if c.Environment != "" && !slices.Contains(pending.Environments, c.Environment) {
				pending.Environments = append(pending.Environments, c.Environment)
			}
		case <-flush:
			b, _ := json.Marshal(pending)
			pending, flush = nil, nil
			if !send("event: change\ndata: %s\n\n", b) {
				return nil
			}
		}
	}
}
