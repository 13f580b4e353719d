package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/executor"
)

const ghToken = "ghp_testtoken_never_logged"

// fakeGitHub answers like GitHub's Actions API, with the official example
// payloads (testdata, copied from the API description) as the run objects.
type fakeGitHub struct {
	t *testing.T

	mu sync.Mutex
	// dispatchStatus is 200 (run details), 204 or an error status; 422 once
	// when rejectRunDetails is set and the body asks for run details.
	dispatchStatus   int
	rejectRunDetails bool
	dispatches       []map[string]any
	// before are the runs listed before any dispatch; after are added to
	// the list once a dispatch happened.
	before, after []map[string]any
	lists         []string // query strings of list calls
	// progress is the status sequence of GET run; the last repeats.
	progress   []string
	conclusion string
	runGets    int
	runStatus  []int // HTTP status of each GET run; 200 when exhausted
}

func (f *fakeGitHub) run(id int64, title, created string) map[string]any {
	f.t.Helper()
	b, err := os.ReadFile("testdata/github_run.json")
	if err != nil {
		f.t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		f.t.Fatal(err)
	}
	r["id"], r["event"], r["display_title"], r["created_at"] = id, "workflow_dispatch", title, created
	r["html_url"] = fmt.Sprintf("https://github.com/octo-org/octo-repo/actions/runs/%d", id)
	r["url"] = fmt.Sprintf("https://api.github.com/repos/octo-org/octo-repo/actions/runs/%d", id)
	return r
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+ghToken {
		w.WriteHeader(401)
		io.WriteString(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case r.Method == "POST" && r.URL.Path == "/repos/octo-org/octo-repo/actions/workflows/rollback.yml/dispatches":
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		f.dispatches = append(f.dispatches, body)
		if f.rejectRunDetails && body["return_run_details"] != nil {
			w.WriteHeader(422)
			io.WriteString(w, `{"message":"Invalid request.\n\n\"return_run_details\" is not a permitted key.","documentation_url":"https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event","status":"422"}`)
			return
		}
		switch f.dispatchStatus {
		case 200:
			w.WriteHeader(200)
			io.WriteString(w, `{"workflow_run_id": 30433642, "run_url": "https://api.github.com/repos/octo-org/octo-repo/actions/runs/30433642", "html_url": "https://github.com/octo-org/octo-repo/actions/runs/30433642"}`)
		case 204:
			w.WriteHeader(204)
		default:
			w.WriteHeader(f.dispatchStatus)
			io.WriteString(w, `{"message":"Workflow does not have 'workflow_dispatch' trigger","status":"`+strconv.Itoa(f.dispatchStatus)+`"}`)
		}
	case r.Method == "GET" && r.URL.Path == "/repos/octo-org/octo-repo/actions/workflows/rollback.yml/runs":
		f.lists = append(f.lists, r.URL.RawQuery)
		runs := append([]map[string]any{}, f.before...)
		if len(f.dispatches) > 0 {
			runs = append(f.after, runs...)
		}
		json.NewEncoder(w).Encode(map[string]any{"total_count": len(runs), "workflow_runs": runs})
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/repos/octo-org/octo-repo/actions/runs/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/repos/octo-org/octo-repo/actions/runs/"), 10, 64)
		n := f.runGets
		f.runGets++
		if n < len(f.runStatus) && f.runStatus[n] != 200 {
			w.WriteHeader(f.runStatus[n])
			io.WriteString(w, `{"message":"Server Error"}`)
			return
		}
		run := f.run(id, "Rollback", "2025-12-15T14:35:01Z")
		status := f.progress[min(n, len(f.progress)-1)]
		run["status"] = status
		if status == "completed" {
			run["conclusion"] = f.conclusion
		}
		json.NewEncoder(w).Encode(run)
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`)
	}
}

func newGitHub(t *testing.T, f *fakeGitHub, ft *fakeTime, timeout time.Duration) (roman.Executor, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	g, err := executor.NewGitHub(executor.GitHubConfig{
		Repository: "octo-org/octo-repo", Workflow: "rollback.yml", Ref: "main", Token: ghToken,
		APIURL: srv.URL, Timeout: timeout,
	}, ft.options())
	if err != nil {
		t.Fatal(err)
	}
	return g, srv
}

func TestGitHubRunDetailsFromDispatch(t *testing.T) {
	f := &fakeGitHub{t: t, dispatchStatus: 200, progress: []string{"queued", "in_progress", "in_progress", "completed"}, conclusion: "success"}
	ft := newFakeTime()
	g, _ := newGitHub(t, f, ft, 10*time.Minute)
	var progress []json.RawMessage
	req := request()
	req.Progress = func(d json.RawMessage) { progress = append(progress, d) }
	raw, err := g.Execute(context.Background(), req)
	if err != nil {
		t.Fatalf("execute: %v %s", err, raw)
	}
	if len(f.dispatches) != 1 {
		t.Fatalf("%d dispatches", len(f.dispatches))
	}
	want := map[string]any{
		"ref":                "main",
		"inputs":             map[string]any{"version": "v2.5.2", "git_commit": "a7f3b29", "deployment_id": req.NewDeploymentID},
		"return_run_details": true,
	}
	if !reflect.DeepEqual(f.dispatches[0], want) {
		t.Errorf("dispatch body %v, want %v", f.dispatches[0], want)
	}
	d := decode(t, raw)
	if d["run_id"] != 30433642.0 || d["conclusion"] != "success" || d["matched_by"] != "dispatch_response" ||
		d["html_url"] != "https://github.com/octo-org/octo-repo/actions/runs/30433642" {
		t.Errorf("detail: %v", d)
	}
	if f.runGets != 4 || len(ft.Slept()) != 3 || ft.Slept()[0] != executor.DefaultPollInterval {
		t.Errorf("%d polls, slept %v", f.runGets, ft.Slept())
	}
	if len(progress) != 1 || !strings.Contains(string(progress[0]), `"run_id":30433642`) {
		t.Errorf("progress: %s", progress)
	}
	if !g.Resumable(progress[0]) {
		t.Error("a recorded run must be resumable")
	}
	if g.Resumable(nil) {
		t.Error("an unknown dispatch must not be resumed (it could deploy twice)")
	}
	if strings.Contains(string(raw), ghToken) {
		t.Error("token in detail")
	}
}

// TestGitHubFindsRunWithout204Details: GitHub answers 204, so the run is
// found in the list: new (not listed before), named by the deployment id.
func TestGitHubFindsRunByTitle(t *testing.T) {
	f := &fakeGitHub{t: t, dispatchStatus: 204, progress: []string{"in_progress", "completed"}, conclusion: "success"}
	id := request().NewDeploymentID
	f.before = []map[string]any{f.run(100, "Rollback "+id, "2025-12-15T14:00:00Z")} // an old run, same title: not ours
	f.after = []map[string]any{
		f.run(102, "Rollback 11111111-2222-4333-8444-555555555555", "2025-12-15T14:35:02Z"), // another rollback's run
		f.run(101, "Rollback "+id, "2025-12-15T14:35:01Z"),
	}
	ft := newFakeTime()
	g, _ := newGitHub(t, f, ft, 10*time.Minute)
	raw, err := g.Execute(context.Background(), request())
	if err != nil {
		t.Fatalf("execute: %v %s", err, raw)
	}
	d := decode(t, raw)
	if d["run_id"] != 101.0 || d["matched_by"] != "display_title" {
		t.Fatalf("detail: %v", d)
	}
	if len(f.lists) != 2 || !strings.Contains(f.lists[0], "event=workflow_dispatch") || !strings.Contains(f.lists[1], "created=%3E%3D2025-12-15T14%3A34%3A00Z") {
		t.Errorf("list queries: %v", f.lists)
	}
}

func TestGitHubIdentification(t *testing.T) {
	t.Run("the only new unnamed run", func(t *testing.T) {
		f := &fakeGitHub{t: t, dispatchStatus: 204, progress: []string{"completed"}, conclusion: "success"}
		f.after = []map[string]any{f.run(7, "Rollback", "2025-12-15T14:35:01Z")}
		g, _ := newGitHub(t, f, newFakeTime(), 10*time.Minute)
		raw, err := g.Execute(context.Background(), request())
		if d := decode(t, raw); err != nil || d["run_id"] != 7.0 || d["matched_by"] != "only_new_run" {
			t.Fatalf("%v %v", err, d)
		}
	})
	t.Run("ambiguous", func(t *testing.T) {
		f := &fakeGitHub{t: t, dispatchStatus: 204, progress: []string{"completed"}, conclusion: "success"}
		f.after = []map[string]any{f.run(7, "Rollback", "2025-12-15T14:35:01Z"), f.run(8, "Rollback", "2025-12-15T14:35:01Z")}
		ft := newFakeTime()
		g, _ := newGitHub(t, f, ft, 10*time.Minute)
		_, err := g.Execute(context.Background(), request())
		if err == nil || !strings.Contains(roman.ErrorMessage(err), "set run-name") || f.runGets != 0 {
			t.Fatalf("want an ambiguity failure, got %v (followed %d)", err, f.runGets)
		}
		if ft.Now().Sub(newFakeTime().Now()) != executor.DefaultIdentifyTimeout {
			t.Errorf("gave up after %s", ft.Now().Sub(newFakeTime().Now()))
		}
	})
	t.Run("the run never appears", func(t *testing.T) {
		f := &fakeGitHub{t: t, dispatchStatus: 204, progress: []string{"completed"}}
		_, err := func() (json.RawMessage, error) {
			g, _ := newGitHub(t, f, newFakeTime(), 10*time.Minute)
			return g.Execute(context.Background(), request())
		}()
		if err == nil || !strings.Contains(roman.ErrorMessage(err), "did not appear within 2m0s") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("run details refused with 422", func(t *testing.T) {
		f := &fakeGitHub{t: t, dispatchStatus: 204, rejectRunDetails: true, progress: []string{"completed"}, conclusion: "success"}
		f.after = []map[string]any{f.run(9, "Rollback "+request().NewDeploymentID, "2025-12-15T14:35:01Z")}
		g, _ := newGitHub(t, f, newFakeTime(), 10*time.Minute)
		raw, err := g.Execute(context.Background(), request())
		if err != nil || len(f.dispatches) != 2 || f.dispatches[1]["return_run_details"] != nil || decode(t, raw)["run_id"] != 9.0 {
			t.Fatalf("%v, dispatches %v, %s", err, f.dispatches, raw)
		}
	})
}

func TestGitHubRunOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		progress   []string
		conclusion string
		runStatus  []int
		timeout    time.Duration
		wantErr    string
	}{
		{"failure", []string{"queued", "in_progress", "completed"}, "failure", nil, time.Hour,
			`GitHub run https://github.com/octo-org/octo-repo/actions/runs/30433642 concluded "failure"`},
		{"cancelled", []string{"completed"}, "cancelled", nil, time.Hour, `concluded "cancelled"`},
		{"timed out on GitHub", []string{"completed"}, "timed_out", nil, time.Hour, `concluded "timed_out"`},
		{"timeout", []string{"queued", "in_progress"}, "", nil, time.Minute,
			"GitHub run https://github.com/octo-org/octo-repo/actions/runs/30433642 timed out after 1m0s (still in_progress)"},
		{"transient errors", []string{"completed"}, "success", []int{502, 500}, time.Hour, ""},
		{"run gone", []string{"completed"}, "success", []int{404}, time.Hour, "reading run https://github.com/octo-org/octo-repo/actions/runs/30433642 failed: 404"},
		{"API down", []string{"completed"}, "success", []int{503, 503, 503, 503, 503}, time.Hour, "failed 5 times in a row: 503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeGitHub{t: t, dispatchStatus: 200, progress: tc.progress, conclusion: tc.conclusion, runStatus: tc.runStatus}
			g, _ := newGitHub(t, f, newFakeTime(), tc.timeout)
			raw, err := g.Execute(context.Background(), request())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(roman.ErrorMessage(err), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if d := decode(t, raw); d["html_url"] != "https://github.com/octo-org/octo-repo/actions/runs/30433642" {
				t.Errorf("the detail must carry the run's URL: %v", d)
			}
		})
	}
}

func TestGitHubDispatchFailures(t *testing.T) {
	for _, status := range []int{404, 500} {
		f := &fakeGitHub{t: t, dispatchStatus: status, progress: []string{"completed"}}
		g, _ := newGitHub(t, f, newFakeTime(), time.Hour)
		raw, err := g.Execute(context.Background(), request())
		if err == nil || !strings.Contains(roman.ErrorMessage(err), "dispatch of workflow rollback.yml in octo-org/octo-repo at main failed: "+strconv.Itoa(status)) {
			t.Errorf("%d: %v", status, err)
		}
		if strings.Contains(roman.ErrorMessage(err)+string(raw), ghToken) {
			t.Error("token leaked")
		}
	}
	// A wrong token: 401 before anything is dispatched.
	f := &fakeGitHub{t: t, dispatchStatus: 200, progress: []string{"completed"}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	g, _ := executor.NewGitHub(executor.GitHubConfig{Repository: "octo-org/octo-repo", Workflow: "rollback.yml", Ref: "main",
		Token: "wrong", APIURL: srv.URL, Timeout: time.Hour}, newFakeTime().options())
	if _, err := g.Execute(context.Background(), request()); err == nil || !strings.Contains(roman.ErrorMessage(err), "401 Bad credentials") || len(f.dispatches) != 0 {
		t.Errorf("bad token: %v", err)
	}
}

// TestGitHubResume follows the recorded run after a crash instead of
// dispatching again.
func TestGitHubResume(t *testing.T) {
	f := &fakeGitHub{t: t, dispatchStatus: 200, progress: []string{"in_progress", "completed"}, conclusion: "success"}
	g, _ := newGitHub(t, f, newFakeTime(), time.Hour)
	req := request()
	req.Resume = json.RawMessage(`{"executor":"github","run_id":555,"html_url":"https://github.com/octo-org/octo-repo/actions/runs/555","matched_by":"dispatch_response"}`)
	raw, err := g.Execute(context.Background(), req)
	if err != nil || len(f.dispatches) != 0 {
		t.Fatalf("%v, %d dispatches", err, len(f.dispatches))
	}
	if d := decode(t, raw); d["run_id"] != 555.0 || d["resumed"] != true || d["conclusion"] != "success" {
		t.Errorf("detail: %v", d)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		kind string
		name string
	}{{"none", "none"}, {"command", "command"}, {"webhook", "webhook"}, {"github", "github"}} {
		cfg := configFor(tc.kind)
		e, err := executor.New(cfg, executor.Options{})
		if err != nil || e.Name() != tc.name {
			t.Errorf("%s: %v %v", tc.kind, e, err)
		}
	}
	cfg := configFor("none")
	cfg.Type = "ansible"
	if _, err := executor.New(cfg, executor.Options{}); roman.ErrorCode(err) != roman.EINVALID {
		t.Errorf("unknown kind: %v", err)
	}
}
