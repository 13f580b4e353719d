package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/odyssey-1/roman/api"
	"github.com/odyssey-1/roman/internal/testkit"
)

// startServerEnv runs the whole program in-process on port 0 on a fresh
// SQLite file, with the test keys and extra settings.
func startServerEnv(t *testing.T, extra map[string]string) *Server {
	t.Helper()
	return startServer(t, testkit.SQLiteURL(t), extra)
}

// postSpike posts n errors of the deployment that occurred within the last
// minute, one request each, as an application would.
func postSpike(t *testing.T, base, deploymentID string, n int) {
	t.Helper()
	for i := range n {
		at := time.Now().UTC().Add(-time.Duration(n-i) * time.Second).Format(time.RFC3339Nano)
		if code, out := testkit.Call(t, "POST", base+"/errors", deployToken,
			`{"deployment_id":"`+deploymentID+`","occurred_at":"`+at+`","message":"TypeError: cannot read properties of undefined (checkout.js:88)"}`); code/100 != 2 {
			t.Fatalf("post error: %d %v", code, out)
		}
	}
}

// TestMetricsEndToEnd scrapes the real server's /metrics after the seed's
// automatic rollback and parses it.
func TestMetricsEndToEnd(t *testing.T) {
	m := startServerEnv(t, map[string]string{"ROMAN_VERIFY_WINDOW": "0s"})
	base := m.URL()
	bad := deployPair(t, m, "production")
	postSpike(t, base, bad, 9)
	waitFor(t, 10*time.Second, "the automatic rollback to succeed", func() bool {
		_, hist := testkit.Call(t, "GET", base+"/auto-rollback/history", readToken, "")
		rbs, _ := hist["rollbacks"].([]any)
		return len(rbs) == 1 && rbs[0].(map[string]any)["status"] == "success"
	})
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Fatalf("%s missing", name)
		}
	next:
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return mt.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return mt.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(mt.GetHistogram().GetSampleCount())
			}
		}
		t.Fatalf("%s%v missing", name, labels)
		return 0
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"roman_rollbacks_total", map[string]string{"environment": "production", "trigger_type": "automatic", "outcome": "success"}, 1},
		{"roman_rollback_duration_seconds", map[string]string{"trigger_type": "automatic"}, 1},
		{"roman_validations_total", map[string]string{"result": "approved"}, 1},
		{"roman_error_events_ingested_total", nil, 9},
		// The spike's batch triggered the rollback: one detection observed.
		{"roman_detection_latency_seconds", nil, 1},
		{"roman_deployments", map[string]string{"environment": "production", "status": "rolled_back"}, 1},
		{"roman_deployments", map[string]string{"environment": "production", "status": "success"}, 2},
	} {
		if got := get(tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if _, ok := fams["roman_alert_outbox_pending"]; !ok {
		t.Error("roman_alert_outbox_pending missing")
	}
	if err := api.VerifyOpenAPI(api.OpenAPIDocument(), m.API.Routes()); err != nil {
		t.Errorf("the whole server's routes drift from openapi.json: %v", err)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// artifacts is where the browser test saves its screenshots: $ROMAN_ARTIFACTS
// or the test's temporary directory.
func artifacts(t *testing.T) string {
	if dir := os.Getenv("ROMAN_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// TestDashboardInBrowser drives real headless Chromium against the real
// server: sign in with a read key, watch an automatic rollback appear live
// after errors are posted (no reload), open its steps, take screenshots,
// sign out.
func TestDashboardInBrowser(t *testing.T) {
	browser := testkit.Chromium(t)
	m := startServerEnv(t, map[string]string{"ROMAN_VERIFY_WINDOW": "1s"})
	base := m.URL()
	bad := deployPair(t, m, "production")

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	// The first action starts the browser on a context without a deadline
	// (a deadline there would bound the browser's life); later steps are
	// bounded one by one.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	get := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	// text reads an element's visible text in one evaluation, waiting for
	// the element to exist: the live dashboard re-renders its nodes on every
	// update, so a node found by one DevTools call may be gone by the next
	// ("No node with given id found").
	text := func(what, sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		js := `new Promise(done => { const look = () => { const e = document.querySelector(` + strconv.Quote(sel) +
			`); if (e) done(e.innerText); else setTimeout(look, 20); }; look(); })`
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	eval := func(expr string) any {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	dir := artifacts(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			path := filepath.Join(dir, name)
			t.Logf("screenshot: %s", path)
			return os.WriteFile(path, png, 0o644)
		})
	}
	media := func(scheme string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		})
	}

	// The sign-in form: a wrong key is refused, the read key signs in.
	do("sign-in form",
		chromedp.Navigate(base+"/app/admin/roman-dashboard"),
		chromedp.WaitVisible(`#signin-form`),
		chromedp.SendKeys(`#key`, "not-a-key"),
		chromedp.Submit(`#signin-form`),
		chromedp.WaitVisible(`#signin-error`))
	if msg := text("error text", `#signin-error`); msg != "That key is not valid." {
		t.Errorf("wrong key message: %q", msg)
	}
	do("sign-in",
		chromedp.SendKeys(`#key`, readToken),
		chromedp.Submit(`#signin-form`),
		chromedp.WaitVisible(`#app`),
		chromedp.WaitVisible(`#live[data-state="live"]`),
		chromedp.WaitVisible(`article.env[data-environment="production"]`))
	url := get("location", chromedp.Location())
	version := text("version", `article.env[data-environment="production"] .version`)
	if strings.Contains(url, readToken) || version != "v2.5.3" || eval(`document.cookie.includes("roman_session")`) != false {
		t.Fatalf("after sign-in: url %q, version %q, or the session cookie is readable by script", url, version)
	}
	// A marker that a reload would wipe out.
	eval(`window.__notReloaded = true`)

	// Errors arrive; the monitor rolls back; the page shows it live.
	posted := time.Now()
	postSpike(t, base, bad, 9)
	do("the automatic rollback appears", chromedp.WaitVisible(`tr.rollback[data-trigger="automatic"]`))
	t.Logf("automatic rollback on the page %v after the first error was posted", time.Since(posted).Round(time.Millisecond))
	do("the rollback completes on the page",
		chromedp.WaitVisible(`tr.rollback[data-trigger="automatic"][data-status="success"]`),
		chromedp.WaitVisible(`article.env[data-environment="production"] polyline.series.rolled_back`))
	if reason := text("reason", `tr.rollback[data-trigger="automatic"] td.reason`); !strings.HasPrefix(reason, "High error rate: ") {
		t.Errorf("reason %q", reason)
	}
	if eval(`window.__notReloaded === true`) != true {
		t.Error("the page reloaded instead of updating live")
	}
	do("open the steps",
		chromedp.Click(`tr.rollback[data-trigger="automatic"]`),
		chromedp.WaitVisible(`tr.steps li[data-step="validate"]`))
	steps := eval(`[...document.querySelectorAll("tr.steps li")].map(li => li.dataset.step).join(",")`).(string)
	if !strings.HasPrefix(steps, "validate,") || !strings.Contains(steps, "complete") {
		t.Errorf("steps shown: %s", steps)
	}
	if v := text("version", `article.env[data-environment="production"] .version`); v != "v2.5.2" {
		t.Errorf("production shows %q after the rollback, want v2.5.2", v)
	}

	// The card of the restored release says why the previous one was
	// rolled back, and its series ends when it stopped serving.
	const card = `article.env[data-environment="production"]`
	do("the card tells the rollback", chromedp.WaitVisible(card+` dd.decision[data-kind="rolled_back"]`))
	if got := text("rollback decision", card+` dd.decision[data-kind="rolled_back"] .headline`); !strings.HasPrefix(got, "Rolled back to v2.5.2 from v2.5.3: High error rate: ") {
		t.Errorf("the card's rollback line: %q", got)
	}
	ended := eval(`(() => { const c = document.querySelector(` + strconv.Quote(card) + ` + " svg.chart");
		const bad = c.querySelector("polyline.series.rolled_back"), cur = c.querySelector("polyline.series.current");
		const lastX = p => Math.max(...p.getAttribute("points").trim().split(" ").map(xy => parseFloat(xy)));
		return { endedAt: bad.dataset.endedAt, bad: lastX(bad), cur: lastX(cur), cap: !!c.querySelector("circle.series-end") }; })()`).(map[string]any)
	if ended["endedAt"] == "" || ended["bad"].(float64) >= ended["cur"].(float64) || ended["cap"] != true {
		t.Errorf("the rolled-back series runs on after it stopped serving: %v", ended)
	}
	// Event labels never overlap: their boxes as the browser drew them.
	labels := eval(`(() => { const out = []; for (const c of document.querySelectorAll("svg.chart")) {
		const bs = [...c.querySelectorAll("text.marker-label")].map(e => { const b = e.getBBox(); return { t: e.textContent, x: b.x, y: b.y, w: b.width, h: b.height }; });
		for (let i = 0; i < bs.length; i++) for (let j = i + 1; j < bs.length; j++) { const a = bs[i], b = bs[j];
			if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) out.push(a.t + " / " + b.t); }
		out.push("labels:" + bs.length); } return out.join("; "); })()`).(string)
	if !strings.HasPrefix(labels, "labels:") || strings.HasPrefix(labels, "labels:0") || strings.HasPrefix(labels, "labels:1;") {
		t.Errorf("chart labels overlap (or are missing): %s", labels)
	}
	// The page's layout function, on a fixed crowd of labels.
	crowd := eval(`(() => { const ls = window.romanDashboard.layoutLabels(
		[100, 101, 102, 103, 104, 105].map((x, i) => ({ x, text: "event label " + i })),
		{ left: 34, right: 590, rows: 3, gap: 4, pad: 3, measure: t => t.length * 6 });
		const bad = []; for (const a of ls) for (const b of ls) if (a !== b && a.text && b.text && a.row === b.row &&
			a.left < b.right + 4 && b.left < a.right + 4) bad.push(a.text + "/" + b.text);
		return bad.length + " overlaps, " + ls.filter(l => l.text).length + " shown"; })()`).(string)
	if !strings.HasPrefix(crowd, "0 overlaps, ") {
		t.Errorf("layoutLabels in the page: %s", crowd)
	}

	// A breach of the restored release is suppressed (it was deployed by a
	// rollback): the card says so, with the command to run.
	restored := eval(`fetch("/app/admin/roman-dashboard/summary").then(r => r.json()).then(s =>
		s.environments.find(e => e.environment === "production").deployment.deployment_id)`).(string)
	postSpike(t, base, restored, 9)
	do("the card tells the suppression", chromedp.WaitVisible(card+` dd.decision[data-kind="suppressed"]`))
	if got := text("suppression", card+` dd.decision[data-kind="suppressed"]`); !strings.HasPrefix(got, "Rollback suppressed: rollback deployment") ||
		!strings.Contains(got, "was itself deployed by a rollback") || !strings.Contains(got, "run: roman rollback "+restored+" --reason") {
		t.Errorf("the card's suppression: %q", got)
	}
	do("screenshots",
		media("light"), shot("dashboard.png"),
		media("dark"), shot("dashboard-dark.png"),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), shot("dashboard-phone.png"),
		media("light"), chromedp.ResetViewport())

	// The rollback line's link opens the rolled-back release's explain
	// page: its verdict and its decision timeline.
	do("open the explanation",
		chromedp.Click(card+` dd.decision[data-kind="rolled_back"] a.explain`),
		chromedp.WaitVisible(`#timeline li[data-kind="trigger"]`))
	if why := text("verdict", `#verdict-why`); !strings.HasPrefix(why, "Rolled back by rollback ") || !strings.Contains(why, "High error rate: ") {
		t.Errorf("explain verdict: %q", why)
	}
	kinds := eval(`[...document.querySelectorAll("#timeline li")].map(li => li.dataset.kind).join(",")`).(string)
	for _, k := range []string{"recorded", "watch_breach", "trigger", "validation", "rollback", "rollback_step", "rollback_result", "verdict"} {
		if !strings.Contains(","+kinds+",", ","+k+",") {
			t.Errorf("the timeline lacks %q: %s", k, kinds)
		}
	}
	if h := eval(`document.querySelector("#explain-h").textContent`); h != "v2.5.3 in production" {
		t.Errorf("explain page of %v", h)
	}
	do("explain screenshot", shot("explain.png"),
		chromedp.Click(`#back`), chromedp.WaitVisible(card))

	// Sign-out returns to the form, and the session is gone.
	do("sign-out", chromedp.Click(`#sign-out`), chromedp.WaitVisible(`#signin-form`))
	if status := eval(fmt.Sprintf(`fetch(%q).then(r => r.status)`, base+"/app/admin/roman-dashboard/summary")); status != float64(401) {
		t.Errorf("summary after sign-out: %v", status)
	}
}
