package roman

import (
	"context"
	"time"
)

// JudgeRetentionStore deletes what the judge, new-error detection and the
// Discord chat-ops keep once no decision can need it. Like RetentionStore,
// each call deletes at most limit rows, oldest first, in one short
// transaction of its own, and returns how many it deleted. Only EINTERNAL.
type JudgeRetentionStore interface {
	// PruneErrorSeconds deletes the per-second error counters of whole
	// seconds before before (their error events are pruned by then).
	PruneErrorSeconds(ctx context.Context, before time.Time, limit int) (int64, error)
	// PruneDeploymentFingerprints deletes a release's error groups whose
	// newest event occurred before before.
	PruneDeploymentFingerprints(ctx context.Context, before time.Time, limit int) (int64, error)
	// PruneErrorFingerprints forgets the first-seen release of fingerprints
	// first seen before before that no release of their (service,
	// environment) has a group of any more: such a fingerprint, seen
	// again, is new on the release that has it.
	PruneErrorFingerprints(ctx context.Context, before time.Time, limit int) (int64, error)
	// PruneInteractions deletes answered Discord interactions whose
	// signature expired before before (a replay that old is refused
	// before it is looked up).
	PruneInteractions(ctx context.Context, before time.Time, limit int) (int64, error)
}
