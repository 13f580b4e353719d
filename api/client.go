package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// Client timeouts. A rollback waits for the executor and the verify window
// (60 s by default), so it gets far longer than an ordinary call.
const (
	DefaultClientTimeout   = 30 * time.Second
	DefaultRollbackTimeout = 15 * time.Minute
)

// maxResponseBytes caps how much of a response the client reads, so a
// misbehaving server or proxy cannot exhaust the CLI's memory.
const maxResponseBytes = 64 << 20

// Client is the Go client of roman's HTTP API, used by the CLI. Its errors
// are *roman.Error with the code mapped back from the HTTP status and the
// server's own message, so callers handle them like service errors.
type Client struct {
	// BaseURL is the server's URL without a trailing slash.
	BaseURL string
	// Token is the API key sent as a bearer token; empty sends none.
	Token string
	// HTTPClient does the requests; its Timeout is the outer bound of any
	// call.
	HTTPClient *http.Client
	// Timeout bounds an ordinary call whose context has no deadline.
	Timeout time.Duration
	// RollbackTimeout bounds Rollback when its context has no deadline.
	RollbackTimeout time.Duration
}

// NewClient returns a client of the server at baseURL authenticating with
// token.
func NewClient(baseURL, token string) *Client {
	return &Client{
		BaseURL:         strings.TrimRight(baseURL, "/"),
		Token:           token,
		HTTPClient:      &http.Client{Timeout: DefaultRollbackTimeout},
		Timeout:         DefaultClientTimeout,
		RollbackTimeout: DefaultRollbackTimeout,
	}
}

// RecordDeployment records a deployment (POST /deployments). An idempotent
// re-send returns the stored row without error.
func (c *Client) RecordDeployment(ctx context.Context, req RecordDeploymentRequest) (*roman.Deployment, error) {
	var d roman.Deployment
	if err := c.Do(ctx, http.MethodPost, "/deployments", req, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// GetDeployment returns one deployment.
func (c *Client) GetDeployment(ctx context.Context, deploymentID string) (*roman.Deployment, error) {
	var d roman.Deployment
	if err := c.Do(ctx, http.MethodGet, "/deployments/"+url.PathEscape(deploymentID), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListDeployments returns deployments newest first. Zero filter fields are
// not sent, so the server's defaults apply.
func (c *Client) ListDeployments(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error) {
	q := url.Values{}
	setQuery(q, "service", f.Service)
	setQuery(q, "environment", f.Environment)
	setQuery(q, "status", f.Status)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out DeploymentList
	if err := c.Do(ctx, http.MethodGet, withQuery("/deployments", q), nil, &out); err != nil {
		return nil, err
	}
	return out.Deployments, nil
}

// UpdateDeployment changes a deployment's status and/or health check
// verdict (PATCH /deployments/{deployment_id}).
func (c *Client) UpdateDeployment(ctx context.Context, deploymentID string, req UpdateDeploymentRequest) (*roman.Deployment, error) {
	var d roman.Deployment
	if err := c.Do(ctx, http.MethodPatch, "/deployments/"+url.PathEscape(deploymentID), req, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Rollback executes a rollback (POST /auto-rollback) and waits for it. A
// constitutional rejection is a *roman.Error with code EREJECTED that wraps
// a *roman.RejectedError, so errors.As finds the validation.
func (c *Client) Rollback(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
	var res roman.RollbackResult
	if err := c.do(ctx, c.RollbackTimeout, http.MethodPost, "/auto-rollback", req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Check returns a deployment's health and whether it should roll back.
func (c *Client) Check(ctx context.Context, deploymentID string) (*roman.CheckResult, error) {
	var res roman.CheckResult
	if err := c.Do(ctx, http.MethodPost, "/auto-rollback/check", CheckRequest{DeploymentID: deploymentID}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// History returns rollback events newest first.
func (c *Client) History(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
	q := url.Values{}
	setQuery(q, "service", f.Service)
	setQuery(q, "environment", f.Environment)
	setQuery(q, "deployment_id", f.DeploymentID)
	setQuery(q, "status", f.Status)
	setSinceLimit(q, f.Since, f.Limit)
	var out RollbackHistory
	if err := c.Do(ctx, http.MethodGet, withQuery("/auto-rollback/history", q), nil, &out); err != nil {
		return nil, err
	}
	return out.Rollbacks, nil
}

// Explain returns a deployment's decision timeline, oldest first, and its
// verdict (GET /deployments/{deployment_id}/explain).
func (c *Client) Explain(ctx context.Context, deploymentID string) (*roman.Explanation, error) {
	var ex roman.Explanation
	if err := c.Do(ctx, http.MethodGet, "/deployments/"+url.PathEscape(deploymentID)+"/explain", nil, &ex); err != nil {
		return nil, err
	}
	return &ex, nil
}

// Events returns audit events (roman_events) newest first (GET /events).
func (c *Client) Events(ctx context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
	q := url.Values{}
	setQuery(q, "type", f.EventType)
	setQuery(q, "severity", f.Severity)
	setQuery(q, "deployment_id", f.DeploymentID)
	setQuery(q, "environment", f.Environment)
	setQuery(q, "service", f.Service)
	setSinceLimit(q, f.Since, f.Limit)
	var out EventList
	if err := c.Do(ctx, http.MethodGet, withQuery("/events", q), nil, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// SendErrors posts error events (POST /errors): body is one event
// (ErrorEventRequest) or {"events": [...]}, as JSON.
func (c *Client) SendErrors(ctx context.Context, body json.RawMessage) (*IngestResponse, error) {
	var out IngestResponse
	if err := c.Do(ctx, http.MethodPost, "/errors", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateSnapshot takes a snapshot of the system for a deployment.
func (c *Client) CreateSnapshot(ctx context.Context, deploymentID, snapshotType string) (*roman.Snapshot, error) {
	var s roman.Snapshot
	path := "/deployments/" + url.PathEscape(deploymentID) + "/snapshots"
	if err := c.Do(ctx, http.MethodPost, path, CreateSnapshotRequest{SnapshotType: snapshotType}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// GetSnapshot returns one snapshot.
func (c *Client) GetSnapshot(ctx context.Context, snapshotID string) (*roman.Snapshot, error) {
	var s roman.Snapshot
	if err := c.Do(ctx, http.MethodGet, "/snapshots/"+url.PathEscape(snapshotID), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ListSnapshots returns a deployment's snapshots, newest first.
func (c *Client) ListSnapshots(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error) {
	var out SnapshotList
	if err := c.Do(ctx, http.MethodGet, "/deployments/"+url.PathEscape(deploymentID)+"/snapshots", nil, &out); err != nil {
		return nil, err
	}
	return out.Snapshots, nil
}

// DiffSnapshots returns what changed from snapshot a to snapshot b.
func (c *Client) DiffSnapshots(ctx context.Context, a, b string) (*roman.SnapshotDiff, error) {
	var d roman.SnapshotDiff
	path := "/snapshots/" + url.PathEscape(a) + "/diff/" + url.PathEscape(b)
	if err := c.Do(ctx, http.MethodGet, path, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Do sends in (when not nil) as JSON to path (which may carry a query
// string) and decodes a 2xx answer into out (when not nil). Any other answer
// is a *roman.Error carrying the server's message. Later features reuse it
// for their routes.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, c.Timeout, method, path, in, out)
}

func (c *Client) do(ctx context.Context, timeout time.Duration, method, path string, in, out any) error {
	if _, ok := ctx.Deadline(); !ok && timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return &roman.Error{Code: roman.EINVALID, Message: "cannot encode request", Err: err}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return &roman.Error{Code: roman.EINVALID, Message: fmt.Sprintf("invalid server URL %q", c.BaseURL), Err: err}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "roman/"+roman.Version)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &roman.Error{Code: roman.EUNAVAILABLE, Message: "cannot reach roman server: " + transportReason(err), Err: err}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		_ = resp.Body.Close()
	}()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return &roman.Error{Code: roman.EUNAVAILABLE, Message: "cannot read server response", Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp.StatusCode, data)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &roman.Error{Code: roman.EINTERNAL, Message: "cannot decode server response", Err: err}
	}
	return nil
}

// responseError turns a non-2xx answer into a *roman.Error. The server's
// "error" text becomes the message so a CLI prints what the server said.
func responseError(status int, data []byte) error {
	var er ErrorResponse
	if json.Unmarshal(data, &er) != nil || er.Error == "" {
		er.Error = fmt.Sprintf("server answered %d %s", status, http.StatusText(status))
	}
	e := &roman.Error{Code: codeForStatus(status), Message: er.Error, EventID: er.EventID}
	if status == http.StatusUnprocessableEntity && er.Validation != nil {
		e.Err = &roman.RejectedError{EventID: er.EventID, Validation: *er.Validation}
	}
	return e
}

// transportReason describes a transport failure without the URL, which the
// caller already knows.
func transportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out"
		}
		return ue.Err.Error()
	}
	return err.Error()
}

func setQuery(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// setSinceLimit sets the "since" and "limit" parameters list routes share,
// each when given.
func setSinceLimit(q url.Values, since *time.Time, limit int) {
	if since != nil {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
