package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/ingest"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/mock"
)

// Fixed ids and tokens used across the tests.
const (
	depID     = "11111111-1111-4111-8111-111111111111"
	depID2    = "22222222-2222-4222-8222-222222222222"
	snapID    = "33333333-3333-4333-8333-333333333333"
	snapID2   = "44444444-4444-4444-8444-444444444444"
	eventID   = "55555555-5555-4555-8555-555555555555"
	userID    = "66666666-6666-4666-8666-666666666666"
	unknownID = "99999999-9999-4999-8999-999999999999"

	readToken     = "tok-read-0123456789"
	deployToken   = "tok-deploy-0123456789"
	rollbackToken = "tok-rollback-0123456789"
	adminToken    = "tok-admin-0123456789"
)

var testNow = time.Date(2025, 12, 15, 14, 35, 0, 0, time.UTC)

// fixture is a real Server over mocks whose reads answer fixed rows and whose
// writes succeed and are counted, so validation tests can assert that
// nothing was written.
type fixture struct {
	t      testing.TB
	deps   *mock.DeploymentService
	rbs    *mock.RollbackService
	snaps  *mock.SnapshotService
	ping   *mock.Pinger
	ingest *ingest.Service
	srv    *Server
	ts     *httptest.Server
	logs   *testkit.Sink
	writes atomic.Int64

	mu       sync.Mutex
	recorded []*roman.Deployment
	updates  []roman.DeploymentUpdate
	rollReqs []roman.RollbackRequest
	depF     []roman.DeploymentFilter
	histF    []roman.RollbackFilter
}

func sampleDeployment(id string) *roman.Deployment {
	return &roman.Deployment{
		ID: 7, DeploymentID: id, Environment: "production", Version: "v2.5.3",
		GitCommit: "b4c5d6e", GitBranch: "main", DeployedAt: testNow.Add(-10 * time.Minute),
		Status: roman.StatusSuccess, Metadata: json.RawMessage(`{"run":42}`),
	}
}

func sampleSnapshot(id string, rows int64) *roman.Snapshot {
	return &roman.Snapshot{
		ID: 3, SnapshotID: id, DeploymentID: depID, SnapshotType: roman.SnapshotPostDeployment,
		DatabaseSchemaHash: "abc", TableCounts: map[string]int64{"users": rows},
		KeyMetrics: json.RawMessage(`{"error_rate_per_minute":0.2}`), CreatedAt: testNow,
	}
}

func notFound(what string) error { return roman.Errorf(roman.ENOTFOUND, "%s not found", what) }

func newFixture(t testing.TB) *fixture {
	return newFixtureConfig(t, Config{})
}

func newFixtureConfig(t testing.TB, cfg Config) *fixture {
	t.Helper()
	f := &fixture{t: t, logs: &testkit.Sink{}}
	known := func(id string) bool { return id == depID || id == depID2 }
	f.deps = &mock.DeploymentService{
		RecordFn: func(_ context.Context, d *roman.Deployment) (*roman.Deployment, bool, error) {
			f.writes.Add(1)
			f.mu.Lock()
			f.recorded = append(f.recorded, d)
			f.mu.Unlock()
			out := *d
			out.ID = 1
			return &out, true, nil
		},
		GetFn: func(_ context.Context, id string) (*roman.Deployment, error) {
			if !known(id) {
				return nil, notFound("deployment")
			}
			return sampleDeployment(id), nil
		},
		ListFn: func(_ context.Context, flt roman.DeploymentFilter) ([]*roman.Deployment, error) {
			f.mu.Lock()
			f.depF = append(f.depF, flt)
			f.mu.Unlock()
			return []*roman.Deployment{sampleDeployment(depID), sampleDeployment(depID2)}, nil
		},
		UpdateFn: func(_ context.Context, id string, u roman.DeploymentUpdate) (*roman.Deployment, error) {
			if !known(id) {
				return nil, notFound("deployment")
			}
			f.writes.Add(1)
			f.mu.Lock()
			f.updates = append(f.updates, u)
			f.mu.Unlock()
			d := sampleDeployment(id)
			if u.Status != nil {
				d.Status = *u.Status
			}
			return d, nil
		},
		RecordMigrationFn: func(_ context.Context, m *roman.Migration) (*roman.Migration, bool, error) {
			if !known(m.DeploymentID) {
				return nil, false, notFound("deployment")
			}
			f.writes.Add(1)
			out := *m
			out.ID = 1
			return &out, true, nil
		},
		ListMigrationsFn: func(context.Context, string) ([]*roman.Migration, error) { return []*roman.Migration{}, nil },
	}
	f.rbs = &mock.RollbackService{
		ExecuteFn: func(_ context.Context, req roman.RollbackRequest) (*roman.RollbackResult, error) {
			if !known(req.DeploymentID) {
				return nil, notFound("deployment")
			}
			f.writes.Add(1)
			f.mu.Lock()
			f.rollReqs = append(f.rollReqs, req)
			f.mu.Unlock()
			return &roman.RollbackResult{
				Success: true, EventID: eventID, Status: roman.RollbackSuccess,
				TargetDeployment: &roman.TargetDeployment{DeploymentID: depID2, Version: "v2.5.2", GitCommit: "a7f3b29",
					DeployedAt: time.Date(2025, 12, 15, 13, 45, 0, 0, time.UTC), HealthCheckPassed: true},
				SnapshotID: snapID, Validation: roman.Validation{Compliant: true},
			}, nil
		},
		// ValidateFn is a dry run: it answers a verdict and writes nothing.
		ValidateFn: func(_ context.Context, req roman.RollbackRequest) (roman.Validation, error) {
			if !known(req.DeploymentID) {
				return roman.Validation{}, notFound("deployment")
			}
			return roman.Validation{Compliant: true}, nil
		},
		CheckFn: func(_ context.Context, id string) (*roman.CheckResult, error) {
			if !known(id) {
				return nil, notFound("deployment")
			}
			h := roman.EvaluateHealth(roman.HealthInputs{ErrorsLastMinute: 9, ErrorsLast5Minutes: 42}, roman.DefaultThresholds(), testNow)
			return &roman.CheckResult{DeploymentID: id, ShouldRollback: !h.Healthy, Reason: h.Reason, Health: h}, nil
		},
		HistoryFn: func(_ context.Context, flt roman.RollbackFilter) ([]*roman.RollbackEvent, error) {
			f.mu.Lock()
			f.histF = append(f.histF, flt)
			f.mu.Unlock()
			done := testNow.Add(75 * time.Second)
			return []*roman.RollbackEvent{{
				ID: 1, EventID: eventID, DeploymentID: depID, Environment: "production",
				TriggerType: roman.TriggerAutomatic, TriggerReason: "High error rate: 8.5 errors/minute",
				InitiatedAt: testNow, Status: roman.RollbackSuccess, CompletedAt: &done,
				RollbackSteps: []roman.RollbackStep{{Name: roman.StepValidate, Status: roman.StepStatusSuccess, StartedAt: testNow, FinishedAt: testNow}},
			}}, nil
		},
	}
	f.snaps = &mock.SnapshotService{
		CreateFn: func(_ context.Context, id, typ string) (*roman.Snapshot, error) {
			if !known(id) {
				return nil, notFound("deployment")
			}
			f.writes.Add(1)
			s := sampleSnapshot(snapID, 10)
			s.DeploymentID, s.SnapshotType = id, typ
			return s, nil
		},
		GetFn: func(_ context.Context, id string) (*roman.Snapshot, error) {
			switch id {
			case snapID:
				return sampleSnapshot(snapID, 10), nil
			case snapID2:
				return sampleSnapshot(snapID2, 13), nil
			}
			return nil, notFound("snapshot")
		},
		ListFn: func(_ context.Context, id string) ([]*roman.Snapshot, error) {
			return []*roman.Snapshot{sampleSnapshot(snapID, 10)}, nil
		},
	}
	f.ping = &mock.Pinger{PingFn: func(context.Context) error { return nil }}
	// The real ingest service over mock stores, so the API's ingest tests
	// see its validation.
	f.ingest = &ingest.Service{
		Deployments: &mock.DeploymentStore{
			GetDeploymentFn: func(_ context.Context, id string) (*roman.Deployment, error) {
				if !known(id) {
					return nil, notFound("deployment")
				}
				return sampleDeployment(id), nil
			},
			CurrentDeploymentFn: func(_ context.Context, _, env string) (*roman.Deployment, error) {
				if env != "production" {
					return nil, nil
				}
				return sampleDeployment(depID), nil
			},
		},
		Signals: &mock.SignalStore{
			InsertErrorEventsFn: func(context.Context, []roman.ErrorEvent) error {
				f.writes.Add(1)
				return nil
			},
			InsertMetricSamplesFn: func(context.Context, []roman.MetricSample) error {
				f.writes.Add(1)
				return nil
			},
		},
		Clock: func() time.Time { return testNow },
	}
	keyring := roman.NewKeyring([]roman.APIKey{
		{ID: 1, Name: "reader", Role: roman.RoleRead, Hash: roman.HashKey(readToken)},
		{ID: 2, Name: "ci", Role: roman.RoleDeploy, Hash: roman.HashKey(deployToken)},
		{ID: 3, Name: "oncall", Role: roman.RoleRollback, Hash: roman.HashKey(rollbackToken)},
		{ID: 4, Name: "root", Role: roman.RoleAdmin, Hash: roman.HashKey(adminToken)},
	})
	f.srv = NewServer(cfg, Deps{
		Deployments: f.deps, Rollbacks: f.rbs, Snapshots: f.snaps, Store: f.ping, Keyring: keyring, Ingest: f.ingest,
		Logger: testkit.Logger(f.logs),
		Clock:  func() time.Time { return testNow },
	})
	f.ts = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.ts.Close)
	return f
}

// quiet stops keeping logs and recorded calls, so a long fuzzing run does
// not grow without bound.
func (f *fixture) quiet() {
	f.srv.logger = testkit.Discard()
	f.deps.RecordFn = func(_ context.Context, d *roman.Deployment) (*roman.Deployment, bool, error) {
		f.writes.Add(1)
		return d, true, nil
	}
	f.deps.UpdateFn = func(_ context.Context, id string, u roman.DeploymentUpdate) (*roman.Deployment, error) {
		f.writes.Add(1)
		return sampleDeployment(id), nil
	}
	f.rbs.ExecuteFn = func(context.Context, roman.RollbackRequest) (*roman.RollbackResult, error) {
		f.writes.Add(1)
		return &roman.RollbackResult{Success: true, EventID: eventID}, nil
	}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// errorText returns the "error" field of an error answer.
func (r response) errorText(t *testing.T) string {
	t.Helper()
	m := r.json(t)
	if m["success"] != false {
		t.Errorf("error answer without success=false: %s", r.body)
	}
	s, _ := m["error"].(string)
	return s
}

// do sends a request to the test server. body "" sends none.
func (f *fixture) do(method, path, token, body string, hdr ...string) response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.ts.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); method != http.MethodHead && ct != "application/json" {
		f.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect fails the test unless the answer has the wanted status.
func (r response) expect(t *testing.T, want int) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	return r
}
