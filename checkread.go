package roman

import (
	"context"
	"encoding/json"
	"time"
)

// CheckJudgementRows is how many of a deployment's newest health_judgement
// rows a check looks through for the newest acting (not shadow) verdict.
const CheckJudgementRows = 20

// CheckReader is an optional ability of a store: it reads everything that
// one /auto-rollback/check needs from the store at once (the deployment,
// its error counts, metrics and new errors, whether an alert fires for it,
// its newest suppression rows and judgement rows), so a check costs one
// round trip to the database instead of one per reading. The rollback
// service uses it when its store has it and falls back to the separate
// reads otherwise; both give the same answer.
type CheckReader interface {
	// ReadCheck reads the check of q.DeploymentID at q.Now. ENOTFOUND for
	// an unknown deployment (the message GetDeployment gives), else only
	// EINTERNAL.
	ReadCheck(ctx context.Context, q CheckQuery) (*CheckRead, error)
}

// CheckQuery is what ReadCheck reads.
type CheckQuery struct {
	// DeploymentID is the deployment, a uuid.
	DeploymentID string
	// Now ends the error windows (as SignalStore.CountErrors) and the
	// metrics window.
	Now time.Time
	// MetricsSince starts the metrics window: Metrics holds the newest
	// sample of each metric taken in (MetricsSince, Now].
	MetricsSince time.Time
}

// CheckRead is what one ReadCheck read. Each field is what the separate
// store reads of a check return.
type CheckRead struct {
	// Deployment is GetDeployment's answer.
	Deployment *Deployment
	// Errors is CountErrors at Now.
	Errors ErrorCounts
	// Metrics is LatestMetrics in (MetricsSince, Now] (never nil).
	Metrics map[string]float64
	// NewErrors is the deployment's entry of NewErrorsBatch (zero when it
	// has none).
	NewErrors NewErrorCounts
	// AlertsFiring reports whether any integration alert attributed to
	// the deployment is firing: only then has FiringAlerts anything to
	// return for it.
	AlertsFiring bool
	// Suppressed and Intervention are the deployment's newest
	// auto_rollback_suppressed and manual_intervention_required rows
	// (ListRomanEvents of the type and deployment with limit 1), or nil.
	// Only their Message, Metadata and Timestamp are read.
	Suppressed, Intervention *RomanEvent
	// Judgements holds the metadata of the deployment's newest
	// health_judgement rows, newest first: the CheckJudgementRows newest,
	// or fewer when the store cut the list after the first row whose
	// judgement is an object not marked shadow, the row that most likely
	// holds the acting verdict.
	Judgements []json.RawMessage
	// JudgementsCut is set when Judgements stops short of the
	// CheckJudgementRows newest rows: when none of its rows holds an
	// acting verdict, the reader must look at the rows left out.
	JudgementsCut bool
}
