package roman

import "time"

// ErrorCounts are the error events of one deployment in the two windows of
// the health rules: the last minute and the last five minutes.
type ErrorCounts struct {
	// LastMinute counts errors with occurred_at in (now-1m, now].
	LastMinute int64
	// Last5Minutes counts errors with occurred_at in (now-5m, now].
	Last5Minutes int64
}

// ErrorPeaks are the busiest moments of a deployment's errors over a time
// range: the largest number of errors in any one minute and in any five
// minutes, and when each window ended (the occurred_at of its newest error).
// They let a watch window be judged on every moment it lasted, including
// moments no monitor saw (roman was down, or the errors were stored late).
type ErrorPeaks struct {
	// Minute counts the errors of the busiest (t-1m, t]; MinuteAt is t.
	Minute   int64
	MinuteAt time.Time
	// FiveMinutes counts the errors of the busiest (t-5m, t]; FiveMinutesAt
	// is t.
	FiveMinutes   int64
	FiveMinutesAt time.Time
}
