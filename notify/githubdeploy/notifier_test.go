package githubdeploy_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/notify"
	"github.com/odyssey-1/roman/notify/githubdeploy"
	"github.com/odyssey-1/roman/notify/githubdeploy/githubtest"
)

const token = "ghp_unitTESTtoken0123456789"

// memStore is an in-memory githubdeploy.Store; failSave makes the next
// SaveGitHubDeployment fail, as a crash between GitHub's answer and the
// store would.
type memStore struct {
	mu       sync.Mutex
	deps     map[string]*roman.Deployment
	gh       map[string]*roman.GitHubDeployment
	events   []*roman.RomanEvent
	failSave bool
}

func newStore(ds ...*roman.Deployment) *memStore {
	s := &memStore{deps: map[string]*roman.Deployment{}, gh: map[string]*roman.GitHubDeployment{}}
	for _, d := range ds {
		s.deps[d.DeploymentID] = d
	}
	return s
}

func (s *memStore) GetDeployment(_ context.Context, id string) (*roman.Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.deps[id]; ok {
		return d, nil
	}
	return nil, roman.Errorf(roman.ENOTFOUND, "deployment %s not found", id)
}

func (s *memStore) SaveGitHubDeployment(_ context.Context, g *roman.GitHubDeployment, e *roman.RomanEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSave {
		s.failSave = false
		return errors.New("database is gone")
	}
	s.gh[g.DeploymentID] = g
	s.events = append(s.events, e)
	return nil
}

func (s *memStore) GetGitHubDeployment(_ context.Context, id string) (*roman.GitHubDeployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.gh[id]; ok {
		return g, nil
	}
	return nil, roman.Errorf(roman.ENOTFOUND, "not found")
}

var release = &roman.Deployment{DeploymentID: "6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c9a01", Service: "default", Environment: "staging",
	Version: "v2.5.3", GitCommit: "B81C4D0", GitBranch: "main", Status: roman.StatusSuccess}

func newNotifier(t *testing.T, fake *githubtest.Server, st githubdeploy.Store) *githubdeploy.Notifier {
	t.Helper()
	n, err := githubdeploy.New(githubdeploy.Config{Repository: "octocat/example", Token: roman.Secret(token), APIURL: fake.URL},
		st, nil, "https://roman.example.com/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func job(kind, detail string) *roman.Alert {
	return &roman.Alert{Kind: kind, DeploymentID: release.DeploymentID, Version: release.Version, Service: "default",
		Environment: release.Environment, Detail: detail}
}

// TestCreateAfterACrashReusesTheDeployment: GitHub created the deployment
// but roman could not store its id; the retry finds it by its payload and
// creates nothing more.
func TestCreateAfterACrashReusesTheDeployment(t *testing.T) {
	fake := githubtest.New(t, "octocat", "example", token)
	st := newStore(release)
	st.failSave = true
	n := newNotifier(t, fake, st)
	ctx := context.Background()
	retry, err := n.NotifyAttempt(ctx, job(roman.MirrorCreateDeployment, ""), 1)
	if !retry || err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("first attempt: %v, %v", retry, err)
	}
	if retry, err := n.NotifyAttempt(ctx, job(roman.MirrorCreateDeployment, ""), 2); retry || err != nil {
		t.Fatalf("second attempt: %v, %v", retry, err)
	}
	if deps := fake.Deployments(); len(deps) != 1 || deps[0].Ref != "b81c4d0" || deps[0].Environment != "staging" {
		t.Fatalf("GitHub deployments %+v", deps)
	}
	if g := st.gh[release.DeploymentID]; g == nil || g.GitHubID != 1 || len(st.events) != 1 {
		t.Fatalf("stored %+v, events %d", g, len(st.events))
	}
	// A third delivery (the sender died after storing) is a no-op.
	if retry, err := n.NotifyAttempt(ctx, job(roman.MirrorCreateDeployment, ""), 3); retry || err != nil || len(fake.Created()) != 1 {
		t.Fatalf("third attempt: %v, %v, %v", retry, err, fake.Created())
	}
}

// TestStatusRetriedAfterSuccessIsNotSentTwice: a status GitHub accepted but
// the sender did not settle is found on the retry and not posted again.
func TestStatusRetriedAfterSuccessIsNotSentTwice(t *testing.T) {
	fake := githubtest.New(t, "octocat", "example", token)
	st := newStore(release)
	n := newNotifier(t, fake, st)
	ctx := context.Background()
	if _, err := n.Notify(ctx, job(roman.MirrorCreateDeployment, "")); err != nil {
		t.Fatal(err)
	}
	long := "Watching v2.5.3 " + strings.Repeat("é", 200)
	for attempt := 1; attempt <= 2; attempt++ {
		if retry, err := n.NotifyAttempt(ctx, job(roman.MirrorStatusInProgress, long), attempt); retry || err != nil {
			t.Fatalf("attempt %d: %v, %v", attempt, retry, err)
		}
	}
	st1 := fake.Deployments()[0].Statuses
	if len(st1) != 1 {
		t.Fatalf("%d statuses", len(st1))
	}
	desc := st1[0]["description"].(string)
	if n := len([]rune(desc)); n != githubdeploy.MaxDescription || !strings.HasSuffix(desc, "…") {
		t.Errorf("description of %d characters: %q", n, desc)
	}
	if st1[0]["log_url"] != "https://roman.example.com/app/admin/roman-dashboard/explain/"+release.DeploymentID || st1[0]["environment"] != "staging" {
		t.Errorf("status %v", st1[0])
	}
}

// TestGitHubAnswersDecideRetries: what is retried (5xx, 401, rate limits as
// a channel deferral) and what is given up (422, 404, a status with no
// deployment), and no error shows the token.
func TestGitHubAnswersDecideRetries(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		code   int
		retry  bool
		defer_ bool
	}{
		{http.StatusInternalServerError, true, false},
		{http.StatusBadGateway, true, false},
		{http.StatusUnauthorized, true, false},
		{http.StatusTooManyRequests, true, true},
		{http.StatusUnprocessableEntity, false, false},
		{http.StatusNotFound, false, false},
	} {
		fake := githubtest.New(t, "octocat", "example", token)
		fake.Refuse(func(*githubtest.Request) int { return tc.code })
		n := newNotifier(t, fake, newStore(release))
		retry, err := n.Notify(ctx, job(roman.MirrorCreateDeployment, ""))
		_, deferred := notify.RetryAfter(err)
		if retry != tc.retry || deferred != tc.defer_ || err == nil || strings.Contains(err.Error(), token) {
			t.Errorf("%d: retry %v, deferred %v, err %v", tc.code, retry, deferred, err)
		}
	}
	fake := githubtest.New(t, "octocat", "example", token)
	retry, err := newNotifier(t, fake, newStore(release)).Notify(ctx, job(roman.MirrorStatusSuccess, "ok"))
	if retry || err == nil || !strings.Contains(err.Error(), "has no GitHub deployment") {
		t.Errorf("status without deployment: %v, %v", retry, err)
	}
	down := githubtest.New(t, "octocat", "example", token)
	url := down.URL
	down.Close()
	n, err := githubdeploy.New(githubdeploy.Config{Repository: "octocat/example", Token: roman.Secret(token), APIURL: url},
		newStore(release), &http.Client{Timeout: time.Second}, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := n.Notify(ctx, job(roman.MirrorCreateDeployment, "")); !retry || err == nil || !strings.Contains(err.Error(), "GitHub unreachable") {
		t.Errorf("unreachable: %v, %v", retry, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  githubdeploy.Config
		want string
	}{
		{githubdeploy.Config{}, ""},
		{githubdeploy.Config{Repository: "octocat/example", Token: "t"}, ""},
		{githubdeploy.Config{Repository: "octocat", Token: "t"}, "github_deployments_repository: must be owner/name"},
		{githubdeploy.Config{Repository: "octocat/example"}, "github_deployments_token: required"},
		{githubdeploy.Config{Token: "secret-value"}, "github_deployments_repository: required with github_deployments_token"},
		{githubdeploy.Config{Repository: "o/r", Token: "t", APIURL: "ftp://x"}, "github_deployments_api_url: not an http(s) URL"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-value") {
			t.Errorf("error shows the token: %v", err)
		}
	}
}
