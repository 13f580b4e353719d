package retention

import (
	"context"
	"time"
)

// JudgeCounts is what one prune pass deleted of the judge's tables.
type JudgeCounts struct {
	ErrorSeconds           int64 `json:"error_seconds"`
	DeploymentFingerprints int64 `json:"deployment_fingerprints"`
	ErrorFingerprints      int64 `json:"error_fingerprints"`
	Interactions           int64 `json:"discord_interactions"`
}

// Total is the number of rows deleted.
func (c JudgeCounts) Total() int64 {
	return c.ErrorSeconds + c.DeploymentFingerprints + c.ErrorFingerprints + c.Interactions
}

// pruneJudge deletes, batch by batch, what the judge, new-error detection
// and the chat-ops keep, with the cutoff of the error events (signals) and
// the pass's start (now) for Discord interactions past their expiry. The
// order matters: the error groups go before the first sightings, which are
// forgotten only when no group of their fingerprint is left.
func (p *Pruner) pruneJudge(ctx context.Context, c *Counts, signals, now time.Time) error {
	if p.Judge == nil {
		return nil
	}
	j := &c.Judge
	steps := []struct {
		n      *int64
		before time.Time
		del    func(ctx context.Context, before time.Time, limit int) (int64, error)
	}{
		{&j.ErrorSeconds, signals, p.Judge.PruneErrorSeconds},
		{&j.DeploymentFingerprints, signals, p.Judge.PruneDeploymentFingerprints},
		{&j.ErrorFingerprints, signals, p.Judge.PruneErrorFingerprints},
		{&j.Interactions, now, p.Judge.PruneInteractions},
	}
	for _, s := range steps {
		if err := p.drain(ctx, c, s.n, func(n int) (int64, error) { return s.del(ctx, s.before, n) }); err != nil {
			return err
		}
	}
	return nil
}
