package roman

// ErrorCounts are the error events of one deployment in the two windows of
// the health rules: the last minute and the last five minutes.
type ErrorCounts struct {
	// LastMinute counts errors with occurred_at in (now-1m, now].
	LastMinute int64
	// Last5Minutes counts errors with occurred_at in (now-5m, now].
	Last5Minutes int64
}
