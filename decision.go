package roman

import "context"

// decisionKey is the context key of ForDecisions.
type decisionKey struct{}

// ForDecisions marks ctx as carrying the work that decisions wait for:
// storing ingested signals, the monitor's evaluations and the automatic
// rollbacks they start. A store may serve such work from database
// connections of its own, so that dashboards, /auto-rollback/check and
// history reads, however many, never hold up detection and ingest.
func ForDecisions(ctx context.Context) context.Context {
	return context.WithValue(ctx, decisionKey{}, true)
}

// IsDecision reports whether ctx was marked by ForDecisions.
func IsDecision(ctx context.Context) bool {
	v, _ := ctx.Value(decisionKey{}).(bool)
	return v
}
