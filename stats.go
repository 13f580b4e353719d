package roman

import (
	"context"
	"time"
)

// StatsStore holds the read-only aggregates that the dashboard and the
// Prometheus metrics need and that the row-by-row Store cannot give cheaply:
// one query each, whatever the number of rows. sqldb implements it on both
// dialects. Every method returns EINTERNAL on a database failure and nothing
// else.
type StatsStore interface {
	// ActiveDeployments returns, for every (service, environment), the
	// deployment CurrentDeployment would return (the newest with status
	// success), ordered by environment and service name.
	ActiveDeployments(ctx context.Context) ([]*Deployment, error)
	// CountDeployments returns how many deployments each service has in
	// each environment and status, ordered by environment, service and
	// status.
	CountDeployments(ctx context.Context) ([]DeploymentCount, error)
	// RollbackOutcomes aggregates finished rollback events (success, failed,
	// aborted) by environment, service, trigger type and status, with their
	// durations (completed_at − initiated_at) counted into buckets, whose
	// upper bounds in seconds are given in increasing order.
	RollbackOutcomes(ctx context.Context, buckets []float64) ([]RollbackOutcome, error)
	// RollbackStats summarises the rollback events initiated at or after
	// since and the rollback validations logged to roman_events since then.
	RollbackStats(ctx context.Context, since time.Time) (RollbackStats, error)
	// CountValidations returns how many rollback validations roman_events
	// holds, approved and rejected.
	CountValidations(ctx context.Context) (approved, rejected int64, err error)
	// ErrorBuckets counts a deployment's error events with occurred_at in
	// [from, from+n·step), bucket i covering [from+i·step, from+(i+1)·step).
	ErrorBuckets(ctx context.Context, deploymentID string, from time.Time, step time.Duration, n int) ([]int64, error)
}

// DeploymentCount is the number of deployments of one service in one
// environment and status.
type DeploymentCount struct {
	Environment string
	Service     string
	Status      string
	Count       int64
}

// RollbackOutcome aggregates the finished rollback events of one
// environment, service, trigger type and final status.
type RollbackOutcome struct {
	Environment string
	Service     string
	TriggerType string
	Status      string
	Count       int64
	// DurationSum is the sum of the events' durations in seconds.
	DurationSum float64
	// Buckets[i] counts the events whose duration is at most the i-th
	// requested bound (cumulative, as Prometheus histograms count).
	Buckets []int64
}

// RollbackStats summarises rollbacks over a time range (the dashboard's
// headline figures).
type RollbackStats struct {
	// Total counts every rollback event initiated in the range.
	Total int64 `json:"total"`
	// Succeeded, Failed, Aborted and Unfinished count them by status
	// (Unfinished: pending or in_progress).
	Succeeded  int64 `json:"succeeded"`
	Failed     int64 `json:"failed"`
	Aborted    int64 `json:"aborted"`
	Unfinished int64 `json:"unfinished"`
	// SuccessRate is Succeeded / (Succeeded + Failed): of the rollbacks that
	// ran, how many restored a healthy system. Aborted ones (refused by the
	// constitution) count in the approval rate instead. Nil when none ran.
	SuccessRate *float64 `json:"success_rate"`
	// AverageDurationSeconds is the mean time from initiation to completion
	// of the successful rollbacks; nil when there is none.
	AverageDurationSeconds *float64 `json:"average_duration_seconds"`
	// Validations counts the constitution's verdicts logged to roman_events
	// (event type rollback_validation) in the range, Approved those that
	// approved.
	Validations int64 `json:"validations"`
	Approved    int64 `json:"approved"`
	// ApprovalRate is Approved / Validations; nil when there was none.
	ApprovalRate *float64 `json:"approval_rate"`
}
