package roman

import (
	"context"
	"time"
)

// ChannelGitHub is the outbox channel of the GitHub deployments mirror: its
// rows are jobs (create a GitHub deployment, post a status) rather than
// messages for people, and ride in the alert outbox so that they get its
// durability, ordering per deployment, retries and deferral.
const ChannelGitHub = "github"

// Outbox kinds of the GitHub deployments mirror: create the GitHub
// deployment of a release, or post one of its statuses.
const (
	MirrorCreateDeployment = "github_deployment"
	MirrorStatusInProgress = "github_in_progress"
	MirrorStatusSuccess    = "github_success"
	MirrorStatusFailure    = "github_failure"
	MirrorStatusInactive   = "github_inactive"
)

// MirrorRow is one outbox row an OutboxMirror asks for: Alert carries the
// job (Kind one of the Mirror… kinds, DeploymentID the release it is about,
// Detail the status description).
type MirrorRow struct {
	Channel string
	Alert   Alert
}

// MirrorLookup answers an OutboxMirror's questions inside the transaction
// that writes the event, so the rows it picks agree with what is stored.
type MirrorLookup interface {
	// Deployment returns a deployment, or nil when it does not exist.
	Deployment(deploymentID string) (*Deployment, error)
	// Replaced returns the release d replaced: the newest other deployment
	// of d's service and environment deployed before d whose status is
	// success; nil when there is none.
	Replaced(d *Deployment) (*Deployment, error)
	// Queued reports whether an outbox row of kind exists for the
	// deployment (its order key) on channel, in any state; for
	// MirrorCreateDeployment a stored GitHubDeployment counts too, since
	// settled outbox rows are pruned.
	Queued(channel, kind, deploymentID string) (bool, error)
}

// OutboxMirror picks the outbox rows an event adds besides its alert, for
// integrations that mirror roman's decisions elsewhere (GitHub
// deployments). The store calls it inside the transaction that writes the
// roman_events row, for every event, so a row exists exactly when the event
// does; it must be quick and use only the lookup.
type OutboxMirror func(e *RomanEvent, lookup MirrorLookup) ([]MirrorRow, error)

// GitHubDeployment names the GitHub deployment that mirrors a roman
// deployment (table github_deployments).
type GitHubDeployment struct {
	DeploymentID string    `json:"deployment_id"`
	Repository   string    `json:"repository"`
	GitHubID     int64     `json:"github_id"`
	CreatedAt    time.Time `json:"created_at"`
}

// GitHubDeploymentStore keeps which GitHub deployment mirrors which roman
// deployment.
type GitHubDeploymentStore interface {
	// SaveGitHubDeployment stores g and inserts e (the roman_events row
	// that records it) in one transaction. Saving the same deployment again
	// with the same GitHub id is a no-op success; with another id it is
	// ECONFLICT.
	SaveGitHubDeployment(ctx context.Context, g *GitHubDeployment, e *RomanEvent) error
	// GetGitHubDeployment returns the GitHub deployment of a roman
	// deployment; ENOTFOUND when it has none (yet).
	GetGitHubDeployment(ctx context.Context, deploymentID string) (*GitHubDeployment, error)
}

// Events of the GitHub deployments mirror.
const (
	// EventGitHubDeploymentCreated: roman created the GitHub deployment of a
	// release.
	EventGitHubDeploymentCreated = "github_deployment_created"
)
