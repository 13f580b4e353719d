// Package executor holds the rollback executors: the kinds that redeploy a
// known-good version on the platform. Each is small and owns its
// configuration (Config, with DefaultConfig and Validate):
//
//   - none: records the rollback only; the platform deploys from the new
//     deployment row.
//   - command: runs a configured command (without a shell) with the target in
//     ROMAN_* environment variables, bounded by a timeout that kills its
//     process group, output captured up to 64 KiB.
//   - webhook: POSTs a JSON description of the rollback, signed with
//     HMAC-SHA256, retrying 5xx and 429 answers with backoff within the
//     timeout.
//   - github: dispatches a GitHub Actions workflow_dispatch with the inputs
//     version, git_commit and deployment_id, identifies the run it started
//     and follows it to its conclusion.
//
// New is the one constructor; it switches on the configured kind.
package executor

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/odyssey-1/roman"
)

// Options are the dependencies an executor may use. Zero fields take
// defaults: the system clock, a real sleep, a discarding logger and an HTTP
// client with a per-request timeout.
type Options struct {
	// Clock reads the time for deadlines, timestamps and signatures.
	Clock roman.Clock
	// Sleep waits for d or until ctx is done. Tests pass one that advances a
	// fake clock, so polling and backoff need no real time.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives structured logs; secrets are never logged.
	Logger *slog.Logger
	// HTTPClient makes the webhook and GitHub calls. Its Timeout bounds one
	// request; the executor timeout bounds the whole run.
	HTTPClient *http.Client
}

// DefaultRequestTimeout bounds one outbound HTTP request of the webhook and
// GitHub executors when Options.HTTPClient is not given.
const DefaultRequestTimeout = 30 * time.Second

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = roman.SystemClock
	}
	if o.Sleep == nil {
		o.Sleep = roman.Sleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultRequestTimeout}
	}
	return o
}

// New returns the executor of one environment's configuration, switching on
// its kind. The configuration is assumed validated (Config.Validate); New
// still refuses what it cannot run (an unknown kind, an unparsable command
// line). A zero timeout means DefaultTimeout.
func New(cfg Config, opts Options) (roman.Executor, error) {
	opts = opts.withDefaults()
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	switch cfg.Type {
	case TypeNone, "":
		return None{}, nil
	case TypeCommand:
		return NewCommand(cfg.Command, timeout, opts)
	case TypeWebhook:
		return NewWebhook(cfg.WebhookURL.Value(), cfg.WebhookSecret.Value(), timeout, opts)
	case TypeGitHub:
		return NewGitHub(GitHubConfig{
			Repository: cfg.GitHubRepository,
			Workflow:   cfg.GitHubWorkflow,
			Ref:        cfg.GitHubRef,
			Token:      cfg.GitHubToken.Value(),
			APIURL:     cfg.GitHubAPIURL,
			Timeout:    timeout,
		}, opts)
	}
	return nil, roman.Errorf(roman.EINVALID, "unknown executor %q (want none, command, github or webhook)", cfg.Type)
}

// withTimeout bounds ctx by the executor timeout.
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, timeout)
}

// targetOf returns the fields every executor hands on, checking that the
// request names a target.
func targetOf(req roman.ExecuteRequest) (*roman.Deployment, error) {
	if req.Target == nil {
		return nil, fmt.Errorf("executor: the request names no target deployment")
	}
	return req.Target, nil
}
