package server

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// fileReserve is how many open files the server keeps for itself (its
// databases, logs, outgoing requests) when it fits its connection cap under
// the open-file limit.
const fileReserve = 64

// connectionCap returns the cap on open connections: want, lowered when the
// process's open-file limit leaves less room.
func connectionCap(want int, log *slog.Logger) int {
	limit, ok := openFileLimit()
	if !ok || limit > 1<<30 {
		return want
	}
	room := max(int(limit)-fileReserve, int(limit)/2, 1)
	if room < want {
		log.Warn("the open-file limit leaves room for fewer connections than max_connections; capping lower",
			"max_connections", want, "open_file_limit", limit, "cap", room)
		return room
	}
	return want
}

// limitListener caps the connections open at once. At the cap, Accept
// closes the connection that has been idle longest (a keep-alive connection
// between requests, or one that has not sent a request for a second) to
// make room, and otherwise waits for one to close; connections waiting to be
// accepted stay in the kernel's queue and cost the server no file.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once

	mu    sync.Mutex
	conns map[net.Conn]connState
}

// connState is what the limiter knows about an open connection.
type connState struct {
	state http.ConnState
	since time.Time
}

// newConnections is how long a connection that has sent no request yet
// counts as busy; after that it may be closed to make room.
const newConnections = time.Second

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}), conns: map[net.Conn]connState{}}
}

// Accept waits for a free slot, making one at the cap, and accepts.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		default:
			l.closeIdle()
			select {
			case l.slots <- struct{}{}:
			case <-l.done:
				return nil, net.ErrClosed
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		lc := &limitedConn{Conn: c, l: l}
		l.mu.Lock()
		l.conns[lc] = connState{state: http.StateNew, since: time.Now()}
		l.mu.Unlock()
		return lc, nil
	}
}

// Close closes the listener and ends a wait for a slot.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// track is the HTTP server's ConnState hook.
func (l *limitListener) track(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[c]; !ok {
		return
	}
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
	default:
		l.conns[c] = connState{state: state, since: time.Now()}
	}
}

// closeIdle closes the connection idle longest, if there is one.
func (l *limitListener) closeIdle() {
	l.mu.Lock()
	var (
		oldest net.Conn
		since  time.Time
	)
	now := time.Now()
	for c, s := range l.conns {
		idle := s.state == http.StateIdle || (s.state == http.StateNew && now.Sub(s.since) >= newConnections)
		if idle && (oldest == nil || s.since.Before(since)) {
			oldest, since = c, s.since
		}
	}
	if oldest != nil {
		delete(l.conns, oldest)
	}
	l.mu.Unlock()
	if oldest != nil {
		oldest.Close()
	}
}

// limitedConn frees its slot when it closes.
type limitedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

// Close closes the connection and frees its slot.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}
