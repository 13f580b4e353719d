package githubdeploy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/odyssey-1/roman"
)

// DefaultAPIURL is GitHub's REST API.
const DefaultAPIURL = "https://api.github.com"

// Config mirrors an environment's releases to GitHub deployments. The YAML
// keys are flat because the config package decodes them beside the
// environment's other settings; each is also the variable ROMAN_<KEY>. Set
// at the top level they apply to every environment; an environment may set
// its own (another repository) or none. The zero Config mirrors nothing.
type Config struct {
	// Repository is the GitHub repository, owner/name
	// (ROMAN_GITHUB_DEPLOYMENTS_REPOSITORY). Empty disables the mirror.
	Repository string `yaml:"github_deployments_repository" json:"github_deployments_repository"`
	// Token is a token allowed to create deployments and deployment
	// statuses of the repository (a fine-grained token with "Deployments:
	// write", or a classic one with repo_deployment)
	// (ROMAN_GITHUB_DEPLOYMENTS_TOKEN).
	Token roman.Secret `yaml:"github_deployments_token" json:"github_deployments_token"`
	// APIURL is GitHub's REST API base URL, for GitHub Enterprise Server or
	// tests (ROMAN_GITHUB_DEPLOYMENTS_API_URL, default
	// https://api.github.com).
	APIURL string `yaml:"github_deployments_api_url" json:"github_deployments_api_url"`
}

// Enabled reports whether the environment's releases are mirrored.
func (c Config) Enabled() bool { return strings.TrimSpace(c.Repository) != "" }

// apiURL returns APIURL or the default.
func (c Config) apiURL() string {
	if c.APIURL == "" {
		return DefaultAPIURL
	}
	return c.APIURL
}

// ownerRepo splits Repository.
func (c Config) ownerRepo() (owner, repo string, ok bool) {
	owner, repo, ok = strings.Cut(strings.TrimSpace(c.Repository), "/")
	return owner, repo, ok && owner != "" && repo != "" && !strings.Contains(repo, "/")
}

// Validate checks a configured mirror: the repository's form, the token,
// the API URL. Each problem is a *roman.FieldError naming its YAML key; no
// message shows the token.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &roman.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if c.APIURL != "" && !roman.ValidHTTPURL(c.APIURL) {
		add("github_deployments_api_url", "not an http(s) URL")
	}
	if !c.Enabled() {
		if c.Token.IsSet() {
			add("github_deployments_repository", "required with github_deployments_token")
		}
		return joinErrs(errs)
	}
	if _, _, ok := c.ownerRepo(); !ok {
		add("github_deployments_repository", "must be owner/name, got %q", c.Repository)
	}
	if !c.Token.IsSet() {
		add("github_deployments_token", "required with github_deployments_repository")
	}
	return joinErrs(errs)
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
