package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

func ptr[T any](v T) *T { return &v }

func TestClientRoundTrips(t *testing.T) {
	f := newFixture(t)
	c := NewClient(f.ts.URL+"/", deployToken)
	ctx := context.Background()

	at := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	d, err := c.RecordDeployment(ctx, RecordDeploymentRequest{Environment: "production", Version: "v2.5.3", GitCommit: "b4c5d6e",
		GitBranch: "main", DeploymentID: ptr(depID), DeployedAt: &at, HealthCheckPassed: ptr(true)})
	if err != nil || d.DeploymentID != depID || d.ID != 1 {
		t.Fatalf("RecordDeployment: %+v, %v", d, err)
	}
	if got := f.recorded[0]; !got.DeployedAt.Equal(at) || !got.HealthCheckPassed || got.Status != "" {
		t.Errorf("server decoded %+v", got)
	}
	if d, err = c.GetDeployment(ctx, depID); err != nil || d.Version != "v2.5.3" {
		t.Errorf("GetDeployment: %+v, %v", d, err)
	}
	list, err := c.ListDeployments(ctx, roman.DeploymentFilter{Environment: "production", Status: "success", Limit: 3})
	if err != nil || len(list) != 2 || f.depF[0] != (roman.DeploymentFilter{Environment: "production", Status: "success", Limit: 3}) {
		t.Errorf("ListDeployments: %v, %v, filter %+v", list, err, f.depF)
	}
	if d, err = c.UpdateDeployment(ctx, depID, UpdateDeploymentRequest{Status: ptr(roman.StatusFailed)}); err != nil || d.Status != "failed" {
		t.Errorf("UpdateDeployment: %+v, %v", d, err)
	}
	snap, err := c.CreateSnapshot(ctx, depID, roman.SnapshotPreDeployment)
	if err != nil || snap.SnapshotType != roman.SnapshotPreDeployment {
		t.Errorf("CreateSnapshot: %+v, %v", snap, err)
	}
	if snap, err = c.GetSnapshot(ctx, snapID); err != nil || snap.TableCounts["users"] != 10 {
		t.Errorf("GetSnapshot: %+v, %v", snap, err)
	}
	if snaps, err := c.ListSnapshots(ctx, depID); err != nil || len(snaps) != 1 {
		t.Errorf("ListSnapshots: %v, %v", snaps, err)
	}
	if diff, err := c.DiffSnapshots(ctx, snapID, snapID2); err != nil || diff.TableCounts["users"] != 3 {
		t.Errorf("DiffSnapshots: %+v, %v", diff, err)
	}
	if chk, err := c.Check(ctx, depID); err != nil || !chk.ShouldRollback || chk.Health.RecentErrors != 42 {
		t.Errorf("Check: %+v, %v", chk, err)
	}
	since := time.Date(2025, 12, 15, 0, 0, 0, 0, time.UTC)
	hist, err := c.History(ctx, roman.RollbackFilter{Environment: "production", DeploymentID: depID, Status: "success", Since: &since, Limit: 5})
	if err != nil || len(hist) != 1 || len(hist[0].RollbackSteps) != 1 {
		t.Errorf("History: %v, %v", hist, err)
	}
	if got := f.histF[0]; got.Since == nil || !got.Since.Equal(since) || got.Limit != 5 || got.Environment != "production" || got.Status != "success" {
		t.Errorf("history filter %+v", got)
	}

	c.Token = rollbackToken
	res, err := c.Rollback(ctx, roman.RollbackRequest{DeploymentID: depID, TriggerReason: "Critical bug", WithMigrations: true,
		Caller: "ignored", Admin: true})
	if err != nil || !res.Success || res.TargetDeployment.Version != "v2.5.2" {
		t.Fatalf("Rollback: %+v, %v", res, err)
	}
	if got := f.rollReqs[0]; got.Caller != "oncall" || got.Admin || !got.WithMigrations {
		t.Errorf("the client's Caller/Admin leaked into the request: %+v", got)
	}
}

func TestClientErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := NewClient(f.ts.URL, rollbackToken)

	_, err := c.GetDeployment(ctx, unknownID)
	if roman.ErrorCode(err) != roman.ENOTFOUND || roman.ErrorMessage(err) != "deployment not found" {
		t.Errorf("404: %v", err)
	}
	_, err = c.GetDeployment(ctx, "abc")
	if roman.ErrorCode(err) != roman.EINVALID || !strings.Contains(roman.ErrorMessage(err), `"deployment_id"`) {
		t.Errorf("400: %v", err)
	}
	_, err = c.Rollback(ctx, roman.RollbackRequest{DeploymentID: depID, TriggerReason: "r", Override: true})
	if roman.ErrorCode(err) != roman.EFORBIDDEN {
		t.Errorf("403: %v", err)
	}

	f.rbs.ExecuteFn = func(context.Context, roman.RollbackRequest) (*roman.RollbackResult, error) {
		return nil, &roman.RejectedError{EventID: eventID, Validation: roman.Validation{Violations: []string{"No valid rollback target found"}}}
	}
	_, err = c.Rollback(ctx, roman.RollbackRequest{DeploymentID: depID, TriggerReason: "r"})
	var rej *roman.RejectedError
	if roman.ErrorCode(err) != roman.EREJECTED || roman.ErrorMessage(err) != "Constitutional validation failed" ||
		!errors.As(err, &rej) || rej.EventID != eventID || rej.Validation.Violations[0] != "No valid rollback target found" {
		t.Errorf("422: %v (%+v)", err, rej)
	}

	f.rbs.ExecuteFn = func(context.Context, roman.RollbackRequest) (*roman.RollbackResult, error) {
		return nil, &roman.Error{Code: roman.ECONFLICT, Message: "already rolling back", EventID: eventID}
	}
	_, err = c.Rollback(ctx, roman.RollbackRequest{DeploymentID: depID, TriggerReason: "r"})
	var re *roman.Error
	if !errors.As(err, &re) || re.Code != roman.ECONFLICT || re.EventID != eventID || re.Message != "already rolling back" {
		t.Errorf("409: %v", err)
	}

	f.rbs.HistoryFn = func(context.Context, roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
		return nil, errors.New("secret")
	}
	if _, err = c.History(ctx, roman.RollbackFilter{}); roman.ErrorCode(err) != roman.EINTERNAL || roman.ErrorMessage(err) != "internal error" {
		t.Errorf("500: %v", err)
	}

	bad := NewClient(f.ts.URL, "wrong")
	if _, err = bad.Check(ctx, depID); roman.ErrorCode(err) != roman.EUNAUTHORIZED || roman.ErrorMessage(err) != "missing or invalid API key" {
		t.Errorf("401: %v", err)
	}
}

func TestClientTransportErrors(t *testing.T) {
	ctx := context.Background()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	_, err := NewClient(proxy.URL, "t").GetDeployment(ctx, depID)
	if roman.ErrorCode(err) != roman.EINTERNAL || roman.ErrorMessage(err) != "server answered 502 Bad Gateway" {
		t.Errorf("502: %v", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	_, err = NewClient(url, "t").GetDeployment(ctx, depID)
	if roman.ErrorCode(err) != roman.EUNAVAILABLE || !strings.HasPrefix(roman.ErrorMessage(err), "cannot reach roman server") {
		t.Errorf("unreachable: %v", err)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer slow.Close()
	c := NewClient(slow.URL, "t")
	c.Timeout = 50 * time.Millisecond
	_, err = c.GetDeployment(ctx, depID)
	if roman.ErrorCode(err) != roman.EUNAVAILABLE || !strings.Contains(roman.ErrorMessage(err), "timed out") &&
		!strings.Contains(roman.ErrorMessage(err), "deadline") {
		t.Errorf("timeout: %v", err)
	}
}

// TestClientDoOnLaterRoutes shows how a later feature reuses Do and Handle.
func TestClientDoOnLaterRoutes(t *testing.T) {
	f := newFixture(t)
	type echo struct {
		Message string `json:"message"`
	}
	f.srv.Handle("POST /echo", roman.RoleDeploy, func(w http.ResponseWriter, r *http.Request) error {
		var in echo
		if err := DecodeJSON(r, &in); err != nil {
			return err
		}
		if err := roman.RequireFields("message", in.Message); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, in)
	})
	c := NewClient(f.ts.URL, deployToken)
	var out echo
	if err := c.Do(context.Background(), "POST", "/echo", echo{Message: "hi"}, &out); err != nil || out.Message != "hi" {
		t.Errorf("Do: %+v, %v", out, err)
	}
	err := c.Do(context.Background(), "POST", "/echo", map[string]int{"message": 1}, nil)
	if roman.ErrorCode(err) != roman.EINVALID || roman.ErrorMessage(err) != `invalid value for field "message": expected string` {
		t.Errorf("Do error: %v", err)
	}
}
