package executor

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// Executor kinds, the values of Config.Type.
const (
	TypeNone    = "none"
	TypeCommand = "command"
	TypeGitHub  = "github"
	TypeWebhook = "webhook"
)

// Defaults of the executor settings that have one.
const (
	DefaultTimeout      = 10 * time.Minute
	DefaultGitHubAPIURL = "https://api.github.com"
	DefaultGitHubRef    = "main"
)

// Config is the executor of one environment: its kind and the settings of
// every kind. The YAML keys are flat (executor, executor_command, …) because
// the config package decodes them beside the environment's other settings;
// each is also the variable ROMAN_<KEY>.
type Config struct {
	// Type is none, command, github or webhook (ROMAN_EXECUTOR).
	Type string `yaml:"executor" json:"executor"`
	// Command is the command line of the command executor
	// (ROMAN_EXECUTOR_COMMAND). It is split into words like a shell splits
	// them (quotes, backslashes) but run without a shell: no expansion,
	// pipes or redirection unless the line itself is /bin/sh -c '...'. See
	// docs/executors.md.
	Command string `yaml:"executor_command" json:"executor_command"`
	// WebhookURL is the webhook executor's URL
	// (ROMAN_EXECUTOR_WEBHOOK_URL).
	WebhookURL roman.Secret `yaml:"executor_webhook_url" json:"executor_webhook_url"`
	// WebhookSecret is the HMAC-SHA256 key signing webhook calls
	// (ROMAN_EXECUTOR_WEBHOOK_SECRET).
	WebhookSecret roman.Secret `yaml:"executor_webhook_secret" json:"executor_webhook_secret"`
	// Timeout bounds one executor run (ROMAN_EXECUTOR_TIMEOUT).
	Timeout time.Duration `yaml:"executor_timeout" json:"executor_timeout"`
	// GitHubRepository is owner/name of the repository whose workflow the
	// github executor dispatches (ROMAN_EXECUTOR_GITHUB_REPOSITORY).
	GitHubRepository string `yaml:"executor_github_repository" json:"executor_github_repository"`
	// GitHubWorkflow is the workflow file name or id
	// (ROMAN_EXECUTOR_GITHUB_WORKFLOW).
	GitHubWorkflow string `yaml:"executor_github_workflow" json:"executor_github_workflow"`
	// GitHubRef is the git ref the workflow runs on
	// (ROMAN_EXECUTOR_GITHUB_REF).
	GitHubRef string `yaml:"executor_github_ref" json:"executor_github_ref"`
	// GitHubToken authenticates to the GitHub API
	// (ROMAN_EXECUTOR_GITHUB_TOKEN).
	GitHubToken roman.Secret `yaml:"executor_github_token" json:"executor_github_token"`
	// GitHubAPIURL is the GitHub API base URL, configurable for tests and
	// GitHub Enterprise (ROMAN_EXECUTOR_GITHUB_API_URL).
	GitHubAPIURL string `yaml:"executor_github_api_url" json:"executor_github_api_url"`
}

// DefaultConfig returns the executor settings an environment starts from:
// the none executor, a 10-minute timeout, and GitHub's public API on main.
func DefaultConfig() Config {
	return Config{
		Type:         TypeNone,
		Timeout:      DefaultTimeout,
		GitHubRef:    DefaultGitHubRef,
		GitHubAPIURL: DefaultGitHubAPIURL,
	}
}

// Validate checks the settings the configured kind needs and the form of
// every URL given. It returns all problems at once, joined, each a
// *roman.FieldError naming its YAML key; no message shows a secret.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &roman.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if c.Timeout <= 0 {
		add("executor_timeout", "must be positive, got %s", c.Timeout)
	}
	switch c.Type {
	case TypeNone:
	case TypeCommand:
		if strings.TrimSpace(c.Command) == "" {
			add("executor_command", "required by the command executor")
		}
	case TypeWebhook:
		if !c.WebhookURL.IsSet() {
			add("executor_webhook_url", "required by the webhook executor")
		}
	case TypeGitHub:
		if owner, name, ok := strings.Cut(c.GitHubRepository, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			add("executor_github_repository", "want owner/name for the github executor, got %q", c.GitHubRepository)
		}
		if c.GitHubWorkflow == "" {
			add("executor_github_workflow", "required by the github executor")
		}
		if c.GitHubRef == "" {
			add("executor_github_ref", "required by the github executor")
		}
		if !c.GitHubToken.IsSet() {
			add("executor_github_token", "required by the github executor")
		}
	default:
		add("executor", "unknown executor %q (want none, command, github or webhook)", c.Type)
	}
	if c.WebhookURL.IsSet() && !roman.ValidHTTPURL(c.WebhookURL.Value()) {
		add("executor_webhook_url", "not an http(s) URL")
	}
	if c.GitHubAPIURL != "" && !roman.ValidHTTPURL(c.GitHubAPIURL) {
		add("executor_github_api_url", "not an http(s) URL")
	}
	return errors.Join(errs...)
}
