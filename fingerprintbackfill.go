package roman

import "context"

// FingerprintBackfiller gives roman's own fingerprint (Fingerprint of the
// message) to error events stored without one — rows an application
// inserted straight into the error_events table — and groups them into
// their releases' error groups and first sightings, as ingest does for its
// own events, so they count for new errors and show in a release's error
// groups. The monitor's leader calls it on every tick.
type FingerprintBackfiller interface {
	// FingerprintUnmarked fingerprints and groups up to limit such events,
	// oldest (by id) first, in one transaction, and returns how many it
	// did and the ids of the deployments whose groups changed. An event
	// of an unknown deployment gets its fingerprint but no group. Only
	// EINTERNAL.
	FingerprintUnmarked(ctx context.Context, limit int) (n int, deploymentIDs []string, err error)
}
