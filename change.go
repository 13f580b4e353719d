package roman

import "sync"

// Change kinds published on a Hub.
const (
	ChangeDeployment = "deployment"  // a deployment was recorded or changed
	ChangeRollback   = "rollback"    // a rollback event was created, stepped or finished
	ChangeErrors     = "errors"      // error events were ingested
	ChangeMetrics    = "metrics"     // metric samples were ingested
	ChangeRomanEvent = "roman_event" // a decision/audit row was written
)

// Change tells subscribers that something roman stores has changed, so the
// monitor can re-evaluate a deployment at once and the dashboard can update
// live. It carries ids, not data: subscribers read what they need.
type Change struct {
	Kind string `json:"kind"`
	// Service is the service of the deployment or rollback that changed;
	// empty when unknown (read as "every service of the environment").
	Service      string `json:"service,omitempty"`
	Environment  string `json:"environment,omitempty"`
	DeploymentID string `json:"deployment_id,omitempty"`
	EventID      string `json:"event_id,omitempty"`
	// Count is the number of items (e.g. error events in a batch).
	Count int `json:"count,omitempty"`
}

// Hub is an in-process publish/subscribe of Changes. Publish never blocks:
// a subscriber whose buffer is full misses the change (it must re-read state
// rather than rely on every notification). The zero value is ready to use; a
// nil *Hub ignores Publish.
type Hub struct {
	mu   sync.Mutex
	subs map[chan Change]struct{}
}

// Subscribe returns a channel of changes with the given buffer and a cancel
// function that unsubscribes and closes the channel.
func (h *Hub) Subscribe(buffer int) (<-chan Change, func()) {
	c := make(chan Change, buffer)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan Change]struct{}{}
	}
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, c)
			h.mu.Unlock()
			close(c)
		})
	}
}

// Publish sends c to every subscriber without blocking.
func (h *Hub) Publish(c Change) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s <- c:
		default:
		}
	}
}
