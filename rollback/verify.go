package rollback

import (
	"context"
	"time"

	"github.com/odyssey-1/roman"
)

// DefaultVerifyInterval is how often the rolled-back system's health is
// checked during the verify window.
const DefaultVerifyInterval = 5 * time.Second

// verify watches the new deployment's health for the environment's verify
// window on the injected clock, checking every VerifyInterval, and
// appends the verify step. The verdict is the last check's: a redeploy
// needs time to settle, so early unhealthy checks only count when the
// system is still unhealthy at the end. A window of 0 is one immediate
// check. A health source that fails counts as not healthy (it cannot prove
// recovery). errParked when a graceful shutdown stopped the watch.
func (r *run) verify(ctx context.Context, nd *roman.Deployment) (healthy bool, last roman.Health, err error) {
	s := r.s
	var window time.Duration
	if s.VerifyWindow != nil {
		window = s.VerifyWindow(r.bad.Environment)
	}
	interval := s.VerifyInterval
	if interval <= 0 {
		interval = DefaultVerifyInterval
	}
	sleep := s.Sleep
	if sleep == nil {
		sleep = roman.Sleep
	}
	if window > 0 {
		// The caller need not wait for the window: answer in_progress.
		r.handedOff()
	}
	// Verification is repeatable, so a graceful shutdown parks it at once
	// rather than wait for the window.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.bg.init()
	if window > 0 {
		go func() {
			select {
			case <-s.bg.draining:
				cancel(errDraining)
			case <-ctx.Done():
			}
		}()
	}
	err = r.step(ctx, roman.StepVerify, func() (any, error) {
		start := s.Clock()
		end := start.Add(window)
		checks, unhealthy := 0, 0
		var lastErr error
		for {
			h, cerr := s.healthOf(ctx, nd)
			if parked(ctx) {
				return nil, errParked
			}
			checks++
			lastErr = cerr
			if cerr == nil {
				last, healthy = h, h.Reason == ""
			} else {
				healthy = false
			}
			if !healthy {
				unhealthy++
			}
			now := s.Clock()
			if !now.Before(end) {
				break
			}
			if serr := sleep(ctx, min(interval, end.Sub(now))); serr != nil {
				return nil, serr
			}
		}
		detail := map[string]any{"window_seconds": window.Seconds(), "checks": checks, "unhealthy_checks": unhealthy, "healthy": healthy, "health": last}
		if lastErr != nil {
			detail["health_error"] = roman.ErrorMessage(lastErr)
		}
		return detail, nil
	})
	return healthy, last, err
}

// healthOf computes d's health: with one read of the store when the store
// reads a check at once (roman.CheckReader) and the health checker
// computes health from such a read (one round trip instead of four on
// PostgreSQL), else with Health.Check. Both give the same health.
func (s *Service) healthOf(ctx context.Context, d *roman.Deployment) (roman.Health, error) {
	if rd, ok := s.Store.(roman.CheckReader); ok {
		if hc, ok := s.Health.(OneReadChecker); ok {
			_, h, err := hc.CheckOneRead(ctx, rd, d.DeploymentID)
			return h, err
		}
	}
	return s.Health.Check(ctx, d)
}
