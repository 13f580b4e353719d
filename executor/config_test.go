package executor_test

import (
	"strings"
	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/executor"
)

func TestConfigValidate(t *testing.T) {
	for _, kind := range []string{"none", "command", "webhook", "github"} {
		if err := configFor(kind).Validate(); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	if err := executor.DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	tests := []struct {
		name   string
		change func(*executor.Config)
		want   []string
	}{
		{"unknown kind", func(c *executor.Config) { c.Type = "ansible" },
			[]string{`executor: unknown executor "ansible"`}},
		{"no command", func(c *executor.Config) { c.Type, c.Command = "command", " " },
			[]string{"executor_command: required by the command executor"}},
		{"bad webhook URL", func(c *executor.Config) { c.Type, c.WebhookURL = "webhook", "ftp://x/SENSITIVE" },
			[]string{"executor_webhook_url: not an http(s) URL"}},
		{"github", func(c *executor.Config) {
			c.Type, c.GitHubRepository, c.GitHubWorkflow, c.GitHubRef, c.GitHubToken = "github", "octo", "", "", ""
		}, []string{`executor_github_repository: want owner/name for the github executor, got "octo"`,
			"executor_github_workflow: required", "executor_github_ref: required", "executor_github_token: required"}},
		{"timeout", func(c *executor.Config) { c.Timeout = 0 }, []string{"executor_timeout: must be positive, got 0s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := configFor("none")
			tc.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			if got := len(roman.FieldErrors(err)); got != len(tc.want) {
				t.Errorf("%d problems, want %d: %v", got, len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "SENSITIVE") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}
