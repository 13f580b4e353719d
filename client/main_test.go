package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"testing"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
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
	reqs []sentRequest
}

// sentRequest is the method, path and query of one request.
type sentRequest struct {
	Method, Path string
	Query        url.Values
}

func (l *requestLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, sentRequest{r.Method, r.URL.Path, r.URL.Query()})
}

func (l *requestLog) all() []sentRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sentRequest(nil), l.reqs...)
}

// TestMain starts a real roman (SQLite in a temporary directory, a fake
// clock, no executor, a verify window of 0 s) and serves its real API
// handler through an httptest server that records each request. After the
// tests and examples ran, every recorded request must match a route of the
// client's route table (a method that bypassed the table would escape the
// OpenAPI cross-check), and every query parameter it sent must be one the
// OpenAPI document declares for the operation.
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
		if bad := requestProblems(seen.all(), api.OpenAPIDocument()); len(bad) > 0 {
			fmt.Fprintf(os.Stderr, "requests the client made disagree with its route table or the OpenAPI document:\n  %s\n", strings.Join(bad, "\n  "))
			return 1
		}
	}
	return code
}

// requestProblems returns the requests that match no route of
// client.Routes() (ignoring those the tests make on purpose with Do), and
// the query parameters a request sent that the document does not declare
// for its operation.
func requestProblems(reqs []sentRequest, doc []byte) []string {
	type compiled struct {
		re *regexp.Regexp
		r  client.Route
	}
	var routes []compiled
	for _, r := range client.Routes() {
		p := regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(r.Path), `[^/]+`)
		routes = append(routes, compiled{regexp.MustCompile("^" + r.Method + " " + p + "$"), r})
	}
	var bad []string
	for _, q := range reqs {
		if q.Path == "/openapi.json" {
			continue // TestDoReachesOtherRoutes calls it through Do
		}
		var match *client.Route
		for _, c := range routes {
			if c.re.MatchString(q.Method + " " + q.Path) {
				match = &c.r
				break
			}
		}
		if match == nil {
			bad = append(bad, fmt.Sprintf("%s %s matches no route of the table (add it to routes.go)", q.Method, q.Path))
			continue
		}
		declared := queryParams(doc, match.Method, match.Path)
		for name := range q.Query {
			if !declared[name] {
				bad = append(bad, fmt.Sprintf("%s %s: query parameter %q is not declared in the document", match.Method, match.Path, name))
			}
		}
	}
	return bad
}

// queryParams returns the query parameters the document declares for an
// operation (path-level and operation-level, local $refs followed).
func queryParams(doc []byte, method, path string) map[string]bool {
	var d map[string]any
	if json.Unmarshal(doc, &d) != nil {
		return nil
	}
	item, _ := d["paths"].(map[string]any)[path].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	params, _ := item["parameters"].([]any)
	opParams, _ := op["parameters"].([]any)
	out := map[string]bool{}
	for _, p := range append(params, opParams...) {
		pm := resolve(d, p.(map[string]any))
		if pm["in"] == "query" {
			out[pm["name"].(string)] = true
		}
	}
	return out
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
