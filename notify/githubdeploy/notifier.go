package githubdeploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v93/github"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/retryafter"
	"github.com/odyssey-1/roman/notify"
)

// MaxDescription is GitHub's limit on a deployment status's description,
// in characters; longer ones are cut with "…".
const MaxDescription = 140

// ExplainPath is the dashboard's explain page of a deployment, relative to
// roman's public URL; statuses link to it (log_url).
const ExplainPath = "/app/admin/roman-dashboard/explain/"

// Store is what the Notifier reads and writes: the release it mirrors and
// the GitHub deployment that mirrors it.
type Store interface {
	GetDeployment(ctx context.Context, deploymentID string) (*roman.Deployment, error)
	roman.GitHubDeploymentStore
}

// Notifier delivers the GitHub jobs of one environment's configuration (it
// implements roman.Notifier for the channel "github"). A create looks for
// the GitHub deployment of an earlier attempt first (the payload carries
// roman's deployment_id), and a retried status looks for itself among the
// deployment's statuses, so a delivery repeated after a crash sends nothing
// twice.
type Notifier struct {
	cfg         Config
	owner, repo string
	client      *github.Client
	store       Store
	publicURL   string
	clock       roman.Clock
	logger      *slog.Logger
}

// New returns the Notifier of cfg (which must be enabled and valid).
// publicURL is where people reach roman, for the links statuses carry.
func New(cfg Config, store Store, hc *http.Client, publicURL string, clock roman.Clock, logger *slog.Logger) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	owner, repo, ok := cfg.ownerRepo()
	if !ok {
		return nil, &roman.FieldError{Field: "github_deployments_repository", Message: "must be owner/name"}
	}
	if hc == nil {
		hc = &http.Client{Timeout: notify.DefaultTimeout}
	}
	api := cfg.apiURL()
	if !strings.HasSuffix(api, "/") {
		api += "/"
	}
	client, err := github.NewClient(github.WithHTTPClient(hc), github.WithAuthToken(cfg.Token.Value()),
		github.WithURLs(&api, nil), github.WithUserAgent("roman/"+roman.Version))
	if err != nil {
		return nil, &roman.FieldError{Field: "github_deployments_api_url", Message: "not usable as GitHub's API URL"}
	}
	if clock == nil {
		clock = roman.SystemClock
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, owner: owner, repo: repo, client: client, store: store,
		publicURL: strings.TrimRight(publicURL, "/"), clock: clock, logger: logger}, nil
}

// Notify delivers a job as a first attempt.
func (n *Notifier) Notify(ctx context.Context, a *roman.Alert) (bool, error) {
	return n.NotifyAttempt(ctx, a, 1)
}

// NotifyAttempt delivers a job; attempt counts from 1, and a later attempt
// first checks whether an earlier one got through. It reports whether a
// failure is worth retrying: GitHub unreachable, 5xx, rate limits (as a
// notify.RetryAfterError, which defers the whole channel), 401 and 403 (a
// token an operator can fix); not a 4xx that would be refused again (422,
// 404), nor a status of a release whose GitHub deployment was never created.
func (n *Notifier) NotifyAttempt(ctx context.Context, a *roman.Alert, attempt int) (bool, error) {
	if a.Kind == roman.MirrorCreateDeployment {
		return n.create(ctx, a, attempt)
	}
	state, ok := states[a.Kind]
	if !ok {
		return false, fmt.Errorf("unknown GitHub job %q", a.Kind)
	}
	return n.status(ctx, a, state, attempt)
}

var states = map[string]string{
	roman.MirrorStatusInProgress: "in_progress",
	roman.MirrorStatusSuccess:    "success",
	roman.MirrorStatusFailure:    "failure",
	roman.MirrorStatusInactive:   "inactive",
}

// payload is the GitHub deployment's payload: roman's id for the release,
// which also finds the deployment of an earlier attempt.
type payload struct {
	DeploymentID string `json:"roman_deployment_id"`
	Service      string `json:"service"`
	Version      string `json:"version"`
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

func (n *Notifier) create(ctx context.Context, a *roman.Alert, attempt int) (bool, error) {
	if _, err := n.store.GetGitHubDeployment(ctx, a.DeploymentID); err == nil {
		return false, nil // created and stored by an earlier attempt
	} else if roman.ErrorCode(err) != roman.ENOTFOUND {
		return true, err
	}
	d, err := n.store.GetDeployment(ctx, a.DeploymentID)
	if err != nil {
		return roman.ErrorCode(err) != roman.ENOTFOUND, err
	}
	ref := d.Version
	if c := strings.ToLower(d.GitCommit); shaRE.MatchString(c) {
		ref = c
	}
	env := environmentName(d)
	p := payload{DeploymentID: d.DeploymentID, Service: roman.ServiceOrDefault(d.Service), Version: d.Version}
	var id int64
	if attempt > 1 {
		id, err = n.find(ctx, ref, env, d.DeploymentID)
		if err != nil {
			return n.classify(err, "looking for the GitHub deployment of an earlier attempt")
		}
	}
	if id == 0 {
		desc := fmt.Sprintf("%s of %s, recorded in roman", d.Version, p.Service)
		gd, resp, err := n.client.Repositories.CreateDeployment(ctx, n.owner, n.repo, github.DeploymentRequest{
			Ref: ref, Task: github.Ptr("deploy"), AutoMerge: github.Ptr(false), RequiredContexts: []string{},
			Payload: p, Environment: &env, Description: github.Ptr(trim(desc)),
			TransientEnvironment: github.Ptr(false), ProductionEnvironment: github.Ptr(d.Environment == "production"),
		})
		if err != nil {
			return n.classify(err, "creating the GitHub deployment")
		}
		if resp.StatusCode != http.StatusCreated || gd.GetID() == 0 {
			// 202: GitHub merged the default branch instead and created
			// nothing; asking again creates it.
			return true, fmt.Errorf("creating the GitHub deployment: GitHub answered %d without a deployment", resp.StatusCode)
		}
		id = gd.GetID()
	}
	meta, _ := json.Marshal(map[string]any{"deployment_id": d.DeploymentID, "environment": d.Environment,
		"service": roman.ServiceOrDefault(d.Service), "version": d.Version, "repository": n.cfg.Repository,
		"github_deployment_id": id, "github_environment": env, "ref": ref})
	ev := &roman.RomanEvent{EventType: roman.EventGitHubDeploymentCreated, Severity: roman.SeverityInfo,
		Message:  fmt.Sprintf("GitHub deployment %d of %s created for %s in %s", id, n.cfg.Repository, d.Version, env),
		Metadata: meta, Timestamp: roman.UTC(n.clock())}
	if err := n.store.SaveGitHubDeployment(ctx, &roman.GitHubDeployment{DeploymentID: d.DeploymentID,
		Repository: n.cfg.Repository, GitHubID: id, CreatedAt: roman.UTC(n.clock())}, ev); err != nil {
		// The next attempt finds the deployment on GitHub by its payload.
		return true, fmt.Errorf("storing GitHub deployment %d: %s", id, roman.ErrorMessage(err))
	}
	n.logger.Info("GitHub deployment created", "deployment_id", d.DeploymentID, "github_deployment_id", id, "repository", n.cfg.Repository)
	return false, nil
}

// find returns the GitHub deployment of ref and env whose payload names
// roman's deployment, or 0.
func (n *Notifier) find(ctx context.Context, ref, env, deploymentID string) (int64, error) {
	list, _, err := n.client.Repositories.ListDeployments(ctx, n.owner, n.repo, &github.DeploymentsListOptions{
		Ref: ref, Environment: env, ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return 0, err
	}
	for _, gd := range list {
		var p payload
		raw := gd.Payload
		var s string
		if json.Unmarshal(raw, &s) == nil {
			raw = json.RawMessage(s) // a payload GitHub returns as a string
		}
		if json.Unmarshal(raw, &p) == nil && p.DeploymentID == deploymentID {
			return gd.GetID(), nil
		}
	}
	return 0, nil
}

func (n *Notifier) status(ctx context.Context, a *roman.Alert, state string, attempt int) (bool, error) {
	g, err := n.store.GetGitHubDeployment(ctx, a.DeploymentID)
	if roman.ErrorCode(err) == roman.ENOTFOUND {
		return false, fmt.Errorf("release %s has no GitHub deployment (its creation was given up; see the earlier alert_undeliverable event)", a.DeploymentID)
	} else if err != nil {
		return true, err
	}
	desc := trim(a.Detail)
	if attempt > 1 {
		list, _, err := n.client.Repositories.ListDeploymentStatuses(ctx, n.owner, n.repo, g.GitHubID, &github.ListOptions{PerPage: 100})
		if err != nil {
			return n.classify(err, "looking for the status of an earlier attempt")
		}
		for _, s := range list {
			if s.GetState() == state && s.GetDescription() == desc {
				return false, nil // an earlier attempt got through
			}
		}
	}
	link := n.publicURL + ExplainPath + url.PathEscape(a.DeploymentID)
	_, _, err = n.client.Repositories.CreateDeploymentStatus(ctx, n.owner, n.repo, g.GitHubID, github.DeploymentStatusRequest{
		State: state, Description: &desc, LogURL: &link, Environment: github.Ptr(environmentOf(a)),
		AutoInactive: github.Ptr(false),
	})
	if err != nil {
		return n.classify(err, "posting the "+state+" status of GitHub deployment "+fmt.Sprint(g.GitHubID))
	}
	return false, nil
}

// classify turns a go-github error into the sender's retry decision and an
// error that names no URL or token.
func (n *Notifier) classify(err error, doing string) (bool, error) {
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		wait := max(time.Until(rl.Rate.Reset.Time), time.Second)
		return true, &notify.RetryAfterError{After: wait, Err: fmt.Errorf("%s: GitHub's rate limit is used up", doing)}
	case errors.As(err, &abuse):
		wait := time.Minute
		if abuse.RetryAfter != nil {
			wait = *abuse.RetryAfter
		}
		return true, &notify.RetryAfterError{After: wait, Err: fmt.Errorf("%s: GitHub's secondary rate limit: %s", doing, abuse.Message)}
	case errors.As(err, &er) && er.Response != nil:
		code := er.Response.StatusCode
		msg := fmt.Errorf("%s: GitHub answered %d: %s", doing, code, describe(er))
		if code == http.StatusTooManyRequests {
			wait, ok := retryafter.Header(er.Response.Header.Get("Retry-After"), n.clock())
			if !ok {
				wait = time.Minute
			}
			return true, &notify.RetryAfterError{After: wait, Err: msg}
		}
		retry := code >= 500 || code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusRequestTimeout
		return retry, msg
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		reason := ue.Err.Error()
		if ue.Timeout() {
			reason = "timed out"
		}
		return true, fmt.Errorf("%s: GitHub unreachable: %s", doing, reason)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true, fmt.Errorf("%s: %v", doing, err)
	}
	return true, fmt.Errorf("%s: %s", doing, strings.ReplaceAll(err.Error(), n.cfg.Token.Value(), "[REDACTED]"))
}

// describe is GitHub's message and the fields its errors name.
func describe(er *github.ErrorResponse) string {
	parts := []string{er.Message}
	for _, e := range er.Errors {
		s := strings.TrimSpace(strings.Join([]string{e.Resource, e.Field, e.Code, e.Message}, " "))
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// trim cuts s to GitHub's description limit.
func trim(s string) string {
	if utf8.RuneCountInString(s) <= MaxDescription {
		return s
	}
	r := []rune(s)
	return string(r[:MaxDescription-1]) + "…"
}

// environmentName is the GitHub environment of a release: roman's
// environment, with the service after a slash when it is not the default
// one, so that two services in one environment do not replace each other's
// deployments on GitHub.
func environmentName(d *roman.Deployment) string {
	return envName(d.Environment, d.Service)
}

func environmentOf(a *roman.Alert) string { return envName(a.Environment, a.Service) }

func envName(env, service string) string {
	if s := roman.ServiceOrDefault(service); s != roman.ServiceOrDefault("") {
		return env + "/" + s
	}
	return env
}
