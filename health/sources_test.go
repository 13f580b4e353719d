package health_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/health"
	"github.com/odyssey-1/roman/internal/testpg"
)

var dep = &roman.Deployment{DeploymentID: "6f1c9a52-4a8e-4c55-9d0e-2f4f7a1d8e11", Environment: "production", Version: "v2.5.3"}

// promFake answers /api/v1/query like Prometheus does, per query text.
func promFake(t *testing.T, answers map[string]string) (*httptest.Server, *[]string) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		q := r.Form.Get("query")
		seen = append(seen, q)
		w.Header().Set("Content-Type", "application/json")
		body, ok := answers[q]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"1:1: parse error: unexpected character"}`)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func vector(v string) string {
	return `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"app"},"value":[1765809300,"` + v + `"]}]}}`
}

func TestPrometheusSourceAgainstAFake(t *testing.T) {
	srv, seen := promFake(t, map[string]string{
		`sum(rate(http_errors_total{version="v2.5.3"}[1m])) * 60`: vector("8.5"),
		`histogram_quantile(0.95, x)`:                             `{"status":"success","data":{"resultType":"vector","result":[]}}`,
		`scalar(mem)`:                                             `{"status":"success","data":{"resultType":"scalar","result":[1765809300,"96.5"]}}`,
		`nan`:                                                     vector("NaN"),
	})
	p, err := health.NewPrometheus(srv.URL, map[string]string{
		roman.SignalErrorRate:                     `sum(rate(http_errors_total{version="{{version}}"}[1m])) * 60`,
		roman.MetricP95ResponseTimeMS:             `histogram_quantile(0.95, x)`,
		roman.MetricMemoryUsagePercent:            `scalar(mem)`,
		roman.MetricDatabaseConnections:           `broken(`,
		roman.MetricDatabaseConnectionUtilization: `nan`,
	}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Measure(context.Background(), dep, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m.Values[roman.SignalErrorRate] != 8.5 || m.Values[roman.MetricMemoryUsagePercent] != 96.5 || len(m.Values) != 2 {
		t.Fatalf("values: %v", m.Values)
	}
	for sig, want := range map[string]string{
		roman.MetricP95ResponseTimeMS:             "no data",
		roman.MetricDatabaseConnections:           "bad_data",
		roman.MetricDatabaseConnectionUtilization: "no finite value",
	} {
		if !strings.Contains(m.Unknown[sig], want) {
			t.Errorf("unknown[%s] = %q, want it to say %q", sig, m.Unknown[sig], want)
		}
	}
	if !contains(*seen, `sum(rate(http_errors_total{version="v2.5.3"}[1m])) * 60`) {
		t.Errorf("placeholders not filled: %q", *seen)
	}
}

func TestPrometheusSourceDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	p, err := health.NewPrometheus("http://user:hunter2@"+addr, map[string]string{roman.MetricMemoryUsagePercent: "up"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Measure(context.Background(), dep, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	why := m.Unknown[roman.MetricMemoryUsagePercent]
	if why == "" || len(m.Values) != 0 || strings.Contains(why, "hunter2") {
		t.Fatalf("unknown: %q values: %v", why, m.Values)
	}
}

// TestPrometheusSourceAgainstPrometheus runs Debian's prometheus binary on
// loopback, scraping an exporter the test serves, and queries it through
// the source; a version written to break out of its label matcher still
// selects its own series.
func TestPrometheusSourceAgainstPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed (apt-get install prometheus)")
		}
		t.Skip("prometheus is not installed (apt-get install prometheus)")
	}
	// Prometheus scrapes an exporter the test serves (its port held by the
	// test) and listens on a port it picks itself, read from its log, so no
	// port number is chosen, released and reused.
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# TYPE app_ready gauge\napp_ready 1\n# TYPE app_errors gauge\napp_errors{version=\"\\\"} * 0 or vector(0) #\"} 7\n")
	}))
	defer exporter.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	target := strings.TrimPrefix(exporter.URL, "http://")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['"+target+"']\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:0")
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addrc := make(chan string, 1)
	go func() {
		listening := regexp.MustCompile(`msg="Listening on" address=(127\.0\.0\.1:[0-9]+)`)
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatal("prometheus never said where it listens")
	}
	p, err := health.NewPrometheus("http://"+addr, map[string]string{
		roman.MetricActiveQueries:     `sum(up{job="self"})`,
		roman.MetricP95ResponseTimeMS: `sum(up{job="nothing"})`,
		roman.SignalErrorRate:         `app_errors{version="{{version}}"}`,
	}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	evil := &roman.Deployment{DeploymentID: dep.DeploymentID, Environment: dep.Environment, Version: `"} * 0 or vector(0) #`}
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := p.Measure(context.Background(), evil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if m.Values[roman.MetricActiveQueries] == 1 {
			if why := m.Unknown[roman.MetricP95ResponseTimeMS]; !strings.Contains(why, "no data") {
				t.Fatalf("empty query: %q", why)
			}
			if m.Values[roman.SignalErrorRate] != 7 {
				t.Fatalf("the version's errors read %v (unknown: %q), want 7", m.Values[roman.SignalErrorRate], m.Unknown[roman.SignalErrorRate])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus never answered up == 1: %+v", m)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestProbe(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	p, err := health.NewProbe(srv.URL+"/healthz?token=s3cret", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	if m, err := p.Measure(context.Background(), dep, now); err != nil || len(m.Errors) != 0 {
		t.Fatalf("healthy probe: %+v %v", m, err)
	}
	status = http.StatusServiceUnavailable
	m, err := p.Measure(context.Background(), dep, now)
	if err != nil || len(m.Errors) != 1 || m.Errors[0].Message != "Health probe failed: HTTP 503" || !m.Errors[0].OccurredAt.Equal(now) {
		t.Fatalf("failed probe: %+v %v", m, err)
	}
	srv.Close()
	m, _ = p.Measure(context.Background(), dep, now)
	if len(m.Errors) != 1 || strings.Contains(m.Errors[0].Message, "s3cret") || !strings.Contains(m.Errors[0].Message, "connection refused") {
		t.Fatalf("unreachable probe: %+v", m)
	}
}

func TestPGStatSource(t *testing.T) {
	p, err := health.NewPGStat(testpg.URL(t), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m, err := p.Measure(context.Background(), dep, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conns, util := m.Values[roman.MetricDatabaseConnections], m.Values[roman.MetricDatabaseConnectionUtilization]
	if conns < 1 || util <= 0 || util > 100 {
		t.Fatalf("values: %v", m.Values)
	}
	if _, ok := m.Values[roman.MetricActiveQueries]; !ok {
		t.Fatalf("no active_queries: %v", m.Values)
	}
	// A dead database makes every signal unknown through the sampler,
	// never a made-up value.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	dead, err := health.NewPGStat("postgres://roman:pw@"+addr+"/app?sslmode=disable&connect_timeout=1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	pulled := &health.Pulled{}
	s := &health.Sampler{Pulled: pulled, Sources: func(string) []roman.HealthSource { return []roman.HealthSource{dead} }}
	s.Sample(context.Background(), dep, time.Now())
	un := pulled.Unmeasured(dep.DeploymentID)
	if len(un) != 3 || strings.Contains(un[roman.MetricDatabaseConnections], "pw") {
		t.Fatalf("unknown: %v", un)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPrometheusQueryKeepsValuesInsideTheirStringLiterals: a deploy key can
// record any version, e.g. one that closes the label matcher and turns the
// error query into one that always reads zero. The query sent to
// Prometheus keeps such a value inside its string literal, so it still
// selects that version's errors.
func TestPrometheusQueryKeepsValuesInsideTheirStringLiterals(t *testing.T) {
	const evil = `"} * 0 or vector(0) #`
	const prefix, suffix = `sum(rate(http_errors_total{version=`, `}[1m])) * 60`
	var sent []string
	// A Prometheus that knows one series, http_errors_total{version=evil}
	// at 8.5 errors a minute: a matcher whose literal is that version
	// selects it, anything else (a query the value broke out of) reads 0.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		q := r.Form.Get("query")
		sent = append(sent, q)
		value := "0"
		if rest, ok := strings.CutPrefix(q, prefix); ok {
			if lit, err := strconv.QuotedPrefix(rest); err == nil {
				if v, _ := strconv.Unquote(lit); v == evil && rest[len(lit):] == suffix {
					value = "8.5"
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, vector(value))
	}))
	defer srv.Close()
	p, err := health.NewPrometheus(srv.URL, map[string]string{
		roman.SignalErrorRate: prefix + `"{{version}}"` + suffix,
	}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	bad := &roman.Deployment{DeploymentID: dep.DeploymentID, Environment: "production", Version: evil}
	m, err := p.Measure(context.Background(), bad, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m.Values[roman.SignalErrorRate] != 8.5 {
		t.Fatalf("error rate = %v (unknown: %v); queries sent: %q", m.Values[roman.SignalErrorRate], m.Unknown, sent)
	}
}

// TestPrometheusPlaceholderContexts: each placeholder is escaped for where
// it stands: a double- or single-quoted string, a regular-expression
// matcher, a raw string (which cannot hold a backtick), a comment, or bare
// (a plain name only).
func TestPrometheusPlaceholderContexts(t *testing.T) {
	for _, tc := range []struct {
		name, query, version, want, unknown string
	}{
		{"double", `x{v="{{version}}"}`, `a"b\c` + "\n", `x{v="a\"b\\c\n"}`, ""},
		{"single", `x{v='{{version}}'}`, `a'b"c`, `x{v='a\'b"c'}`, ""},
		{"regexp", `x{v=~"{{version}}.*"}`, `v2.5.3`, `x{v=~"v2\\.5\\.3.*"}`, ""},
		{"negated regexp", `x{v!~ '{{version}}'}`, `a+b`, `x{v!~ 'a\\+b'}`, ""},
		{"raw", "x{v=`{{version}}`}", `v2.5.3"}`, "x{v=`v2.5.3\"}`}", ""},
		{"raw with a backtick", "x{v=`{{version}}`}", "a`b", "", "cannot be quoted"},
		{"comment", "x # {{version}}", "a\nvector(0)", "x # a vector(0)", ""},
		{"bare name", `x_{{version}}_total`, `v2`, `x_v2_total`, ""},
		{"bare other", `x_{{version}}_total`, `v2 or vector(0)`, "", "not a plain name"},
		{"escaped quote in the template", `x{a="\"{{version}}\""}`, `"`, `x{a="\"\"\""}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = "never sent"
			}
			srv, seen := promFake(t, map[string]string{want: vector("1")})
			p, err := health.NewPrometheus(srv.URL, map[string]string{roman.SignalErrorRate: tc.query}, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := p.Measure(context.Background(), &roman.Deployment{Version: tc.version}, time.Now())
			if tc.unknown != "" {
				if !strings.Contains(m.Unknown[roman.SignalErrorRate], tc.unknown) || len(*seen) != 0 {
					t.Fatalf("unknown = %q, sent %q; want no query and %q", m.Unknown[roman.SignalErrorRate], *seen, tc.unknown)
				}
				return
			}
			if m.Values[roman.SignalErrorRate] != 1 {
				t.Fatalf("sent %q, want %q (unknown: %v)", *seen, tc.want, m.Unknown)
			}
		})
	}
}
