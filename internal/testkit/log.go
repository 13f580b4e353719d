package testkit

import (
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Sink collects what a program writes (logs, narration) so a test can read
// it while the program goes on writing, look for secrets in it, or wait for a
// text to appear. It is safe for concurrent use.
type Sink struct {
	mu      sync.Mutex
	buf     strings.Builder
	waiters []waiter
}

type waiter struct {
	text string
	seen chan struct{}
}

// Write appends p and wakes the waiters whose text has appeared.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.buf.Write(p)
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if strings.Contains(s.buf.String(), w.text) {
			close(w.seen)
			continue
		}
		kept = append(kept, w)
	}
	s.waiters = kept
	return n, err
}

// String returns everything written so far.
func (s *Sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// Seen returns a channel that is closed once text has been written (at once
// when it already has).
func (s *Sink) Seen(text string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(s.buf.String(), text) {
		close(ch)
		return ch
	}
	s.waiters = append(s.waiters, waiter{text: text, seen: ch})
	return ch
}

// Logger returns a text logger writing every level, down to debug, into w.
func Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Discard returns a logger that drops everything.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
