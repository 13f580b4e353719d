package executor_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/executor"
)

// fakeTime is a clock that only moves when the executor sleeps, so polling,
// backoff and timeouts are tested without waiting.
type fakeTime struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeTime() *fakeTime {
	return &fakeTime{now: time.Date(2025, 12, 15, 14, 35, 0, 0, time.UTC)}
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.slept = append(f.slept, d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeTime) Slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.slept...)
}

func (f *fakeTime) options() executor.Options {
	return executor.Options{Clock: f.Now, Sleep: f.Sleep}
}

// request is a rollback of v2.5.3 back to v2.5.2, as in the seed.
func request() roman.ExecuteRequest {
	return roman.ExecuteRequest{
		EventID:     "5f0c8a52-3b1e-4f7a-9c11-2d3e4f5a6b7c",
		Environment: "production",
		BadDeployment: &roman.Deployment{
			DeploymentID: "0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11", Environment: "production",
			Version: "v2.5.3", GitCommit: "b81c4d0", GitBranch: "main",
		},
		Target: &roman.Deployment{
			DeploymentID: "7d1e2f3a-4b5c-4d6e-8f70-819203a4b5c6", Environment: "production",
			Version: "v2.5.2", GitCommit: "a7f3b29", GitBranch: "main",
		},
		NewDeploymentID: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
	}
}

func decode(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("detail is not a JSON object: %v: %s", err, raw)
	}
	return m
}

// configFor returns a valid environment configuration for an executor kind.
func configFor(kind string) executor.Config {
	cfg := executor.DefaultConfig()
	cfg.Type = kind
	cfg.Command = "/bin/true"
	cfg.WebhookURL = roman.Secret("https://hooks.example.com/deploy")
	cfg.WebhookSecret = roman.Secret("s")
	cfg.GitHubRepository = "octo-org/octo-repo"
	cfg.GitHubWorkflow = "rollback.yml"
	cfg.GitHubToken = roman.Secret(ghToken)
	return cfg
}
