package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/client"
)

// TestErrorsCarryCodeMessageAndField checks each kind of error answer of a
// real roman arrives as *client.Error with its status, code, message and
// field, and unwraps to the domain errors.
func TestErrorsCarryCodeMessageAndField(t *testing.T) {
	ctx := context.Background()
	c := client.New(romanURL, adminToken)
	as := func(t *testing.T, err error) *client.Error {
		t.Helper()
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not a *client.Error", err, err)
		}
		return e
	}

	_, err := c.GetDeployment(ctx, "7a1c0e2b-0000-4000-8000-000000000404")
	if e := as(t, err); e.StatusCode != 404 || e.Code != roman.ENOTFOUND || !strings.Contains(e.Message, "not found") {
		t.Errorf("404: %+v", e)
	}
	_, err = c.GetDeployment(ctx, "abc")
	if e := as(t, err); e.Code != roman.EINVALID || e.Field != "deployment_id" || roman.ErrorCode(err) != roman.EINVALID {
		t.Errorf("400: %+v", e)
	}
	_, err = c.RecordDeployment(ctx, client.RecordDeploymentRequest{Environment: "production", GitCommit: "abc1234", GitBranch: "main"})
	if e := as(t, err); e.Code != roman.EINVALID || e.Field != "version" {
		t.Errorf("missing field: %+v", e)
	}

	// No known-good release before this one: the constitution rejects.
	lone := "7a1c0e2b-0000-4000-8000-000000000422"
	if _, err := c.RecordDeployment(ctx, client.RecordDeploymentRequest{DeploymentID: &lone, Environment: "test-reject",
		Version: "v1", GitCommit: "abc1234", GitBranch: "main"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Rollback(ctx, roman.RollbackRequest{DeploymentID: lone, TriggerReason: "broken"})
	e := as(t, err)
	var rej *roman.RejectedError
	if e.StatusCode != 422 || e.Code != roman.EREJECTED || e.Validation == nil || e.EventID == "" ||
		!errors.As(err, &rej) || rej.EventID != e.EventID || !strings.Contains(strings.Join(e.Validation.Violations, ";"), "No valid rollback target found") {
		t.Errorf("422: %+v (%+v)", e, rej)
	}

	// The same id with other fields is a conflict.
	_, err = c.RecordDeployment(ctx, client.RecordDeploymentRequest{DeploymentID: &lone, Environment: "test-reject",
		Version: "v2", GitCommit: "abc1234", GitBranch: "main"})
	var re *roman.Error
	if e := as(t, err); e.StatusCode != 409 || e.Code != roman.ECONFLICT || !errors.As(err, &re) || re.Code != roman.ECONFLICT {
		t.Errorf("409: %+v", e)
	}

	_, err = client.New(romanURL, deployToken).Rollback(ctx, roman.RollbackRequest{DeploymentID: lone, TriggerReason: "r"})
	if e := as(t, err); e.Code != roman.EFORBIDDEN {
		t.Errorf("403: %+v", e)
	}
	_, err = client.New(romanURL, "wrong-token-0123456789").Check(ctx, lone)
	if e := as(t, err); e.Code != roman.EUNAUTHORIZED || e.Message != "missing or invalid API key" {
		t.Errorf("401: %+v", e)
	}
}

func TestTransportErrors(t *testing.T) {
	ctx := context.Background()
	id := "7a1c0e2b-0000-4000-8000-000000000001"
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	_, err := client.New(proxy.URL, "t").GetDeployment(ctx, id)
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 502 || e.Code != roman.EINTERNAL || e.Message != "server answered 502 Bad Gateway" {
		t.Errorf("502: %v", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	_, err = client.New(url, "t").GetDeployment(ctx, id)
	if !errors.As(err, &e) || e.StatusCode != 0 || e.Code != roman.EUNAVAILABLE || !strings.HasPrefix(e.Message, "cannot reach roman server") {
		t.Errorf("unreachable: %v", err)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer slow.Close()
	c := client.New(slow.URL, "t")
	c.Timeout = 50 * time.Millisecond
	_, err = c.GetDeployment(ctx, id)
	if roman.ErrorCode(err) != roman.EUNAVAILABLE || !strings.Contains(roman.ErrorMessage(err), "timed out") &&
		!strings.Contains(roman.ErrorMessage(err), "deadline") {
		t.Errorf("timeout: %v", err)
	}
}

// TestRequestsAsTheServerReadsThem checks what the client sends: the bearer
// key, the filters as query parameters, absent optional fields left out.
func TestRequestsAsTheServerReadsThem(t *testing.T) {
	var got []*http.Request
	var bodies []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 4096)
		n, _ := r.Body.Read(b)
		got, bodies = append(got, r), append(bodies, string(b[:n]))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"rollbacks": [], "deployments": []}`))
	}))
	defer ts.Close()
	c := client.New(ts.URL+"/", "key-1")
	ctx := context.Background()
	since := time.Date(2025, 12, 15, 0, 0, 0, 0, time.UTC)
	if _, err := c.History(ctx, roman.RollbackFilter{Environment: "production", Status: "success", Since: &since, Limit: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListDeployments(ctx, roman.DeploymentFilter{Service: "api", Limit: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordDeployment(ctx, client.RecordDeploymentRequest{Environment: "staging", Version: "v1", GitCommit: "abc1234", GitBranch: "main"}); err != nil {
		t.Fatal(err)
	}
	if q := got[0].URL.Query(); got[0].URL.Path != "/auto-rollback/history" || q.Get("environment") != "production" ||
		q.Get("status") != "success" || q.Get("since") != "2025-12-15T00:00:00Z" || q.Get("limit") != "5" {
		t.Errorf("history request %s", got[0].URL)
	}
	if got[1].URL.RawQuery != "limit=3&service=api" || got[1].Header.Get("Authorization") != "Bearer key-1" {
		t.Errorf("list request %s %v", got[1].URL, got[1].Header)
	}
	if bodies[2] != `{"environment":"staging","version":"v1","git_commit":"abc1234","git_branch":"main"}` {
		t.Errorf("record body %s", bodies[2])
	}
}

// TestDoReachesOtherRoutes shows Do on a route the client has no method
// for.
func TestDoReachesOtherRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	if err := newClient().Do(context.Background(), "GET", "/openapi.json", nil, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("Do: %+v, %v", doc, err)
	}
}
