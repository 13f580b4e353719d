package executor

import (
	"context"
	"encoding/json"

	"github.com/odyssey-1/roman"
)

// None records the rollback and does nothing else; it is for systems that
// deploy by watching roman's database (the new deployment row is the signal).
type None struct{}

var _ roman.Executor = None{}

// Name returns "none".
func (None) Name() string { return "none" }

// Execute returns at once with a detail saying nothing was run.
func (None) Execute(ctx context.Context, req roman.ExecuteRequest) (json.RawMessage, error) {
	return json.RawMessage(`{"executor":"none","note":"recorded only; the platform deploys from the new deployment row"}`), ctx.Err()
}

// Resumable returns true: doing nothing twice is safe.
func (None) Resumable(json.RawMessage) bool { return true }
