package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/audit"
	"github.com/odyssey-1/roman/mock"
)

const (
	auditDepID   = "11111111-1111-4111-8111-111111111111"
	auditOtherID = "99999999-9999-4999-8999-999999999999"
	auditToken   = "tok-read-audit-0123456789"
)

var auditT0 = time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)

// auditServer is the real API server over the real audit service over mock
// stores; it returns the URL and the event filters the store was asked for.
func auditServer(t *testing.T) (string, *[]roman.RomanEventFilter) {
	t.Helper()
	var filters []roman.RomanEventFilter
	done := auditT0.Add(time.Minute)
	st := &audit.Service{
		Deployments: &mock.DeploymentStore{GetDeploymentFn: func(_ context.Context, id string) (*roman.Deployment, error) {
			if id != auditDepID {
				return nil, roman.Errorf(roman.ENOTFOUND, "deployment not found")
			}
			return &roman.Deployment{DeploymentID: id, Environment: "production", Version: "v2", GitCommit: "abcdef1234",
				GitBranch: "main", DeployedAt: auditT0, Status: roman.StatusSuccess, CompletedAt: &done}, nil
		}},
		Rollbacks: &mock.RollbackStore{ListRollbackEventsFn: func(context.Context, roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
			return nil, nil
		}},
		Snapshots: &mock.SnapshotStore{ListSnapshotsFn: func(context.Context, string) ([]*roman.Snapshot, error) { return nil, nil }},
		Audit: &mock.EventStore{ListRomanEventsFn: func(_ context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error) {
			filters = append(filters, f)
			return []*roman.RomanEvent{{
				ID: 2, EventID: "55555555-5555-4555-8555-555555555555", EventType: "breach_recorded", Severity: roman.SeverityWarning,
				Message: "A breach nobody knew about", Metadata: json.RawMessage(`{"deployment_id":"` + auditDepID + `"}`),
				Timestamp: auditT0.Add(2 * time.Minute),
			}}, nil
		}},
	}
	srv := api.NewServer(api.Config{}, api.Deps{
		Audit:   st,
		Keyring: roman.NewKeyring([]roman.APIKey{{Name: "viewer", Role: roman.RoleRead, Hash: roman.HashKey(auditToken)}}),
		Clock:   func() time.Time { return auditT0 },
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL, &filters
}

func auditGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+auditToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestExplainRoute(t *testing.T) {
	url, _ := auditServer(t)
	code, body := auditGet(t, url+"/deployments/"+auditDepID+"/explain")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var ex roman.Explanation
	if err := json.Unmarshal([]byte(body), &ex); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range ex.Timeline {
		kinds = append(kinds, e.Kind)
	}
	// An event type the explainer does not know shows up under its own
	// name, with its message as the summary and its metadata in details.
	want := []string{roman.ExplainRecorded, roman.ExplainCompleted, "breach_recorded", roman.ExplainVerdictKind}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	if e := ex.Timeline[2]; e.Summary != "A breach nobody knew about" || e.Severity != roman.SeverityWarning ||
		!strings.Contains(string(e.Details), `"metadata":{"deployment_id"`) {
		t.Errorf("unknown event rendered as %+v (%s)", e, e.Details)
	}
	if ex.Verdict.Status != roman.StatusSuccess || ex.Verdict.RolledBack || ex.Verdict.Why == "" {
		t.Errorf("verdict %+v", ex.Verdict)
	}

	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/deployments/" + auditOtherID + "/explain", http.StatusNotFound, "deployment not found"},
		{"/deployments/not-a-uuid/explain", http.StatusBadRequest, `\"deployment_id\"`},
		{"/deployments/" + auditDepID + "/explain?verbose=1", http.StatusBadRequest, `\"verbose\"`},
	} {
		code, body := auditGet(t, url+tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d %s, want %d naming %s", tc.path, code, body, tc.code, tc.want)
		}
	}
}

func TestEventsRoute(t *testing.T) {
	url, filters := auditServer(t)
	code, body := auditGet(t, url+"/events?type=health_warning&severity=warning&deployment_id="+auditDepID+
		"&environment=production&service=checkout&since=2025-12-15T13:00:00Z&limit=5")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var list api.EventList
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Events) != 1 || list.Events[0].EventType != "breach_recorded" {
		t.Fatalf("body %s (%v)", body, err)
	}
	f := (*filters)[0]
	if f.EventType != "health_warning" || f.Severity != "warning" || f.DeploymentID != auditDepID || f.Environment != "production" ||
		f.Service != "checkout" || f.Since == nil || !f.Since.Equal(auditT0.Add(-time.Hour)) || f.Limit != 5 {
		t.Errorf("store asked for %+v", f)
	}
	if _, _ = auditGet(t, url+"/events"); (*filters)[1].Limit != 100 {
		t.Errorf("default limit %d, want 100", (*filters)[1].Limit)
	}

	for _, q := range []string{"severity=fatal", "deployment_id=nope", "environment=Prod", "service=A%20B", "since=yesterday",
		"limit=0", "limit=1001", "type=Bad%20Type", "colour=red"} {
		code, body := auditGet(t, url+"/events?"+q)
		name := strings.SplitN(q, "=", 2)[0]
		if code != http.StatusBadRequest || !strings.Contains(body, `\"`+name+`\"`) {
			t.Errorf("GET /events?%s: %d %s, want 400 naming %q", q, code, body, name)
		}
	}
	if len(*filters) != 2 {
		t.Errorf("bad requests reached the store: %d calls", len(*filters))
	}
}
