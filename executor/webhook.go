package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/retryafter"
	"github.com/odyssey-1/roman/internal/scrub"
	"github.com/odyssey-1/roman/webhooksig"
)

// Webhook headers besides the signature. A call is signed, when a secret is
// configured, with the scheme of package webhooksig: X-Roman-Timestamp and
//
//	X-Roman-Signature-256: sha256=hex(HMAC_SHA256(secret, X-Roman-Timestamp + "." + body))
//
// so a receiver can refuse both forged and replayed calls (compare in
// constant time and reject a timestamp more than a few minutes old). The
// same event is sent again on retries with the same Idempotency-Key (the
// rollback event id), so a receiver can deploy it once.
const (
	HeaderEvent          = "X-Roman-Event"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Webhook retry backoff: the first retry after WebhookBackoff, doubling up
// to WebhookMaxBackoff, always within the executor timeout.
const (
	WebhookBackoff    = time.Second
	WebhookMaxBackoff = 30 * time.Second
)

// maxResponseDetail is how much of the receiver's answer the step keeps.
const maxResponseDetail = 4 << 10

// WebhookPayload is the JSON body the webhook executor POSTs.
type WebhookPayload struct {
	// Event is always "rollback".
	Event string `json:"event"`
	// EventID is the rollback event.
	EventID string `json:"event_id"`
	// Environment is the environment to redeploy.
	Environment string `json:"environment"`
	// DeploymentID is the deployment row the rollback recorded for the
	// redeploy; the receiver may PATCH its status.
	DeploymentID string `json:"deployment_id"`
	// Version, GitCommit and GitBranch are the known-good target to deploy.
	Version   string `json:"version"`
	GitCommit string `json:"git_commit"`
	GitBranch string `json:"git_branch"`
	// TargetDeploymentID is the known-good deployment's own row.
	TargetDeploymentID string `json:"target_deployment_id"`
	// RolledBack is the bad deployment being undone.
	RolledBack *WebhookDeployment `json:"rolled_back,omitempty"`
	// Timestamp is when this attempt was sent (the X-Roman-Timestamp
	// header is the same instant in Unix seconds).
	Timestamp time.Time `json:"timestamp"`
}

// WebhookDeployment names a deployment in a WebhookPayload.
type WebhookDeployment struct {
	DeploymentID string `json:"deployment_id"`
	Version      string `json:"version"`
	GitCommit    string `json:"git_commit"`
}

// Webhook POSTs the rollback to a URL and succeeds on a 2xx answer. 5xx, 429
// and network errors are retried with exponential backoff (honouring
// Retry-After) until the timeout; any other status fails at once.
type Webhook struct {
	url     string
	secret  []byte
	timeout time.Duration
	opts    Options
	scrub   *scrub.Scrubber
}

var _ roman.Executor = (*Webhook)(nil)

// NewWebhook returns the executor. The URL is a secret (it often carries a
// token) and never appears in logs or step details: the receiver's answer,
// kept in the step detail, is scrubbed of the URL's secrets and of the HMAC
// secret in every encoding a receiver may echo them in (package
// internal/scrub). An empty secret sends unsigned calls.
func NewWebhook(rawURL, secret string, timeout time.Duration, opts Options) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, roman.Errorf(roman.EINVALID, "executor_webhook_url must be an http or https URL")
	}
	return &Webhook{url: rawURL, secret: []byte(secret), timeout: timeout, opts: opts.withDefaults(),
		scrub: scrub.ForURL(rawURL, secret)}, nil
}

// Name returns "webhook".
func (w *Webhook) Name() string { return "webhook" }

// Resumable returns false: calling a webhook twice may redeploy twice, so
// an interrupted call is marked failed instead.
func (w *Webhook) Resumable(json.RawMessage) bool { return false }

// Execute POSTs the payload until a 2xx answer, a permanent failure or the
// timeout.
func (w *Webhook) Execute(ctx context.Context, req roman.ExecuteRequest) (json.RawMessage, error) {
	target, err := targetOf(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx, w.timeout)
	defer cancel()
	deadline := w.opts.Clock().Add(w.timeout)
	backoff := WebhookBackoff
	var attempts []map[string]any
	detail := func() json.RawMessage {
		return mustJSON(map[string]any{"executor": "webhook", "attempts": attempts})
	}
	for attempt := 1; ; attempt++ {
		status, body, retryAfter, err := w.post(ctx, req, target)
		a := map[string]any{"attempt": attempt, "status": status}
		if body != "" {
			a["response"] = body
		}
		if err != nil {
			a["error"] = err.Error()
		}
		attempts = append(attempts, a)
		switch {
		case err == nil && status >= 200 && status < 300:
			return detail(), nil
		case err == nil && status != http.StatusTooManyRequests && status < 500:
			return detail(), failure(nil, "webhook answered %d %s; not retried", status, http.StatusText(status))
		}
		wait := backoff
		if retryAfter > 0 {
			wait = min(retryAfter, WebhookMaxBackoff)
		}
		backoff = min(backoff*2, WebhookMaxBackoff)
		if ctx.Err() != nil || w.opts.Clock().Add(wait).After(deadline) {
			last := fmt.Sprintf("status %d", status)
			if err != nil {
				last = err.Error()
			}
			return detail(), failure(err, "webhook failed after %d attempts within %s (last: %s)", attempt, w.timeout, last)
		}
		w.opts.Logger.Warn("webhook executor: retrying", "event_id", req.EventID, "attempt", attempt, "status", status, "wait", wait)
		if err := w.opts.Sleep(ctx, wait); err != nil {
			return detail(), failure(err, "webhook interrupted after %d attempts: %v", attempt, err)
		}
	}
}

// post makes one attempt. Its error text never contains the URL.
func (w *Webhook) post(ctx context.Context, req roman.ExecuteRequest, target *roman.Deployment) (status int, body string, retryAfter time.Duration, err error) {
	now := roman.UTC(w.opts.Clock())
	p := WebhookPayload{
		Event: "rollback", EventID: req.EventID, Environment: req.Environment, DeploymentID: req.NewDeploymentID,
		Version: target.Version, GitCommit: target.GitCommit, GitBranch: target.GitBranch,
		TargetDeploymentID: target.DeploymentID, Timestamp: now,
	}
	if b := req.BadDeployment; b != nil {
		p.RolledBack = &WebhookDeployment{DeploymentID: b.DeploymentID, Version: b.Version, GitCommit: b.GitCommit}
	}
	raw := mustJSON(p)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(raw))
	if err != nil {
		return 0, "", 0, errors.New("cannot build the request")
	}
	ts := webhooksig.Timestamp(now)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "roman/"+roman.Version)
	hr.Header.Set(webhooksig.HeaderTimestamp, ts)
	hr.Header.Set(HeaderEvent, "rollback")
	hr.Header.Set(HeaderIdempotencyKey, req.EventID)
	if len(w.secret) > 0 {
		hr.Header.Set(webhooksig.HeaderSignature, webhooksig.Sign(w.secret, ts, raw))
	}
	resp, err := w.opts.HTTPClient.Do(hr)
	if err != nil {
		return 0, "", 0, redactURLError(err)
	}
	defer resp.Body.Close()
	// Many error pages quote the request: the answer is scrubbed before it
	// is cut, so that a secret across the cut goes whole.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, int64(maxResponseDetail+w.scrub.MaxMatch())))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	answer := w.scrub.Excerpt(strings.ToValidUTF8(string(b), "\uFFFD"), maxResponseDetail)
	return resp.StatusCode, answer, retryAfterOf(resp.Header, now), nil
}

// redactURLError drops the URL (a secret) from a client error, keeping
// what went wrong.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("request timed out")
		}
		return fmt.Errorf("request failed: %v", ue.Err)
	}
	return errors.New("request failed")
}

// retryAfterOf is the wait a receiver asks for in its Retry-After header
// (seconds or an HTTP date), or 0 when it names none, so that the backoff
// applies.
func retryAfterOf(h http.Header, now time.Time) time.Duration {
	d, _ := retryafter.Header(h.Get("Retry-After"), now)
	return d
}
