package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
)

// Client timeouts. A rollback waits for the executor and the verify window
// (60 s by default), so it gets far longer than an ordinary call.
const (
	DefaultTimeout         = 30 * time.Second
	DefaultRollbackTimeout = 15 * time.Minute
)

// maxResponseBytes caps how much of an answer the client reads, so a
// misbehaving server or proxy cannot exhaust the caller's memory.
const maxResponseBytes = 64 << 20

// Request and answer types of the API, named here so that callers need not
// import the server's package.
type (
	// RecordDeploymentRequest is the body of RecordDeployment. Optional
	// fields are pointers: absent differs from zero.
	RecordDeploymentRequest = api.RecordDeploymentRequest
	// UpdateDeploymentRequest is the body of UpdateDeployment.
	UpdateDeploymentRequest = api.UpdateDeploymentRequest
	// RecordMigrationRequest is the body of RecordMigration.
	RecordMigrationRequest = api.RecordMigrationRequest
	// ErrorEvent is one application error for SendErrors.
	ErrorEvent = api.ErrorEventRequest
	// MetricSample is one metric value for SendMetrics.
	MetricSample = api.MetricSampleRequest
	// IngestResponse answers SendErrors and SendMetrics: what was stored,
	// and the deployments it was attributed to.
	IngestResponse = api.IngestResponse
	// Status answers Health and Ready.
	Status = api.StatusResponse
)

// Client calls one roman server. Its fields may be changed before the first
// call; it is safe for concurrent use afterwards.
type Client struct {
	// BaseURL is the server's URL without a trailing slash.
	BaseURL string
	// Token is the API key sent as a bearer token; empty sends none.
	Token string
	// HTTPClient does the requests; its Timeout is the outer bound of any
	// call. nil uses http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds an ordinary call whose context has no deadline.
	Timeout time.Duration
	// RollbackTimeout bounds Rollback when its context has no deadline.
	RollbackTimeout time.Duration
	// UserAgent is sent with every request (default "roman/<version>").
	UserAgent string
}

// New returns a client of the server at baseURL authenticating with token.
func New(baseURL, token string) *Client {
	return &Client{
		BaseURL:         strings.TrimRight(baseURL, "/"),
		Token:           token,
		HTTPClient:      &http.Client{Timeout: DefaultRollbackTimeout},
		Timeout:         DefaultTimeout,
		RollbackTimeout: DefaultRollbackTimeout,
	}
}

// RecordDeployment records a deployment (CI's "record" step). Sending the
// same deployment_id again with the same fields returns the stored row
// without error; with different fields it is a conflict (roman.ECONFLICT).
func (c *Client) RecordDeployment(ctx context.Context, req RecordDeploymentRequest) (*roman.Deployment, error) {
	var d roman.Deployment
	return ret(&d, c.call(ctx, routeRecordDeployment, nil, nil, req, &d))
}

// GetDeployment returns one deployment (roman.ENOTFOUND when unknown).
func (c *Client) GetDeployment(ctx context.Context, deploymentID string) (*roman.Deployment, error) {
	var d roman.Deployment
	return ret(&d, c.call(ctx, routeGetDeployment, []string{deploymentID}, nil, nil, &d))
}

// ListDeployments returns deployments newest first. Zero filter fields are
// not sent, so the server's defaults apply.
func (c *Client) ListDeployments(ctx context.Context, f roman.DeploymentFilter) ([]*roman.Deployment, error) {
	q := url.Values{}
	setQuery(q, "service", f.Service)
	setQuery(q, "environment", f.Environment)
	setQuery(q, "status", f.Status)
	setSinceLimit(q, nil, f.Limit)
	var out api.DeploymentList
	if err := c.call(ctx, routeListDeployments, nil, q, nil, &out); err != nil {
		return nil, err
	}
	return out.Deployments, nil
}

// UpdateDeployment changes a deployment's status and/or health check
// verdict. A transition the status machine forbids is roman.ECONFLICT.
func (c *Client) UpdateDeployment(ctx context.Context, deploymentID string, req UpdateDeploymentRequest) (*roman.Deployment, error) {
	var d roman.Deployment
	return ret(&d, c.call(ctx, routeUpdateDeployment, []string{deploymentID}, nil, req, &d))
}

// CompleteDeployment reports the end of a deploy (CI's "complete" step):
// status roman.StatusSuccess, which opens the watch window, or
// roman.StatusFailed.
func (c *Client) CompleteDeployment(ctx context.Context, deploymentID, status string) (*roman.Deployment, error) {
	return c.UpdateDeployment(ctx, deploymentID, UpdateDeploymentRequest{Status: &status})
}

// Rollback executes a rollback and waits for it to finish or to be handed
// to the background (bounded by RollbackTimeout). A constitutional
// rejection is an *Error with code roman.EREJECTED and its Validation set.
func (c *Client) Rollback(ctx context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
	var res roman.RollbackResult
	if err := c.callTimeout(ctx, c.RollbackTimeout, routeRollback, nil, nil, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Validate asks the constitution whether a rollback would be allowed,
// without executing it.
func (c *Client) Validate(ctx context.Context, req roman.RollbackRequest) (*roman.Validation, error) {
	var v roman.Validation
	return ret(&v, c.call(ctx, routeValidate, nil, nil, req, &v))
}

// Check returns a deployment's health and whether it should roll back.
func (c *Client) Check(ctx context.Context, deploymentID string) (*roman.CheckResult, error) {
	var res roman.CheckResult
	return ret(&res, c.call(ctx, routeCheck, nil, nil, api.CheckRequest{DeploymentID: deploymentID}, &res))
}

// History returns rollback events newest first.
func (c *Client) History(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
	q := url.Values{}
	setQuery(q, "service", f.Service)
	setQuery(q, "environment", f.Environment)
	setQuery(q, "deployment_id", f.DeploymentID)
	setQuery(q, "status", f.Status)
	setSinceLimit(q, f.Since, f.Limit)
	var out api.RollbackHistory
	if err := c.call(ctx, routeHistory, nil, q, nil, &out); err != nil {
		return nil, err
	}
	return out.Rollbacks, nil
}

// Explain returns a deployment's decision timeline, oldest first, and its
// verdict: why roman did or did not roll it back.
func (c *Client) Explain(ctx context.Context, deploymentID string) (*roman.Explanation, error) {
	var ex roman.Explanation
	return ret(&ex, c.call(ctx, routeExplain, []string{deploymentID}, nil, nil, &ex))
}

// ListJudgements returns a deployment's judgements (the judge's
// health_judgement evidence), newest first.
func (c *Client) ListJudgements(ctx context.Context, deploymentID string) (*api.JudgementList, error) {
	var out api.JudgementList
	return ret(&out, c.call(ctx, routeJudgements, []string{deploymentID}, nil, nil, &out))
}

// DeploymentErrors returns a release's errors grouped by fingerprint, new
// ones first (GET /deployments/{deployment_id}/errors). A zero f.Limit is
// the server's default.
func (c *Client) DeploymentErrors(ctx context.Context, deploymentID string, f roman.ErrorGroupFilter) ([]roman.ErrorGroup, error) {
	q := url.Values{}
	if f.NewOnly {
		q.Set("new", "true")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out api.ErrorGroupList
	if err := c.call(ctx, routeDeploymentErrors, []string{deploymentID}, q, nil, &out); err != nil {
		return nil, err
	}
	return out.Errors, nil
}

// Events returns audit events (roman_events) newest first.
func (c *Client) Events(ctx context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
	q := url.Values{}
	setQuery(q, "type", f.EventType)
	setQuery(q, "severity", f.Severity)
	setQuery(q, "deployment_id", f.DeploymentID)
	setQuery(q, "environment", f.Environment)
	setQuery(q, "service", f.Service)
	setSinceLimit(q, f.Since, f.Limit)
	var out api.EventList
	if err := c.call(ctx, routeEvents, nil, q, nil, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// SendErrors posts application errors as one batch, stored all or nothing;
// the monitor evaluates the deployments they count for at once.
func (c *Client) SendErrors(ctx context.Context, events ...ErrorEvent) (*IngestResponse, error) {
	b, err := json.Marshal(events)
	if err != nil {
		return nil, &Error{Code: roman.EINVALID, Message: "cannot encode events", Err: err}
	}
	return c.SendErrorsJSON(ctx, json.RawMessage(`{"events":`+string(b)+`}`))
}

// SendErrorsJSON posts a body already in the API's JSON form: one event, or
// {"events": [...]}.
func (c *Client) SendErrorsJSON(ctx context.Context, body json.RawMessage) (*IngestResponse, error) {
	var out IngestResponse
	return ret(&out, c.call(ctx, routeSendErrors, nil, nil, body, &out))
}

// SendMetrics posts metric samples (latency, memory, connections) as one
// batch, stored all or nothing.
func (c *Client) SendMetrics(ctx context.Context, samples ...MetricSample) (*IngestResponse, error) {
	b, err := json.Marshal(samples)
	if err != nil {
		return nil, &Error{Code: roman.EINVALID, Message: "cannot encode samples", Err: err}
	}
	var out IngestResponse
	return ret(&out, c.call(ctx, routeSendMetrics, nil, nil, json.RawMessage(`{"samples":`+string(b)+`}`), &out))
}

// CreateSnapshot takes a snapshot of the system for a deployment
// (roman.SnapshotPreDeployment, roman.SnapshotPostDeployment or
// roman.SnapshotPreRollback).
func (c *Client) CreateSnapshot(ctx context.Context, deploymentID, snapshotType string) (*roman.Snapshot, error) {
	var s roman.Snapshot
	return ret(&s, c.call(ctx, routeCreateSnapshot, []string{deploymentID}, nil, api.CreateSnapshotRequest{SnapshotType: snapshotType}, &s))
}

// GetSnapshot returns one snapshot.
func (c *Client) GetSnapshot(ctx context.Context, snapshotID string) (*roman.Snapshot, error) {
	var s roman.Snapshot
	return ret(&s, c.call(ctx, routeGetSnapshot, []string{snapshotID}, nil, nil, &s))
}

// ListSnapshots returns a deployment's snapshots, newest first.
func (c *Client) ListSnapshots(ctx context.Context, deploymentID string) ([]*roman.Snapshot, error) {
	var out api.SnapshotList
	if err := c.call(ctx, routeListSnapshots, []string{deploymentID}, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Snapshots, nil
}

// DiffSnapshots returns what changed from snapshot a to snapshot b.
func (c *Client) DiffSnapshots(ctx context.Context, a, b string) (*roman.SnapshotDiff, error) {
	var d roman.SnapshotDiff
	return ret(&d, c.call(ctx, routeDiffSnapshots, []string{a, b}, nil, nil, &d))
}

// RecordMigration records a migration a deployment applied. Sending the
// same migration again returns the stored row without error.
func (c *Client) RecordMigration(ctx context.Context, deploymentID string, req RecordMigrationRequest) (*roman.Migration, error) {
	var m roman.Migration
	return ret(&m, c.call(ctx, routeRecordMigration, []string{deploymentID}, nil, req, &m))
}

// ListMigrations returns a deployment's migrations in applied order.
func (c *Client) ListMigrations(ctx context.Context, deploymentID string) ([]*roman.Migration, error) {
	var out api.MigrationList
	if err := c.call(ctx, routeListMigrations, []string{deploymentID}, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Migrations, nil
}

// Health reports whether the server process answers (GET /healthz).
func (c *Client) Health(ctx context.Context) (*Status, error) {
	var s Status
	return ret(&s, c.call(ctx, routeHealthz, nil, nil, nil, &s))
}

// Ready reports whether the server can serve, its store included (GET
// /readyz); a server that cannot is an *Error with code
// roman.EUNAVAILABLE.
func (c *Client) Ready(ctx context.Context) (*Status, error) {
	var s Status
	return ret(&s, c.call(ctx, routeReadyz, nil, nil, nil, &s))
}

// Do sends in (when not nil) as JSON to path (which may carry a query
// string) and decodes a 2xx answer into out (when not nil); any other answer
// is an *Error. It is for routes the client has no method for yet; such
// calls are not in the route table the OpenAPI cross-check reads.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, c.Timeout, method, path, in, out)
}

func (c *Client) call(ctx context.Context, r *Route, params []string, q url.Values, in, out any) error {
	return c.callTimeout(ctx, c.Timeout, r, params, q, in, out)
}

func (c *Client) callTimeout(ctx context.Context, timeout time.Duration, r *Route, params []string, q url.Values, in, out any) error {
	path := r.expand(params...)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.do(ctx, timeout, r.Method, path, in, out)
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
			return &Error{Code: roman.EINVALID, Message: "cannot encode request", Err: err}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return &Error{Code: roman.EINVALID, Message: fmt.Sprintf("invalid server URL %q", c.BaseURL), Err: err}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = "roman/" + roman.Version
	}
	req.Header.Set("User-Agent", ua)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		_ = resp.Body.Close()
	}()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return &Error{StatusCode: resp.StatusCode, Code: roman.EUNAVAILABLE, Message: "cannot read server response", Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp.StatusCode, data)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{StatusCode: resp.StatusCode, Code: roman.EINTERNAL, Message: "cannot decode server response", Err: err}
	}
	return nil
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

// ret returns v, or nil when err is set, so that a failed call never hands
// back a half-decoded value.
func ret[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}
