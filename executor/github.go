package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/odyssey-1/roman"
)

// GitHub polling defaults.
const (
	// DefaultPollInterval is how often a run's status (and, while the run is
	// not yet identified, the run list) is read. At 5 s a ten-minute run
	// costs 120 of the 5,000 requests an hour a token may make.
	DefaultPollInterval = 5 * time.Second
	// DefaultIdentifyTimeout bounds the search for the run a dispatch
	// started, when GitHub did not return its id.
	DefaultIdentifyTimeout = 2 * time.Minute
	// maxPollErrors is how many transient errors in a row following a run
	// tolerates before failing.
	maxPollErrors = 5
)

// GitHubConfig configures the github executor.
type GitHubConfig struct {
	// Repository is owner/name.
	Repository string
	// Workflow is the workflow's file name (rollback.yml) or numeric id.
	Workflow string
	// Ref is the branch or tag the workflow runs on.
	Ref string
	// Token authenticates to the API. It is never logged.
	Token string
	// APIURL is the API base URL (default https://api.github.com; GitHub
	// Enterprise Server: https://HOST/api/v3).
	APIURL string
	// Timeout bounds the whole execution: dispatch, identification and the
	// run itself.
	Timeout time.Duration
	// PollInterval and IdentifyTimeout default to DefaultPollInterval and
	// DefaultIdentifyTimeout.
	PollInterval    time.Duration
	IdentifyTimeout time.Duration
}

// GitHub dispatches a workflow_dispatch event and follows the run to its
// conclusion.
//
// Identifying the run: the dispatch asks for return_run_details, and GitHub
// answers 200 with the run's id where it supports that. Where it answers 204
// (older API versions, GitHub Enterprise Server), the executor lists the
// workflow's workflow_dispatch runs: it remembers the runs that existed
// before the dispatch, and takes the new run whose display title (the
// workflow's run-name) contains the deployment_id input; failing that, the
// only new run whose title names no deployment at all. Several unnamed new
// runs are ambiguous, and the step fails rather than follow the wrong one:
// set `run-name: Rollback ${{ inputs.deployment_id }}` in the workflow (the
// docs' example does) and the match is exact.
//
// The run id is reported through ExecuteRequest.Progress as soon as it is
// known, so after a crash the same run is followed again rather than a
// second one dispatched.
type GitHub struct {
	cfg         GitHubConfig
	owner, repo string
	client      *github.Client
	opts        Options
}

var _ roman.Executor = (*GitHub)(nil)

// NewGitHub returns the executor. EINVALID for a malformed repository, no
// workflow, ref or token, or a bad API URL.
func NewGitHub(cfg GitHubConfig, opts Options) (*GitHub, error) {
	opts = opts.withDefaults()
	owner, repo, ok := strings.Cut(cfg.Repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, roman.Errorf(roman.EINVALID, "executor_github_repository must be owner/name")
	}
	switch {
	case cfg.Workflow == "":
		return nil, roman.Errorf(roman.EINVALID, "executor_github_workflow is required")
	case cfg.Ref == "":
		return nil, roman.Errorf(roman.EINVALID, "executor_github_ref is required")
	case cfg.Token == "":
		return nil, roman.Errorf(roman.EINVALID, "executor_github_token is required")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultGitHubAPIURL
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.IdentifyTimeout <= 0 {
		cfg.IdentifyTimeout = DefaultIdentifyTimeout
	}
	client, err := github.NewClient(
		github.WithHTTPClient(opts.HTTPClient),
		github.WithAuthToken(cfg.Token),
		github.WithURLs(&cfg.APIURL, nil),
		github.WithUserAgent("roman/"+roman.Version),
	)
	if err != nil {
		return nil, roman.Errorf(roman.EINVALID, "executor_github_api_url: %v", err)
	}
	return &GitHub{cfg: cfg, owner: owner, repo: repo, client: client, opts: opts}, nil
}

// Name returns "github".
func (g *GitHub) Name() string { return "github" }

// githubProgress is what Execute reports through Progress and reads back
// from ExecuteRequest.Resume.
type githubProgress struct {
	Executor  string `json:"executor"`
	RunID     int64  `json:"run_id"`
	HTMLURL   string `json:"html_url"`
	MatchedBy string `json:"matched_by"`
}

// Resumable is true once the run's id was recorded: the run is then
// followed again. Before that a dispatch may or may not have happened, and
// dispatching again could deploy twice.
func (g *GitHub) Resumable(progress json.RawMessage) bool {
	var p githubProgress
	return json.Unmarshal(progress, &p) == nil && p.RunID > 0
}

// Execute dispatches the workflow (or, on resume, finds the recorded run),
// then follows the run until it completes, fails or the timeout passes.
func (g *GitHub) Execute(ctx context.Context, req roman.ExecuteRequest) (json.RawMessage, error) {
	target, err := targetOf(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	deadline := g.opts.Clock().Add(g.cfg.Timeout)
	detail := map[string]any{"executor": "github", "repository": g.cfg.Repository, "workflow": g.cfg.Workflow, "ref": g.cfg.Ref}

	var p githubProgress
	if len(req.Resume) > 0 && json.Unmarshal(req.Resume, &p) == nil && p.RunID > 0 {
		detail["resumed"] = true
	} else {
		p, err = g.dispatch(ctx, req, target, deadline)
		if err != nil {
			detail["error"] = roman.ErrorMessage(err)
			return mustJSON(detail), err
		}
		if req.Progress != nil {
			req.Progress(mustJSON(p))
		}
	}
	detail["run_id"], detail["html_url"], detail["matched_by"] = p.RunID, p.HTMLURL, p.MatchedBy
	run, err := g.follow(ctx, p, deadline)
	if run != nil {
		detail["status"], detail["conclusion"] = run.GetStatus(), run.GetConclusion()
		if u := run.GetHTMLURL(); u != "" {
			detail["html_url"] = u
		}
	}
	return mustJSON(detail), err
}

// dispatch creates the workflow_dispatch event and identifies its run.
func (g *GitHub) dispatch(ctx context.Context, req roman.ExecuteRequest, target *roman.Deployment, deadline time.Time) (githubProgress, error) {
	p := githubProgress{Executor: "github"}
	before, err := g.listRuns(ctx, "")
	if err != nil {
		return p, failure(err, "GitHub: listing runs of workflow %s failed before dispatch: %s", g.cfg.Workflow, githubErrText(err))
	}
	seen := make(map[int64]bool, len(before))
	for _, r := range before {
		seen[r.GetID()] = true
	}
	since := g.opts.Clock().Add(-time.Minute)
	body := github.CreateWorkflowDispatchEventRequest{
		Ref: g.cfg.Ref,
		Inputs: map[string]any{
			"version":       target.Version,
			"git_commit":    target.GitCommit,
			"deployment_id": req.NewDeploymentID,
		},
		ReturnRunDetails: github.Ptr(true),
	}
	details, err := g.createDispatch(ctx, body)
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusUnprocessableEntity &&
		strings.Contains(er.Error(), "return_run_details") {
		// A server that does not know return_run_details refuses it with 422
		// and dispatches nothing, so asking again without it is safe.
		body.ReturnRunDetails = nil
		details, err = g.createDispatch(ctx, body)
	}
	if err != nil {
		return p, failure(err, "GitHub: dispatch of workflow %s in %s at %s failed: %s", g.cfg.Workflow, g.cfg.Repository, g.cfg.Ref, githubErrText(err))
	}
	g.opts.Logger.Info("github executor: workflow dispatched", "event_id", req.EventID, "repository", g.cfg.Repository, "workflow", g.cfg.Workflow)
	if details != nil && details.GetWorkflowRunID() > 0 {
		p.RunID, p.HTMLURL, p.MatchedBy = details.GetWorkflowRunID(), details.GetHTMLURL(), "dispatch_response"
		return p, nil
	}

	identifyBy := g.opts.Clock().Add(g.cfg.IdentifyTimeout)
	if deadline.Before(identifyBy) {
		identifyBy = deadline
	}
	for {
		runs, err := g.listRuns(ctx, ">="+since.UTC().Format(time.RFC3339))
		if err == nil {
			if run, how, ambiguous := pickRun(runs, seen, req.NewDeploymentID); run != nil {
				p.RunID, p.HTMLURL, p.MatchedBy = run.GetID(), run.GetHTMLURL(), how
				return p, nil
			} else if ambiguous > 1 && !g.opts.Clock().Before(identifyBy) {
				return p, failure(nil, "GitHub: %d new runs of workflow %s and none names deployment %s; set run-name: Rollback ${{ inputs.deployment_id }} in the workflow", ambiguous, g.cfg.Workflow, req.NewDeploymentID)
			}
		}
		if !g.opts.Clock().Before(identifyBy) {
			return p, failure(err, "GitHub: the run started by the dispatch of workflow %s did not appear within %s", g.cfg.Workflow, g.cfg.IdentifyTimeout)
		}
		if err := g.opts.Sleep(ctx, g.cfg.PollInterval); err != nil {
			return p, failure(err, "GitHub: interrupted while identifying the run of workflow %s: %v", g.cfg.Workflow, err)
		}
	}
}

var uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// pickRun chooses the dispatched run among runs: a new run (not in seen)
// whose title or name contains deploymentID, else the only new run whose
// title names no deployment. It returns how it matched, or the number of
// candidates when it could not choose.
func pickRun(runs []*github.WorkflowRun, seen map[int64]bool, deploymentID string) (*github.WorkflowRun, string, int) {
	var unnamed []*github.WorkflowRun
	for _, r := range runs {
		if seen[r.GetID()] || (r.GetEvent() != "" && r.GetEvent() != "workflow_dispatch") {
			continue
		}
		title := r.GetDisplayTitle() + " " + r.GetName()
		if strings.Contains(strings.ToLower(title), strings.ToLower(deploymentID)) {
			return r, "display_title", 0
		}
		if !uuidRE.MatchString(title) {
			unnamed = append(unnamed, r)
		}
	}
	if len(unnamed) == 1 {
		return unnamed[0], "only_new_run", 0
	}
	return nil, "", len(unnamed)
}

func (g *GitHub) createDispatch(ctx context.Context, body github.CreateWorkflowDispatchEventRequest) (*github.WorkflowDispatchRunDetails, error) {
	if id, err := strconv.ParseInt(g.cfg.Workflow, 10, 64); err == nil {
		d, _, err := g.client.Actions.CreateWorkflowDispatchEventByID(ctx, g.owner, g.repo, id, body)
		return d, err
	}
	d, _, err := g.client.Actions.CreateWorkflowDispatchEventByFileName(ctx, g.owner, g.repo, g.cfg.Workflow, body)
	return d, err
}

// listRuns lists the workflow's newest workflow_dispatch runs, created
// matching the created filter when it is not empty.
func (g *GitHub) listRuns(ctx context.Context, created string) ([]*github.WorkflowRun, error) {
	opts := &github.ListWorkflowRunsOptions{Event: "workflow_dispatch", Created: created, ListOptions: github.ListOptions{PerPage: 50}}
	var runs *github.WorkflowRuns
	var err error
	if id, perr := strconv.ParseInt(g.cfg.Workflow, 10, 64); perr == nil {
		runs, _, err = g.client.Actions.ListWorkflowRunsByID(ctx, g.owner, g.repo, id, opts)
	} else {
		runs, _, err = g.client.Actions.ListWorkflowRunsByFileName(ctx, g.owner, g.repo, g.cfg.Workflow, opts)
	}
	if err != nil {
		return nil, err
	}
	return runs.WorkflowRuns, nil
}

// follow polls the run until it completes, then maps its conclusion:
// success is success, anything else (failure, cancelled, timed_out, ...)
// fails the step with the run's URL.
func (g *GitHub) follow(ctx context.Context, p githubProgress, deadline time.Time) (*github.WorkflowRun, error) {
	var last *github.WorkflowRun
	errorsInRow := 0
	for {
		run, _, err := g.client.Actions.GetWorkflowRunByID(ctx, g.owner, g.repo, p.RunID)
		switch {
		case err == nil:
			last, errorsInRow = run, 0
			if p.HTMLURL == "" {
				p.HTMLURL = run.GetHTMLURL()
			}
			if run.GetStatus() == "completed" {
				if c := run.GetConclusion(); c != "success" {
					return last, failure(nil, "GitHub run %s concluded %q", p.HTMLURL, c)
				}
				return last, nil
			}
		case permanentGitHubError(err):
			return last, failure(err, "GitHub: reading run %s failed: %s", p.HTMLURL, githubErrText(err))
		default:
			errorsInRow++
			g.opts.Logger.Warn("github executor: reading the run failed", "run_id", p.RunID, "err", githubErrText(err))
			if errorsInRow >= maxPollErrors {
				return last, failure(err, "GitHub: reading run %s failed %d times in a row: %s", p.HTMLURL, errorsInRow, githubErrText(err))
			}
		}
		if ctx.Err() != nil || !g.opts.Clock().Before(deadline) {
			status := "unknown"
			if last != nil {
				status = last.GetStatus()
			}
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return last, failure(ctx.Err(), "GitHub: stopped following run %s (still %s): %v", p.HTMLURL, status, ctx.Err())
			}
			return last, failure(ctx.Err(), "GitHub run %s timed out after %s (still %s)", p.HTMLURL, g.cfg.Timeout, status)
		}
		if err := g.opts.Sleep(ctx, g.cfg.PollInterval); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return last, failure(err, "GitHub: stopped following run %s: %v", p.HTMLURL, err)
		}
	}
}

// permanentGitHubError is true for answers that polling again will not
// change: bad credentials, no access, no such run.
func permanentGitHubError(err error) bool {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		switch er.Response.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return true
		}
	}
	return false
}

// githubErrText describes a go-github error without the token (which
// go-github never puts in errors) and without a body dump.
func githubErrText(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		msg := er.Message
		if msg == "" {
			msg = http.StatusText(er.Response.StatusCode)
		}
		return fmt.Sprintf("%d %s", er.Response.StatusCode, msg)
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return "rate limited: " + rl.Message
	}
	if err == nil {
		return ""
	}
	return redactURLError(err).Error()
}
