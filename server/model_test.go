package server

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// defaultModelSeed and the default step counts make the model test the same
// run every time unless ROMAN_MODEL_SEED (or -model.seed) and
// ROMAN_MODEL_STEPS (or -model.steps) ask for another. A step costs about
// three times as much on PostgreSQL (restarts above all), so it runs fewer
// by default, to stay well under a minute on a shared 2-core machine; under
// the race detector (make test) a quarter of them run.
const defaultModelSeed = 20251215

var defaultModelSteps = map[string]int{"sqlite": 1000, "postgres": 400}

var (
	modelSeedFlag  = flag.Int64("model.seed", 0, "seed of TestModel's random operations (default ROMAN_MODEL_SEED, else a fixed seed)")
	modelStepsFlag = flag.Int("model.steps", 0, "number of TestModel's steps per store (default ROMAN_MODEL_STEPS, else a fixed count per store)")
)

// modelSeed returns the seed of the model test: the flag, else the
// environment variable, else the fixed default.
func modelSeed(t *testing.T) int64 {
	if *modelSeedFlag != 0 {
		return *modelSeedFlag
	}
	if s := os.Getenv("ROMAN_MODEL_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("ROMAN_MODEL_SEED=%q: %v", s, err)
		}
		return n
	}
	return defaultModelSeed
}

// modelSteps returns how many steps the model test runs on a store.
func modelSteps(t *testing.T, store string) int {
	if *modelStepsFlag > 0 {
		return *modelStepsFlag
	}
	if s := os.Getenv("ROMAN_MODEL_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("ROMAN_MODEL_STEPS=%q: not a positive number", s)
		}
		return n
	}
	if raceDetector {
		// The race detector makes a step four to eight times slower; a
		// quarter of the steps keeps the package within its timeout on a
		// loaded 2-core machine and still races every operation.
		return defaultModelSteps[store] / 4
	}
	return defaultModelSteps[store]
}

// TestModel plays random sequences of operations against a real server on a
// fake clock, on both stores: deployments recorded and completed (sometimes
// reusing a commit), error bursts by deployment or by (service,
// environment), clock jumps, restarts, manual rollbacks and executor
// failures, over two services and two environments. After every step it
// lets the monitor and the rollbacks settle and checks the rules that must
// hold whatever happened (modelInvariants). A failure prints the seed and the
// last operations, so ROMAN_MODEL_SEED=<seed> replays it.
func TestModel(t *testing.T) {
	seed := modelSeed(t)
	for _, s := range testkit.Stores {
		t.Run(s.Name, func(t *testing.T) {
			steps := modelSteps(t, s.Name)
			r := newModelRun(t, s.URL(t), seed)
			start := time.Now()
			for i := 0; i < steps; i++ {
				r.step = i
				r.randomOperation()
				r.settle()
				r.check()
			}
			t.Logf("seed %d: %d steps in %s (%s)", seed, steps, time.Since(start).Round(time.Millisecond), r.summary())
		})
	}
}

// modelScopes are the (service, environment)s the model deploys to.
var modelScopes = []scope{
	{service: "default", env: "production"},
	{service: "default", env: "staging"},
	{service: "checkout", env: "production"},
	{service: "checkout", env: "staging"},
}

// scope is a (service, environment).
type scope struct{ service, env string }

// modelRun is one run of the model test against one store.
type modelRun struct {
	t      *testing.T
	url    string
	seed   int64
	rnd    *rand.Rand
	clock  *testkit.Clock
	marker string
	env    map[string]string
	srv    *Server
	step   int
	// trail holds the latest operations, printed when a check fails.
	trail []string
	// commits are the commits recorded so far, per scope, for reuse.
	commits map[scope][]string
	version int
	// stats counts the operations run and what came of them.
	stats map[string]int

	inv modelInvariants
}

func newModelRun(t *testing.T, url string, seed int64) *modelRun {
	dir := t.TempDir()
	r := &modelRun{t: t, url: url, seed: seed, rnd: rand.New(rand.NewSource(seed)),
		clock:   testkit.NewClock(time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)),
		marker:  filepath.Join(dir, "platform-down"),
		commits: map[scope][]string{}, stats: map[string]int{}}
	r.inv.init()
	r.env = map[string]string{
		// The executor fails while the marker file exists.
		"ROMAN_EXECUTOR":         "command",
		"ROMAN_EXECUTOR_COMMAND": "/usr/bin/test ! -e " + r.marker,
		"ROMAN_VERIFY_WINDOW":    "0s",
		// The test drives the monitor with Tick after every step; the
		// real ticker stays out of the way.
		"ROMAN_MONITOR_INTERVAL": "1h",
	}
	r.open()
	t.Cleanup(func() {
		if r.srv != nil {
			if err := r.srv.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	return r
}

// open starts a server on the run's database and waits until its monitor
// leads (on PostgreSQL the first leadership round runs inside Open).
func (r *modelRun) open() {
	r.srv = openServer(r.t, r.url, r.clock.Now, nil, r.env)
	deadline := time.Now().Add(10 * time.Second)
	for !r.srv.Monitor.Leading() {
		if time.Now().After(deadline) {
			r.fail("the monitor does not lead after a start")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logf records an operation in the trail.
func (r *modelRun) logf(format string, args ...any) {
	line := fmt.Sprintf("step %d @%s: ", r.step, r.clock.Now().Format("15:04:05")) + fmt.Sprintf(format, args...)
	r.trail = append(r.trail, line)
	if len(r.trail) > 40 {
		r.trail = r.trail[len(r.trail)-40:]
	}
}

// fail stops the run with the seed, the step and the latest operations.
func (r *modelRun) fail(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("model (seed %d, step %d; replay with ROMAN_MODEL_SEED=%d go test -run 'TestModel/%s' ./server/): %s\nlatest operations:\n  %s",
		r.seed, r.step, r.seed, filepath.Base(r.t.Name()), fmt.Sprintf(format, args...), strings.Join(r.trail, "\n  "))
}

func (r *modelRun) summary() string {
	var parts []string
	for _, k := range []string{"record", "complete", "errors", "clock", "restart", "rollback", "smoke", "executor", "rollback_events", "automatic", "rolled_back", "breached"} {
		parts = append(parts, fmt.Sprintf("%s=%d", k, r.stats[k]))
	}
	return strings.Join(parts, " ")
}

// call sends a request to the server and fails the run on a 5xx answer,
// which no operation of the model may cause.
func (r *modelRun) call(method, path, token, body string) (int, map[string]any) {
	r.t.Helper()
	code, out := testkit.Call(r.t, method, r.srv.URL()+path, token, body)
	if code >= 500 {
		r.fail("%s %s %s: %d %v", method, path, body, code, out)
	}
	return code, out
}

// randomOperation runs one operation chosen at random.
func (r *modelRun) randomOperation() {
	switch n := r.rnd.Intn(100); {
	case n < 20:
		r.record()
	case n < 28:
		r.complete()
	case n < 53:
		r.errors()
	case n < 73:
		r.jump()
	case n < 76:
		r.restart()
	case n < 86:
		r.rollback()
	case n < 90:
		r.smokeTest()
	default:
		r.toggleExecutor()
	}
}

func (r *modelRun) pickScope() scope { return modelScopes[r.rnd.Intn(len(modelScopes))] }

// record records a deployment of a random scope: usually in_progress and
// completed at once (mostly success), sometimes left in_progress or pending
// for a later complete, sometimes reported by CI as success with its own
// passing smoke test (a rollback target from the start).
func (r *modelRun) record() {
	r.stats["record"]++
	k := r.pickScope()
	r.version++
	version := fmt.Sprintf("v1.%d", r.version)
	commit := fmt.Sprintf("%07x", r.rnd.Int63n(1<<28))
	if old := r.commits[k]; len(old) > 0 && r.rnd.Intn(100) < 25 {
		commit = old[r.rnd.Intn(len(old))]
	} else {
		r.commits[k] = append(r.commits[k], commit)
	}
	status, extra := roman.StatusInProgress, ""
	switch n := r.rnd.Intn(100); {
	case n < 12:
		status, extra = roman.StatusSuccess, `,"health_check_passed":true`
	case n < 20:
		status = roman.StatusPending
	}
	body := fmt.Sprintf(`{"service":%q,"environment":%q,"version":%q,"git_commit":%q,"git_branch":"main","status":%q%s}`,
		k.service, k.env, version, commit, status, extra)
	code, out := r.call("POST", "/deployments", deployToken, body)
	if code != 201 {
		r.fail("record %s: %d %v", body, code, out)
	}
	id, _ := out["deployment_id"].(string)
	r.logf("record %s/%s %s %s %s -> %s", k.service, k.env, version, commit, status, id)
	if status == roman.StatusInProgress && r.rnd.Intn(100) < 75 {
		to := roman.StatusSuccess
		if r.rnd.Intn(100) < 15 {
			to = roman.StatusFailed
		}
		r.patch(id, to)
	}
}

// complete finishes a deployment left pending or in_progress.
func (r *modelRun) complete() {
	r.stats["complete"]++
	var open []modelDeployment
	for _, d := range r.inv.deployments {
		if (d.status == roman.StatusPending || d.status == roman.StatusInProgress) && d.rollbackFrom == "" {
			open = append(open, d)
		}
	}
	if len(open) == 0 {
		r.logf("complete: nothing open")
		return
	}
	d := open[r.rnd.Intn(len(open))]
	to := roman.StatusSuccess
	if d.status == roman.StatusPending {
		to = roman.StatusInProgress
	}
	if r.rnd.Intn(100) < 20 {
		to = roman.StatusFailed
	}
	r.patch(d.id, to)
}

func (r *modelRun) patch(id, to string) {
	code, out := r.call("PATCH", "/deployments/"+id, deployToken, fmt.Sprintf(`{"status":%q}`, to))
	r.logf("complete %s -> %s: %d", id, to, code)
	if code != 200 && code != 409 {
		r.fail("complete %s -> %s: %d %v", id, to, code, out)
	}
}

// smokeTest reports, as CI does after its own smoke test, that a recent
// deployment passed its health check.
func (r *modelRun) smokeTest() {
	r.stats["smoke"]++
	ds := r.inv.deployments
	if len(ds) == 0 {
		r.logf("smoke test: nothing deployed")
		return
	}
	d := ds[len(ds)-1-r.rnd.Intn(min(len(ds), 8))]
	code, out := r.call("PATCH", "/deployments/"+d.id, deployToken, `{"health_check_passed":true}`)
	r.logf("smoke test passed for %s: %d %v", d.id, code, out["error"])
	if code != 200 && code != 409 {
		r.fail("smoke test of %s: %d %v", d.id, code, out)
	}
}

// errors posts a burst of errors occurring now, for a random deployment or
// for a (service, environment) (its current deployment).
func (r *modelRun) errors() {
	r.stats["errors"]++
	n := 1 + r.rnd.Intn(12)
	at := r.clock.Now().UTC().Format(time.RFC3339Nano)
	var who, item string
	if ds := r.inv.deployments; len(ds) > 0 && r.rnd.Intn(100) < 35 {
		d := ds[len(ds)-1-r.rnd.Intn(min(len(ds), 8))]
		who, item = d.id, fmt.Sprintf(`"deployment_id":%q`, d.id)
	} else {
		k := r.pickScope()
		who, item = k.service+"/"+k.env, fmt.Sprintf(`"service":%q,"environment":%q`, k.service, k.env)
	}
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{%s,"occurred_at":%q,"message":"TypeError: cart is undefined"}`, item, at)
	}
	code, out := r.call("POST", "/errors", deployToken, `{"events":[`+strings.Join(items, ",")+`]}`)
	r.logf("errors %d for %s: %d %v", n, who, code, out["deployment_ids"])
	if code != 200 && code != 404 {
		r.fail("errors for %s: %d %v", who, code, out)
	}
}

// jump moves the clock by seconds to tens of minutes.
func (r *modelRun) jump() {
	r.stats["clock"]++
	var d time.Duration
	switch n := r.rnd.Intn(100); {
	case n < 50:
		d = time.Duration(1+r.rnd.Intn(59)) * time.Second
	case n < 85:
		d = time.Duration(60+r.rnd.Intn(6*60)) * time.Second
	default:
		d = time.Duration(7+r.rnd.Intn(24)) * time.Minute
	}
	r.clock.Add(d)
	r.logf("clock +%s", d)
}

// restart closes the server and opens a new one on the same database.
func (r *modelRun) restart() {
	r.stats["restart"]++
	if err := r.srv.Close(); err != nil {
		r.fail("close: %v", err)
	}
	r.srv = nil
	r.open()
	r.logf("restart")
	r.inv.restarted = true
}

// rollback asks for a manual rollback, usually of a scope's current
// deployment, sometimes of any recent one.
func (r *modelRun) rollback() {
	r.stats["rollback"]++
	var id string
	if r.rnd.Intn(100) < 70 {
		k := r.pickScope()
		d, err := r.srv.Store.CurrentDeployment(context.Background(), k.service, k.env)
		if err != nil {
			r.fail("current deployment: %v", err)
		}
		if d != nil {
			id = d.DeploymentID
		}
	}
	if ds := r.inv.deployments; id == "" && len(ds) > 0 {
		id = ds[len(ds)-1-r.rnd.Intn(min(len(ds), 8))].id
	}
	if id == "" {
		r.logf("rollback: nothing deployed")
		return
	}
	code, out := r.call("POST", "/auto-rollback", adminToken, fmt.Sprintf(`{"deployment_id":%q,"trigger_reason":"model: manual rollback"}`, id))
	r.logf("rollback %s: %d success=%v status=%v error=%v", id, code, out["success"], out["status"], out["error"])
	if code != 200 && code != 409 && code != 422 {
		r.fail("rollback %s: %d %v", id, code, out)
	}
}

// toggleExecutor makes the executor fail from now on, or work again.
func (r *modelRun) toggleExecutor() {
	r.stats["executor"]++
	if _, err := os.Stat(r.marker); err == nil {
		if err := os.Remove(r.marker); err != nil {
			r.t.Fatal(err)
		}
		r.logf("executor works again")
		return
	}
	if err := os.WriteFile(r.marker, nil, 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.logf("executor fails from now on")
}

// settle lets the server finish what the step started: it makes the monitor
// re-read every current deployment and evaluate every watch at the clock's
// time (Tick), waits for the automatic rollbacks it started, and repeats
// until two passes in a row leave the database unchanged and no rollback is
// unfinished.
func (r *modelRun) settle() {
	r.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	prev := ""
	for {
		mon := r.srv.Monitor
		mon.Notify(roman.Change{Kind: roman.ChangeDeployment})
		mon.Notify(roman.Change{Kind: roman.ChangeErrors})
		mon.Tick(ctx)
		mon.Wait()
		fp, unfinished := r.fingerprint()
		if fp == prev && unfinished == 0 {
			return
		}
		prev = fp
		if time.Now().After(deadline) {
			r.fail("nothing may stay in progress: still %d unfinished rollback events or in_progress redeploys after 30 s (%s)", unfinished, fp)
		}
		if unfinished > 0 {
			// A rollback's executor is a process of its own: give it a
			// moment instead of spinning.
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// fingerprint summarises what the monitor and the rollbacks write, and
// counts the unfinished rollback events and rollback redeploys.
func (r *modelRun) fingerprint() (string, int) {
	var re, rb, unfinished, redeploys, ds, passed, rolled int
	err := r.srv.Store.SQL().QueryRow(`SELECT
		(SELECT count(*) FROM roman_events),
		(SELECT count(*) FROM rollback_events),
		(SELECT count(*) FROM rollback_events WHERE status IN ('pending', 'in_progress')),
		(SELECT count(*) FROM deployments WHERE status = 'in_progress' AND rollback_from IS NOT NULL),
		(SELECT count(*) FROM deployments),
		(SELECT count(*) FROM deployments WHERE health_check_passed = TRUE),
		(SELECT count(*) FROM deployments WHERE status = 'rolled_back')`).Scan(&re, &rb, &unfinished, &redeploys, &ds, &passed, &rolled)
	if err != nil {
		r.fail("fingerprint: %v", err)
	}
	return fmt.Sprintf("roman_events=%d rollback_events=%d unfinished=%d redeploys=%d deployments=%d passed=%d rolled_back=%d",
		re, rb, unfinished, redeploys, ds, passed, rolled), unfinished + redeploys
}
