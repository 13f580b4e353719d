package api

import (
	"net/http"
	"time"

	"github.com/odyssey-1/roman"
)

// DashboardHandlers serve the dashboard's two API routes (package web
// implements them). They live in the route table here, like every
// documented route, so that the OpenAPI drift check covers them.
type DashboardHandlers interface {
	// Summary answers GET /app/admin/roman-dashboard/summary.
	Summary(w http.ResponseWriter, r *http.Request) error
	// Events streams GET /app/admin/roman-dashboard/events.
	Events(w http.ResponseWriter, r *http.Request) error
}

// errNotConfigured is the 404 of a route whose service this server was
// built without (tests, or a server started without the dashboard).
func errNotConfigured(what string) error {
	return roman.Errorf(roman.ENOTFOUND, "%s is not enabled on this server", what)
}

func (s *Server) dashboardSummary(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Dashboard == nil {
		return errNotConfigured("the dashboard")
	}
	return s.deps.Dashboard.Summary(w, r)
}

func (s *Server) dashboardEvents(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Dashboard == nil {
		return errNotConfigured("the dashboard")
	}
	// The live stream lasts as long as the browser watches: the server's
	// write timeout, which bounds every other answer, does not apply.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	return s.deps.Dashboard.Events(w, r)
}

// metrics serves the Prometheus registry (no credentials).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Metrics == nil {
		return errNotConfigured("metrics")
	}
	s.deps.Metrics.ServeHTTP(w, r)
	return nil
}
