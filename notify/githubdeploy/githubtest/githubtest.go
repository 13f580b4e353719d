// Package githubtest is a fake of GitHub's deployments REST API for tests:
// an httptest server that creates deployments and deployment statuses,
// lists them, answers with GitHub's own example payloads (testdata/, the
// "deployment-simple-example" and "deployment-status" examples of GitHub's
// OpenAPI description) with the request's values filled in, and records
// every request. It can be taken down (500) or made to refuse (any status)
// to test outages and rejections.
package githubtest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

//go:embed testdata/github_deployment.json
var deploymentExample []byte

//go:embed testdata/github_deployment_status.json
var statusExample []byte

// Request is one request the fake received.
type Request struct {
	Method, Path, Query string
	// Auth is the Authorization header; Body the decoded JSON body.
	Auth string
	Body map[string]any
	// Status is what the fake answered.
	Status int
}

// Deployment is a deployment the fake holds, with its statuses oldest
// first.
type Deployment struct {
	ID          int64
	Ref         string
	Environment string
	Payload     json.RawMessage
	Statuses    []map[string]any
}

// Server is the fake. Owner/Repo is the only repository it has; Token the
// only token it accepts.
type Server struct {
	*httptest.Server
	Owner, Repo, Token string

	mu          sync.Mutex
	down        bool
	refuse      func(r *Request) int
	requests    []Request
	deployments []*Deployment
}

// New starts a fake for owner/repo accepting token, closed when t ends.
func New(t testing.TB, owner, repo, token string) *Server {
	s := &Server{Owner: owner, Repo: repo, Token: token}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// SetDown makes every request fail with 500 (true) or work again (false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Refuse makes the fake answer a request with the status f returns (with
// GitHub's validation_failed body for 422), or as usual when f returns 0.
func (s *Server) Refuse(f func(r *Request) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = f
}

// Requests returns every request so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Deployments returns the deployments created so far, in order.
func (s *Server) Deployments() []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Deployment, len(s.deployments))
	for i, d := range s.deployments {
		out[i] = *d
		out[i].Statuses = append([]map[string]any(nil), d.Statuses...)
	}
	return out
}

// Created returns the successful POSTs as short lines, in order:
// "deployment <id> <ref> <environment>" and "status <id> <state>".
func (s *Server) Created() []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Method != http.MethodPost || r.Status != http.StatusCreated {
			continue
		}
		parts := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(parts) == 4 {
			out = append(out, fmt.Sprintf("deployment %v %v", r.Body["ref"], r.Body["environment"]))
		} else {
			out = append(out, fmt.Sprintf("status %s %v", parts[4], r.Body["state"]))
		}
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization")}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &req.Body); err != nil {
			req.Body = map[string]any{"_invalid": string(b)}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	status, body := s.answer(&req, r)
	req.Status = status
	s.requests = append(s.requests, req)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"})
	return b
}

// answer decides the answer to req; s.mu is held.
func (s *Server) answer(req *Request, r *http.Request) (int, []byte) {
	if s.down {
		return http.StatusInternalServerError, errorBody("Server Error")
	}
	if req.Auth != "Bearer "+s.Token {
		return http.StatusUnauthorized, errorBody("Bad credentials")
	}
	if s.refuse != nil {
		if code := s.refuse(req); code != 0 {
			if code == http.StatusUnprocessableEntity {
				b, _ := json.Marshal(map[string]any{"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest",
					"errors": []map[string]any{{"resource": "Deployment", "field": "ref", "code": "invalid", "message": "No ref found for: " + fmt.Sprint(req.Body["ref"])}}})
				return code, b
			}
			return code, errorBody(http.StatusText(code))
		}
	}
	prefix := "/repos/" + s.Owner + "/" + s.Repo + "/deployments"
	rest, ok := strings.CutPrefix(req.Path, prefix)
	if !ok {
		return http.StatusNotFound, errorBody("Not Found")
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case rest == "" && req.Method == http.MethodPost:
		return s.create(req)
	case rest == "" && req.Method == http.MethodGet:
		var out []json.RawMessage
		q := r.URL.Query()
		for i := len(s.deployments) - 1; i >= 0; i-- {
			d := s.deployments[i]
			if (q.Get("ref") == "" || q.Get("ref") == d.Ref) && (q.Get("environment") == "" || q.Get("environment") == d.Environment) {
				out = append(out, s.deploymentJSON(d))
			}
		}
		b, _ := json.Marshal(out)
		if out == nil {
			b = []byte("[]")
		}
		return http.StatusOK, b
	case len(parts) == 2 && parts[1] == "statuses":
		id, _ := strconv.ParseInt(parts[0], 10, 64)
		var d *Deployment
		for _, x := range s.deployments {
			if x.ID == id {
				d = x
			}
		}
		if d == nil {
			return http.StatusNotFound, errorBody("Not Found")
		}
		if req.Method == http.MethodGet {
			var out []map[string]any
			for i := len(d.Statuses) - 1; i >= 0; i-- {
				out = append(out, d.Statuses[i])
			}
			b, _ := json.Marshal(out)
			if out == nil {
				b = []byte("[]")
			}
			return http.StatusOK, b
		}
		return s.status(req, d)
	}
	return http.StatusNotFound, errorBody("Not Found")
}

func (s *Server) create(req *Request) (int, []byte) {
	ref, _ := req.Body["ref"].(string)
	if ref == "" {
		return http.StatusUnprocessableEntity, errorBody("Invalid request.\n\n\"ref\" wasn't supplied.")
	}
	env, _ := req.Body["environment"].(string)
	if env == "" {
		env = "production"
	}
	payload, _ := json.Marshal(req.Body["payload"])
	d := &Deployment{ID: int64(len(s.deployments) + 1), Ref: ref, Environment: env, Payload: payload}
	s.deployments = append(s.deployments, d)
	return http.StatusCreated, s.deploymentJSON(d)
}

// deploymentJSON is GitHub's example deployment with d's values.
func (s *Server) deploymentJSON(d *Deployment) []byte {
	var m map[string]any
	_ = json.Unmarshal(deploymentExample, &m)
	base := s.URL + "/repos/" + s.Owner + "/" + s.Repo
	m["id"], m["ref"], m["environment"], m["original_environment"] = d.ID, d.Ref, d.Environment, d.Environment
	m["payload"] = d.Payload
	m["url"] = fmt.Sprintf("%s/deployments/%d", base, d.ID)
	m["statuses_url"] = fmt.Sprintf("%s/deployments/%d/statuses", base, d.ID)
	m["repository_url"] = base
	b, _ := json.Marshal(m)
	return b
}

func (s *Server) status(req *Request, d *Deployment) (int, []byte) {
	state, _ := req.Body["state"].(string)
	switch state {
	case "error", "failure", "inactive", "in_progress", "queued", "pending", "success":
	default:
		return http.StatusUnprocessableEntity, errorBody("Validation Failed: state")
	}
	if desc, _ := req.Body["description"].(string); len([]rune(desc)) > 140 {
		return http.StatusUnprocessableEntity, errorBody("Validation Failed: description is too long (maximum is 140 characters)")
	}
	var m map[string]any
	_ = json.Unmarshal(statusExample, &m)
	base := s.URL + "/repos/" + s.Owner + "/" + s.Repo
	id := len(d.Statuses) + 1
	m["id"], m["state"] = id, state
	for _, k := range []string{"description", "environment", "environment_url", "log_url"} {
		m[k] = req.Body[k]
	}
	m["target_url"] = req.Body["log_url"]
	m["url"] = fmt.Sprintf("%s/deployments/%d/statuses/%d", base, d.ID, id)
	m["deployment_url"] = fmt.Sprintf("%s/deployments/%d", base, d.ID)
	m["repository_url"] = base
	d.Statuses = append(d.Statuses, m)
	b, _ := json.Marshal(m)
	return http.StatusCreated, b
}
