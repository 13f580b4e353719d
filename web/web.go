// Package web is roman's dashboard at /app/admin/roman-dashboard:
// html/template pages, a stylesheet and a small script, all embedded in the
// binary (no CDN, no build step), a JSON summary endpoint the page renders
// from, and a Server-Sent Events stream that tells the page when to fetch
// it again.
//
// Sign-in takes an API key in a form POST (never in a URL) and sets an
// HttpOnly, SameSite=Strict session cookie that holds a random token, not
// the key (see Sessions). The form POSTs are also checked against
// cross-origin requests (Sec-Fetch-Site / Origin), so no other site can
// sign a browser in or out.
package web

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/audit"
)

// BasePath is the dashboard's path, the seed's.
const BasePath = "/app/admin/roman-dashboard"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is what the dashboard reads; *sqldb.DB implements it.
type Store interface {
	roman.StatsStore
	GetDeployment(ctx context.Context, deploymentID string) (*roman.Deployment, error)
	ListRollbackEvents(ctx context.Context, f roman.RollbackFilter) ([]*roman.RollbackEvent, error)
	ListRomanEvents(ctx context.Context, f roman.RomanEventFilter) ([]*roman.RomanEvent, error)
}

// HealthChecker computes a deployment's live health.
type HealthChecker interface {
	Check(ctx context.Context, d *roman.Deployment) (roman.Health, error)
}

// auditStores are the stores audit.Service reads.
type auditStores interface {
	roman.DeploymentStore
	roman.RollbackStore
	roman.EventStore
	roman.SnapshotStore
}

// Config configures the dashboard.
type Config struct {
	Store  Store
	Health HealthChecker
	// Audit explains a deployment for the explain page; when nil and Store
	// also implements the stores audit.Service reads, the dashboard builds
	// one over Store.
	Audit    roman.AuditService
	Sessions *Sessions
	// Limiter, when set, limits failed sign-ins per client address; the API
	// server shares it, so a guess counts the same on either door.
	Limiter *api.AuthLimiter
	// Hub tells the live stream when something changed; nil means the page
	// only updates when reloaded.
	Hub *roman.Hub
	// Thresholds and WatchWindow return an environment's settings.
	Thresholds  func(env string) roman.Thresholds
	WatchWindow func(env string) time.Duration
	Clock       roman.Clock
	Logger      *slog.Logger
	// Heartbeat is the interval of keep-alive comments on the live stream
	// (default 15 s), so proxies do not close an idle stream.
	Heartbeat time.Duration
	// Fingerprints, when set, lists a card's new errors (fingerprints its
	// release introduced).
	Fingerprints roman.FingerprintStore
}

// Dashboard serves the dashboard's pages, assets, summary and live stream.
type Dashboard struct {
	cfg    Config
	pages  *template.Template
	assets *assets
	xorig  *http.CrossOriginProtection
	// summaries coalesces concurrent summary builds (see builds).
	summaries builds
	// perCard makes Build read card by card even from a store that reads
	// every card at once (tests compare the two).
	perCard bool

	done      chan struct{}
	closeOnce sync.Once
}

// New returns the dashboard.
func New(cfg Config) *Dashboard {
	if cfg.Clock == nil {
		cfg.Clock = roman.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.Thresholds == nil {
		cfg.Thresholds = func(string) roman.Thresholds { return roman.DefaultThresholds() }
	}
	if cfg.WatchWindow == nil {
		cfg.WatchWindow = func(string) time.Duration { return 0 }
	}
	if cfg.Audit == nil {
		if st, ok := cfg.Store.(auditStores); ok {
			cfg.Audit = &audit.Service{Deployments: st, Rollbacks: st, Audit: st, Snapshots: st}
		}
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	d := &Dashboard{
		cfg:    cfg,
		assets: newAssets(static),
		xorig:  http.NewCrossOriginProtection(),
		done:   make(chan struct{}),
	}
	d.pages = template.Must(template.New("").Funcs(template.FuncMap{"asset": d.assets.url, "utc": utcText}).ParseFS(templateFS, "templates/*.html"))
	return d
}

// Close ends every live stream, so that a graceful shutdown does not wait
// for browsers to hang up. Register it with http.Server.RegisterOnShutdown.
func (d *Dashboard) Close() {
	d.closeOnce.Do(func() { close(d.done) })
}

// Routes returns the dashboard's page, sign-in forms and assets for
// api.Server.HandleRoute. The page and the forms answer HTML and redirects,
// not JSON, but they are routes the server serves, so openapi.json lists
// them; only the static assets are Undocumented. The summary and the live
// stream are served by the API server from its own route table through
// api.Deps.Dashboard (role read: a session cookie or a bearer key).
func (d *Dashboard) Routes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: BasePath, Handler: d.page},
		{Method: "POST", Path: BasePath + "/sign-in", Handler: d.signIn},
		{Method: "POST", Path: BasePath + "/sign-out", Handler: d.signOut},
		{Method: "GET", Path: BasePath + "/explain/{deployment_id}", Handler: d.explain},
		{Method: "GET", Path: BasePath + "/static/{file}", Handler: d.static, Undocumented: true},
	}
}

var _ api.DashboardHandlers = (*Dashboard)(nil)

// Register adds the dashboard's pages to srv.
func (d *Dashboard) Register(srv *api.Server) {
	for _, rt := range d.Routes() {
		srv.HandleRoute(rt)
	}
}

// pageData is what the templates render.
type pageData struct {
	Caller string
	Error  string
	Range  string
	Ranges []string
	// Explain is the explain page's explanation.
	Explain *explainView
}

// Ranges are the time ranges the page offers; the summary accepts any
// duration between one minute and 90 days.
var Ranges = []string{"1h", "6h", "24h", "7d", "30d"}

// htmlHeaders sets the headers of every HTML answer: no caching (the page
// depends on the session), no framing, and a content security policy that
// allows only the dashboard's own script, styles and connections.
func htmlHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// render writes a page; a template failure is logged and answered 500
// without detail.
func (d *Dashboard) render(w http.ResponseWriter, status int, name string, data pageData) error {
	htmlHeaders(w)
	w.WriteHeader(status)
	if err := d.pages.ExecuteTemplate(w, name, data); err != nil {
		d.cfg.Logger.Error("rendering the dashboard", "page", name, "err", err)
	}
	return nil
}

// page serves the dashboard to a signed-in browser and the sign-in form to
// anyone else.
func (d *Dashboard) page(w http.ResponseWriter, r *http.Request) error {
	c, ok := d.cfg.Sessions.SessionCaller(r)
	if !ok {
		return d.render(w, http.StatusOK, "signin.html", pageData{})
	}
	rng := r.URL.Query().Get("range")
	if _, err := parseRange(rng); err != nil || rng == "" {
		rng = DefaultRange
	}
	return d.render(w, http.StatusOK, "dashboard.html", pageData{Caller: c.Name, Range: rng, Ranges: Ranges})
}

// signIn takes the key from the form body, opens a session and redirects
// to the dashboard (303, so a reload does not post the key again).
func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request) error {
	if err := d.xorig.Check(r); err != nil {
		return d.render(w, http.StatusForbidden, "signin.html", pageData{Error: "Cross-site sign-in refused."})
	}
	if err := r.ParseForm(); err != nil {
		return d.render(w, http.StatusBadRequest, "signin.html", pageData{Error: "The form could not be read."})
	}
	// An address that failed too often is refused before the key is looked
	// at, as the API does.
	if wait := d.cfg.Limiter.Wait(r); wait > 0 {
		secs := api.RetryAfterSeconds(wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return d.render(w, http.StatusTooManyRequests, "signin.html",
			pageData{Error: fmt.Sprintf("Too many failed sign-ins from your address. Try again in %d seconds.", secs)})
	}
	// PostForm only: a key in the query string would end up in logs and
	// browser history, so it is never accepted from there.
	key := r.PostForm.Get("key")
	token, expires, ok := d.cfg.Sessions.SignIn(key)
	if !ok {
		if key != "" && d.cfg.Limiter.Fail(r) {
			d.cfg.Logger.Warn("client address refused (429) after repeated failed sign-ins", "remote", d.cfg.Limiter.ClientAddr(r))
		}
		d.cfg.Logger.Info("dashboard sign-in refused", "remote", d.cfg.Limiter.ClientAddr(r))
		return d.render(w, http.StatusUnauthorized, "signin.html", pageData{Error: "That key is not valid."})
	}
	http.SetCookie(w, sessionCookie(r, token, expires))
	http.Redirect(w, r, BasePath, http.StatusSeeOther)
	return nil
}

// signOut ends the session and clears the cookie.
func (d *Dashboard) signOut(w http.ResponseWriter, r *http.Request) error {
	if err := d.xorig.Check(r); err != nil {
		return d.render(w, http.StatusForbidden, "signin.html", pageData{Error: "Cross-site sign-out refused."})
	}
	if c, err := r.Cookie(CookieName); err == nil {
		d.cfg.Sessions.SignOut(c.Value)
	}
	http.SetCookie(w, sessionCookie(r, "", time.Time{}))
	http.Redirect(w, r, BasePath, http.StatusSeeOther)
	return nil
}
