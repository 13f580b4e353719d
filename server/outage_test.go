package server

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/web"
)

// pgProxy forwards TCP connections to a PostgreSQL server until cut: then
// it refuses new connections (its listener is closed) and breaks every
// open one, as a database that went down does.
type pgProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

// newPGProxy starts a proxy in front of the server of pgURL and returns it
// with the URL that reaches the same database through it.
func newPGProxy(t *testing.T, pgURL string) (*pgProxy, string) {
	t.Helper()
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	p := &pgProxy{ln: testkit.Listen(t)}
	go func() {
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				up.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	u.Host = p.ln.Addr().String()
	return p, u.String()
}

// Cut takes the database away: the port refuses, open connections break.
func (p *pgProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestStoreOutageIs503 takes the store away under a running server — on
// SQLite its connection pools are closed, on PostgreSQL the server's
// connections break and new ones are refused — and then calls every route
// of the route table (plus the dashboard's explain page with a session):
// none answers 500, and each route that needs the store answers 503 with
// Retry-After and a message that names no host, file or driver.
func TestStoreOutageIs503(t *testing.T) {
	stores := []struct {
		name string
		url  func(t *testing.T) (string, func(m *Server))
	}{
		{"sqlite", func(t *testing.T) (string, func(m *Server)) {
			return "sqlite://" + t.TempDir() + "/roman.db", func(m *Server) { m.Store.SQL().Close(); m.Store.Close() }
		}},
		{"postgres", func(t *testing.T) (string, func(m *Server)) {
			p, u := newPGProxy(t, testpg.URL(t))
			return u, func(*Server) { p.Cut() }
		}},
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			dbURL, takeAway := s.url(t)
			m := startServer(t, dbURL, map[string]string{"ROMAN_SHUTDOWN_TIMEOUT": "3s"})
			base := m.URL()
			_, d := testkit.Call(t, "POST", base+"/deployments", deployToken, `{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true}`)
			dep := d["deployment_id"].(string)
			// A dashboard session, opened while the store is up.
			jar := &cookieJar{}
			browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := browser.PostForm(base+web.BasePath+"/sign-in", url.Values{"key": {readToken}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			takeAway(m)

			bodies := map[string]string{
				"POST /deployments":                                `{"environment":"production","version":"v9","git_commit":"c","git_branch":"main","status":"success"}`,
				"PATCH /deployments/{deployment_id}":               `{"status":"failed"}`,
				"POST /deployments/{deployment_id}/snapshots":      `{"snapshot_type":"pre_deployment"}`,
				"POST /deployments/{deployment_id}/migrations":     `{"migration_name":"m1","migration_hash":"h","rollback_script":"DROP TABLE x"}`,
				"POST /auto-rollback":                              `{"deployment_id":"` + dep + `","trigger_reason":"bug"}`,
				"POST /auto-rollback/check":                        `{"deployment_id":"` + dep + `"}`,
				"POST /auto-rollback/validate":                     `{"deployment_id":"` + dep + `","trigger_reason":"bug"}`,
				"POST /errors":                                     `{"deployment_id":"` + dep + `","message":"TypeError: cart is undefined"}`,
				"POST /metrics/samples":                            `{"environment":"production","name":"p95_response_time_ms","value":5200}`,
				"POST /functions/v1/auto-rollback":                 `{"deployment_id":"` + dep + `","trigger_reason":"bug"}`,
				"POST /functions/v1/auto-rollback/check":           `{"deployment_id":"` + dep + `"}`,
				"POST /functions/v1/auto-rollback/validate":        `{"deployment_id":"` + dep + `","trigger_reason":"bug"}`,
				"POST " + web.BasePath + "/sign-in":                "",
				"POST " + web.BasePath + "/sign-out":               "",
				"GET " + web.BasePath + "/static/{file}":           "",
				"GET " + web.BasePath + "/explain/{deployment_id}": "",
			}
			mustBe503 := map[string]bool{
				"GET /deployments": true, "GET /deployments/{deployment_id}": true, "POST /deployments": true,
				"PATCH /deployments/{deployment_id}": true, "GET /auto-rollback/history": true,
				"POST /auto-rollback": true, "GET /events": true, "GET /readyz": true, "POST /errors": true,
				"GET /deployments/{deployment_id}/explain": true,
			}
			seen := 0
			for _, rt := range m.API.Routes() {
				key := rt.Method + " " + rt.Path
				if strings.HasPrefix(rt.Path, web.BasePath+"/static/") || strings.HasPrefix(rt.Path, web.BasePath+"/sign-") {
					continue // no store behind them
				}
				path := strings.NewReplacer("{deployment_id}", dep, "{snapshot_id}", "00000000-0000-4000-8000-000000000001",
					"{other_snapshot_id}", "00000000-0000-4000-8000-000000000002").Replace(rt.Path)
				var code int
				var raw []byte
				var retry string
				if rt.Path == web.BasePath+"/explain/{deployment_id}" || rt.Path == web.BasePath {
					resp, err := browser.Get(base + path)
					if err != nil {
						t.Fatal(err)
					}
					raw, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					code, retry = resp.StatusCode, resp.Header.Get("Retry-After")
					if rt.Path != web.BasePath {
						mustBe503[key] = true
					}
				} else {
					if strings.HasSuffix(rt.Path, "/check") && rt.Method == "GET" {
						path += "?deployment_id=" + dep
					}
					req, _ := http.NewRequest(rt.Method, base+path, strings.NewReader(bodies[key]))
					req.Header.Set("Authorization", "Bearer "+adminToken)
					if bodies[key] != "" {
						req.Header.Set("Content-Type", "application/json")
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					if rt.Path == "/app/admin/roman-dashboard/events" {
						// The live stream: its status is all that matters.
						resp.Body.Close()
						code, retry = resp.StatusCode, resp.Header.Get("Retry-After")
					} else {
						raw, _ = io.ReadAll(resp.Body)
						resp.Body.Close()
						code, retry = resp.StatusCode, resp.Header.Get("Retry-After")
					}
				}
				seen++
				t.Logf("%s: %d %.120s", key, code, raw)
				switch {
				case code == http.StatusInternalServerError:
					t.Errorf("%s with the store down: 500 %s", key, raw)
				case code >= 500 && (code != http.StatusServiceUnavailable || retry == ""):
					t.Errorf("%s with the store down: %d, Retry-After %q", key, code, retry)
				case mustBe503[key] && code != http.StatusServiceUnavailable:
					t.Errorf("%s with the store down: %d %s, want 503", key, code, raw)
				}
				if strings.Contains(string(raw), "sql:") || strings.Contains(string(raw), "127.0.0.1") || strings.Contains(string(raw), "roman.db") {
					t.Errorf("%s: the answer shows driver detail: %s", key, raw)
				}
			}
			if seen < 20 {
				t.Fatalf("only %d routes called", seen)
			}
		})
	}
}

// cookieJar keeps the cookies of one test server.
type cookieJar struct {
	mu      sync.Mutex
	cookies []*http.Cookie
}

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.cookies = append(j.cookies, cs...)
}

func (j *cookieJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]*http.Cookie(nil), j.cookies...)
}
