// Package roman is the domain of the roman auto-rollback service: deployments,
// rollback events, health, snapshots, validations and the interfaces that the
// infrastructure packages (sqldb, api, policy, rollback, ...) implement or use.
//
// The package imports no driver, router or SDK; infrastructure depends on the
// domain, never the reverse.
package roman

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"
)

// Version is the build version of roman, overridden at link time with
// -ldflags "-X github.com/odyssey-1/roman.Version=v1.2.3".
var Version = "dev"

// Clock returns the current time. Logic never reads time.Now directly so that
// tests of windows and cooldowns can run on a fake clock.
type Clock func() time.Time

// SystemClock is the real wall clock in UTC.
func SystemClock() time.Time { return time.Now().UTC() }

// Sleep waits for d of real time or until ctx is done, whichever comes
// first, and returns ctx's error in the second case. It is the default of
// the injectable sleep functions (executor polling and backoff, the verify
// window, Discord's rate limit), which tests replace with one that advances
// a fake clock.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewUUID returns a random (version 4) UUID in its canonical text form.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("roman: crypto/rand failed: %v", err))
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ValidUUID reports whether s is a UUID in canonical 8-4-4-4-12 hexadecimal
// form (any case).
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// UTC truncates t to microseconds (the precision both stores keep) in UTC.
func UTC(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
