package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
)

// Default body limits and the default time a body has to arrive.
const (
	DefaultMaxBodyBytes       = 1 << 20
	DefaultMaxIngestBodyBytes = 8 << 20
	// DefaultMaxAnonymousBodyBytes caps bodies of routes that need no key
	// (the dashboard's sign-in, Discord interactions): they are read
	// before anything about the sender is verified, so they are kept small.
	DefaultMaxAnonymousBodyBytes = 4 << 10
	DefaultBodyTimeout           = 30 * time.Second
)

// SeedPrefix is the path prefix of the seed's Supabase edge functions. Routes
// marked SeedAlias are served under it as well as at their own path.
const SeedPrefix = "/functions/v1"

// Config tunes the server. Zero values take the defaults.
type Config struct {
	// MaxBodyBytes caps request bodies (default 1 MiB); larger ones get 413.
	MaxBodyBytes int64
	// MaxIngestBodyBytes caps bodies of routes marked Ingest (default 8 MiB),
	// since error and metric batches are legitimately large.
	MaxIngestBodyBytes int64
	// MaxAnonymousBodyBytes caps bodies of routes that need no key
	// (default 4 KiB) unless the route sets its own MaxBodyBytes.
	MaxAnonymousBodyBytes int64
	// MaxIngestInflight bounds the ingest requests being decoded and stored
	// at once (default DefaultMaxIngestInflight); one more is answered 429
	// with Retry-After at once, so memory stays bounded under a flood. A
	// request takes its slot only once its whole body has arrived, so slow
	// uploads hold none.
	MaxIngestInflight int
	// BodyTimeout is how long a request body has to arrive once the headers
	// are in (default 30 s); a body still arriving then ends the request
	// with 408.
	BodyTimeout time.Duration
	// WriteTimeout, when set, is the time a handler that lifted the
	// connection's write deadline for a long wait (a rollback) has to write
	// its answer afterwards. The HTTP server itself sets the deadline of
	// every other answer.
	WriteTimeout time.Duration
}

// SessionAuthenticator resolves a browser session (the dashboard's sign-in
// cookie) to a caller. The server asks it only about requests that carry no
// Authorization header, so a wrong bearer key is never rescued by a cookie.
type SessionAuthenticator interface {
	SessionCaller(r *http.Request) (Caller, bool)
}

// Deps are the services the handlers call. Store is used only for
// readiness (Ping); everything else, migrations included, goes through the
// services so that validation, snapshots and monitoring hooks run.
type Deps struct {
	Deployments roman.DeploymentService
	Rollbacks   roman.RollbackService
	Snapshots   roman.SnapshotService
	// Ingest stores posted error events and metric samples (POST /errors,
	// POST /metrics/samples).
	Ingest roman.IngestService
	// Audit reads the audit trail back (GET /events and GET
	// /deployments/{deployment_id}/explain); without it those routes
	// answer 404.
	Audit   roman.AuditService
	Store   roman.Pinger
	Keyring *roman.Keyring
	// AuthLimiter, when set, limits failed authentications per client
	// address (429 with Retry-After); the dashboard's sign-in shares it.
	AuthLimiter *AuthLimiter
	// Sessions, when set, authenticates requests without an Authorization
	// header by the dashboard's session cookie.
	Sessions SessionAuthenticator
	// Dashboard serves the dashboard's summary and live stream, Metrics
	// serves GET /metrics; without them those routes answer 404.
	Dashboard DashboardHandlers
	Metrics   http.Handler
	// Discord, when set, answers POST /discord/interactions (api/discord.go);
	// without it the route answers 404.
	Discord DiscordBot
	// Interactions, when set, remembers answered Discord interactions in
	// the shared database, so a replay runs nothing on any replica or
	// after a restart (api/discord.go).
	Interactions roman.InteractionStore
	Logger       *slog.Logger
	Clock        roman.Clock
	// NewErrors groups a release's errors by fingerprint (GET
	// /deployments/{deployment_id}/errors); without it that route answers
	// 404.
	NewErrors roman.NewErrorsService

	// Sentry, when set and configured, receives Sentry webhooks (POST
	// /integrations/sentry); OTLP, when set, OpenTelemetry exports (POST
	// /v1/logs, /v1/traces). Without them those routes answer 404.
	Sentry SentryReceiver
	OTLP   OTLPReceiver
	// Alertmanager, when set, answers POST /integrations/alertmanager
	// (api/alertmanager.go); without it the route answers 404.
	Alertmanager AlertmanagerReceiver
}

// HandlerFunc is a route handler. It returns an error instead of writing
// one, so that a single place (the server) maps every error to a status and
// a JSON body.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one entry of the server's route table. The same table drives mux
// registration, authorisation and the OpenAPI drift check, so the three
// cannot disagree.
type Route struct {
	// Method is the HTTP method ("GET", "POST", ...).
	Method string
	// Path is a net/http pattern path, e.g. "/deployments/{deployment_id}".
	Path string
	// Role is the least role a caller needs; RoleNone means no credentials.
	Role roman.Role
	// Handler serves the route.
	Handler HandlerFunc
	// Ingest selects the larger ingest body limit.
	Ingest bool
	// MaxBodyBytes, when positive, is the route's own body limit, in place
	// of the default for its role.
	MaxBodyBytes int64
	// SeedAlias also mounts the route under SeedPrefix.
	SeedAlias bool
	// Undocumented exempts the route from the OpenAPI document. It is meant
	// only for non-API routes such as dashboard assets, so that the
	// exemption is visible in review.
	Undocumented bool
}

// Pattern returns the route's net/http pattern, "METHOD /path".
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

// Server is roman's HTTP API server.
type Server struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger
	now    roman.Clock
	mux    *http.ServeMux

	mu     sync.Mutex
	routes []Route
	// ingestSlots admits at most Config.MaxIngestInflight ingest requests.
	ingestSlots chan struct{}
	// discordReplays answers a replayed Discord interaction (api/discord.go).
	discordReplays interactionReplays
}

// NewServer returns a server with every built-in route registered.
func NewServer(cfg Config, deps Deps) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxIngestBodyBytes <= 0 {
		cfg.MaxIngestBodyBytes = DefaultMaxIngestBodyBytes
	}
	if cfg.MaxAnonymousBodyBytes <= 0 {
		cfg.MaxAnonymousBodyBytes = DefaultMaxAnonymousBodyBytes
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.MaxIngestInflight <= 0 {
		cfg.MaxIngestInflight = DefaultMaxIngestInflight
	}
	s := &Server{cfg: cfg, deps: deps, logger: deps.Logger, now: deps.Clock, mux: http.NewServeMux(),
		ingestSlots: make(chan struct{}, cfg.MaxIngestInflight), discordReplays: interactionReplays{max: DefaultMaxDiscordInteractions}}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = roman.SystemClock
	}
	for _, rt := range s.builtinRoutes() {
		s.HandleRoute(rt)
	}
	return s
}

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s }

// Handle registers a route given as a net/http pattern with a method
// ("POST /errors"), the least role it needs and its handler. It panics on a
// malformed or duplicate pattern, like http.ServeMux, because that is a
// programming error found at start-up.
func (s *Server) Handle(pattern string, role roman.Role, h HandlerFunc) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		panic(fmt.Sprintf("api: pattern %q must be \"METHOD /path\"", pattern))
	}
	s.HandleRoute(Route{Method: method, Path: path, Role: role, Handler: h})
}

// HandleRoute registers a route with all its options.
func (s *Server) HandleRoute(rt Route) {
	if rt.Handler == nil || rt.Method == "" || !strings.HasPrefix(rt.Path, "/") {
		panic(fmt.Sprintf("api: invalid route %q", rt.Pattern()))
	}
	s.register(rt)
	if rt.SeedAlias {
		alias := rt
		alias.Path, alias.SeedAlias = SeedPrefix+rt.Path, false
		s.register(alias)
	}
}

func (s *Server) register(rt Route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mux.Handle(rt.Pattern(), s.wrap(rt))
	s.routes = append(s.routes, rt)
}

// Routes returns every registered route, aliases included, in registration
// order.
func (s *Server) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Route(nil), s.routes...)
}

// wrap applies the route's role and body limit, reads the body, and maps
// the handler's error. Authentication comes before the body so that an
// anonymous caller learns nothing but 401 and costs no more than its
// headers; a route without a key reads a few KiB at most.
func (s *Server) wrap(rt Route) http.Handler {
	limit := s.cfg.MaxBodyBytes
	switch {
	case rt.MaxBodyBytes > 0:
		limit = rt.MaxBodyBytes
	case rt.Ingest:
		limit = s.cfg.MaxIngestBodyBytes
	case rt.Role == roman.RoleNone:
		limit = s.cfg.MaxAnonymousBodyBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Role > roman.RoleNone {
			c, err := s.authenticate(r, rt.Role)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(WithCaller(r.Context(), c))
		}
		if r.ContentLength > limit {
			s.writeError(w, r, tooLarge(limit))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			b, err := s.readBody(w, r, limit)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r.Body = &readBody{Reader: bytes.NewReader(b), b: b}
		}
		if err := rt.Handler(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// readBody reads the request's whole body, at most limit bytes, within
// Config.BodyTimeout: a body over the limit gives ETOOLARGE, one that has
// not arrived in time ETIMEOUT (408). The buffer grows with what arrives,
// never ahead of it, so a body held back costs only the bytes sent.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rc := http.NewResponseController(w)
	// Without deadline support (a handler test's recorder) the body is
	// read without one.
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	b, err := readAtMost(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		// Lift the deadline again: the server's background read while the
		// handler runs must not end the request when it passes.
		_ = rc.SetReadDeadline(time.Time{})
		return b, nil
	case errors.As(err, &mbe):
		return nil, tooLarge(mbe.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The deadline stays passed, so nothing waits for the rest.
		s.logger.InfoContext(r.Context(), "request body did not arrive in time", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Duration("body_timeout", s.cfg.BodyTimeout), slog.Int("received", len(b)))
		return nil, roman.Errorf(roman.ETIMEOUT, "request body did not arrive within %v", s.cfg.BodyTimeout)
	}
	return nil, roman.Errorf(roman.EINVALID, "cannot read request body")
}

// readAtMost reads body to its end. The buffer starts small and doubles as
// bytes arrive, up to the announced length n (when known) plus one, so a
// body that ends as announced is read into one buffer of its size.
func readAtMost(body io.Reader, n int64) ([]byte, error) {
	const first = 4 << 10
	size := int64(first)
	if n >= 0 && n+1 < size {
		size = n + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			next := 2 * int64(cap(buf))
			if n >= 0 && int64(cap(buf)) <= n && next > n+1 {
				next = n + 1
			}
			buf = append(make([]byte, 0, next), buf...)
		}
		k, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// readBody is a request body the server has read already; ReadBody hands
// its bytes to the handler without copying them.
type readBody struct {
	*bytes.Reader
	b []byte
}

// Close implements io.Closer.
func (*readBody) Close() error { return nil }

// ServeHTTP serves a request: panics are recovered and answered 500, and
// requests no route matches get a JSON 404 or 405 instead of the mux's
// plain text.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.ErrorContext(r.Context(), "panic serving request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
			if sw.status == 0 {
				_ = WriteJSON(sw, http.StatusInternalServerError, ErrorResponse{Error: "internal error"})
			}
		}
		s.logger.DebugContext(r.Context(), "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	}()
	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.serveUnmatched(sw, r, h)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// serveUnmatched runs the mux's own 404/405 handler against a scratch writer
// to learn its status (and Allow header), then answers in JSON.
func (s *Server) serveUnmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &scratchWriter{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if allow := rec.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	status, msg := rec.status, "not found"
	switch {
	case status == http.StatusMethodNotAllowed:
		msg = "method not allowed"
	case status == 0 || status == http.StatusNotFound:
		status = http.StatusNotFound
	default:
		msg = strings.ToLower(http.StatusText(status))
	}
	_ = WriteJSON(w, status, ErrorResponse{Error: msg})
}

// statusWriter remembers the status written, for the access log and so the
// panic handler knows whether an answer already started.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers (the dashboard's live updates) flush
// through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// scratchWriter captures a status and headers and discards the body.
type scratchWriter struct {
	header http.Header
	status int
}

func (w *scratchWriter) Header() http.Header { return w.header }
func (w *scratchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *scratchWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
