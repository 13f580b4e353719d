package client_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/client"
	"github.com/odyssey-1/roman/config"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/server"
)

// Keys of the in-process roman the examples and tests call.
const (
	adminToken  = "example-admin-token-0123456789"
	deployToken = "example-deploy-token-0123456789"
)

// The in-process roman every example talks to, and the requests it saw.
var (
	romanURL string
	clock    = testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC))
	seen     requestLog
)

// requestLog records the method and path of every request the examples and
// tests make, for the route check after they ran.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.reqs...)
}

// TestMain starts a real roman (SQLite in a temporary directory, a fake
// clock, no executor, a verify window of 0 s) and serves its real API
// handler through an httptest server that records each request. After the
// tests and examples ran, every recorded request must match a route of the
// client's route table: a method that bypassed the table would escape the
// OpenAPI cross-check.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "roman-client-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	env := map[string]string{
		"ROMAN_DATABASE":      "sqlite://" + filepath.Join(dir, "roman.db"),
		"ROMAN_LISTEN":        "127.0.0.1:0",
		"ROMAN_VERIFY_WINDOW": "0s",
		"ROMAN_API_KEYS":      "admin:" + adminToken + ",deploy:" + deployToken,
	}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &server.Server{Config: cfg, Clock: clock.Now, Logger: testkit.Discard(), Stdout: io.Discard}
	if err := srv.Open(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	h := srv.API.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r)
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	romanURL = ts.URL
	code := m.Run()
	if code == 0 && !testing.Short() {
		if bad := unroutedRequests(seen.all()); len(bad) > 0 {
			fmt.Fprintf(os.Stderr, "requests outside the client's route table (add them to routes.go): %v\n", bad)
			return 1
		}
	}
	return code
}

// unroutedRequests returns the requests that match no route of
// client.Routes(), ignoring those the tests make on purpose with Do.
func unroutedRequests(reqs []string) []string {
	var res []*regexp.Regexp
	for _, r := range client.Routes() {
		p := regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(r.Path), `[^/]+`)
		res = append(res, regexp.MustCompile("^"+r.Method+" "+p+"$"))
	}
	var bad []string
	for _, q := range reqs {
		if strings.HasPrefix(q, "GET /openapi.json") {
			continue // TestDoReachesOtherRoutes calls it through Do
		}
		ok := false
		for _, re := range res {
			if re.MatchString(q) {
				ok = true
				break
			}
		}
		if !ok {
			bad = append(bad, q)
		}
	}
	return bad
}

// newClient returns a client of the in-process roman with the deploy key.
func newClient() *client.Client { return client.New(romanURL, deployToken) }

func ptr[T any](v T) *T { return &v }

// release records a known-good release and a newer one of the same service
// in env, both live, as CI would, and returns the newer one's id.
func release(env, goodID, badID string) string {
	ctx := context.Background()
	c := newClient()
	at := clock.Now().Add(-time.Hour)
	if _, err := c.RecordDeployment(ctx, client.RecordDeploymentRequest{
		DeploymentID: ptr(goodID), Environment: env, Version: "v2.5.2", GitCommit: "a7f3b29", GitBranch: "main",
		Status: ptr(roman.StatusSuccess), HealthCheckPassed: ptr(true), DeployedAt: &at,
	}); err != nil {
		panic(err)
	}
	if _, err := c.RecordDeployment(ctx, client.RecordDeploymentRequest{
		DeploymentID: ptr(badID), Environment: env, Version: "v2.5.3", GitCommit: "b4c5d6e", GitBranch: "main",
	}); err != nil {
		panic(err)
	}
	return badID
}
