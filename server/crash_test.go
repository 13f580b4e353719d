package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/sqldb"
)

const crashToken = "crash-test-admin-token"

// serveWith starts `roman serve` in dir with env added and waits until it
// listens.
func serveWith(t *testing.T, bin, dir string, env ...string) (cmd *exec.Cmd, base string) {
	t.Helper()
	cmd = exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROMAN_LISTEN=127.0.0.1:0", "ROMAN_DATABASE=", "ROMAN_API_KEYS=admin:"+crashToken, "ROMAN_VERIFY_WINDOW=0s")
	cmd.Env = append(cmd.Env, env...)
	return cmd, "http://" + startListening(t, cmd)
}

// waitFile waits until path holds at least n lines and returns them.
func waitFile(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if lines := strings.Fields(string(b)); len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never got %d lines", path, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedRollback records the seed's two deployments and starts a rollback of
// the bad one in the background (its answer does not matter: the server
// may die first).
func seedRollback(t *testing.T, base string) string {
	t.Helper()
	testkit.Call(t, "POST", base+"/deployments", crashToken, `{"environment":"production","version":"v2.5.2","git_commit":"a7f3b29","git_branch":"main","status":"success","health_check_passed":true,"deployed_at":"2025-12-15T13:45:00Z"}`)
	_, bad := testkit.Call(t, "POST", base+"/deployments", crashToken, `{"environment":"production","version":"v2.5.3","git_commit":"b81c4d0","git_branch":"main","status":"success"}`)
	badID := bad["deployment_id"].(string)
	go func() {
		req, _ := http.NewRequest("POST", base+"/auto-rollback", strings.NewReader(`{"deployment_id":"`+badID+`","trigger_reason":"Critical bug in payment flow"}`))
		req.Header.Set("Authorization", "Bearer "+crashToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	return badID
}

// awaitCommand waits for the executor command to write its process id
// into runs. The command outlives a killed server (its own process group):
// it is ended when the test is done.
func awaitCommand(t *testing.T, runs string) {
	t.Helper()
	pids := waitFile(t, runs, 1)
	t.Cleanup(func() {
		if pid, err := strconv.Atoi(pids[0]); err == nil {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
}

// audit reads every roman_events row and the rollback events straight from
// the database file.
func audit(t *testing.T, dir string) ([]*roman.RomanEvent, []*roman.RollbackEvent, []*roman.Deployment) {
	t.Helper()
	ctx := context.Background()
	st, err := sqldb.Open(ctx, "sqlite://"+filepath.Join(dir, "roman.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, _ := st.ListRomanEvents(ctx, roman.RomanEventFilter{Limit: 1000})
	rbs, _ := st.ListRollbackEvents(ctx, roman.RollbackFilter{Limit: 1000})
	deps, _ := st.ListDeployments(ctx, roman.DeploymentFilter{Limit: 1000})
	return evs, rbs, deps
}

// TestKillMidRollback is the crash test: the real binary, a slow
// command executor, SIGKILL while the command runs, restart. The event is
// failed with reason "interrupted" (a command may not be run twice), the
// command is not run again, no deployment row is duplicated, every audit row
// written before the crash is still there, and a critical roman_events row
// (the alert) says so.
func TestKillMidRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildRoman(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs.log")
	env := []string{"ROMAN_EXECUTOR=command", `ROMAN_EXECUTOR_COMMAND=/bin/sh -c 'echo $$ >> ` + runs + `; sleep 30'`}
	cmd, base := serveWith(t, bin, dir, env...)
	badID := seedRollback(t, base)
	awaitCommand(t, runs)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	before, rbs, deps := audit(t, dir)
	if len(rbs) != 1 || rbs[0].Status != roman.RollbackInProgress || len(rbs[0].RollbackSteps) != 5 {
		t.Fatalf("before restart: %+v", rbs)
	}
	eventID := rbs[0].EventID

	cmd, base = serveWith(t, bin, dir, env...)
	ev := awaitResumed(t, base)
	meta := ev["metadata"].(map[string]any)
	if ev["event_id"] != eventID || ev["status"] != "failed" || meta["reason"] != "interrupted" || ev["completed_at"] == nil {
		t.Fatalf("after restart: %v", ev)
	}
	if lines := waitFile(t, runs, 1); len(lines) != 1 {
		t.Fatalf("the command ran again after the restart: %v", lines)
	}
	_, list := testkit.Call(t, "GET", base+"/deployments?environment=production", crashToken, "")
	var rollbackRows []map[string]any
	for _, d := range list["deployments"].([]any) {
		if dm := d.(map[string]any); dm["rollback_from"] == badID {
			rollbackRows = append(rollbackRows, dm)
		}
	}
	if len(list["deployments"].([]any)) != len(deps) || len(rollbackRows) != 1 || rollbackRows[0]["status"] != "failed" {
		t.Fatalf("deployments after restart: %v", list)
	}
	stop(t, cmd)
	after, _, _ := audit(t, dir)
	kept := map[string]bool{}
	for _, e := range after {
		kept[e.EventID] = true
	}
	for _, e := range before {
		if !kept[e.EventID] {
			t.Errorf("audit row lost: %+v", e)
		}
	}
	var alerted bool
	for _, e := range after {
		alerted = alerted || e.EventType == roman.EventRollbackFailed && e.Severity == roman.SeverityCritical && strings.Contains(e.Message, "interrupted")
	}
	if !alerted {
		raw, _ := json.Marshal(after)
		t.Fatalf("no critical interrupted row: %s", raw)
	}
}

// TestGracefulShutdownFinishesRollback: SIGTERM while the executor runs
// waits for the rollback to finish (within the drain bound), then exits 0.
func TestGracefulShutdownFinishesRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildRoman(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs.log")
	cmd, base := serveWith(t, bin, dir, "ROMAN_EXECUTOR=command", `ROMAN_EXECUTOR_COMMAND=/bin/sh -c 'echo $$ >> `+runs+`; sleep 2'`)
	seedRollback(t, base)
	waitFile(t, runs, 1)
	stop(t, cmd) // SIGTERM; fails the test unless the process exits 0 in time
	_, rbs, _ := audit(t, dir)
	if len(rbs) != 1 || rbs[0].Status != roman.RollbackSuccess {
		t.Fatalf("after graceful shutdown: %+v", rbs[0])
	}
}

// TestShutdownWithinBudget: SIGTERM while a command executor runs a long
// redeploy, with shutdown_timeout 3s. The process exits within the budget
// (an orchestrator's SIGKILL would come later), with status 0; the rollback
// is parked, and the restarted server fails it as interrupted (a command
// may not run twice) without running the command again.
func TestShutdownWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const budget = 3 * time.Second
	bin := buildRoman(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs.log")
	env := []string{"ROMAN_EXECUTOR=command", `ROMAN_EXECUTOR_COMMAND=/bin/sh -c 'echo $$ >> ` + runs + `; sleep 60'`}
	cmd, base := serveWith(t, bin, dir, append(env, "ROMAN_SHUTDOWN_TIMEOUT="+budget.String())...)
	seedRollback(t, base)
	awaitCommand(t, runs)

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatal("roman serve did not exit within 90s of SIGTERM")
	}
	took := time.Since(sent)
	t.Logf("SIGTERM to exit: %s (shutdown_timeout %s)", took.Round(time.Millisecond), budget)
	// The budget plus a generous allowance for process start-up noise on a
	// loaded machine; the unbounded shutdown took over 30 s.
	if took > budget+3*time.Second {
		t.Fatalf("roman serve took %s to exit after SIGTERM; shutdown_timeout is %s", took, budget)
	}
	if err != nil {
		t.Fatalf("roman serve exited with %v after SIGTERM", err)
	}
	_, rbs, _ := audit(t, dir)
	if len(rbs) != 1 || rbs[0].Status != roman.RollbackInProgress {
		t.Fatalf("after shutdown, want the rollback parked in_progress: %+v", rbs)
	}

	cmd, base = serveWith(t, bin, dir, env...)
	defer stop(t, cmd)
	ev := awaitResumed(t, base)
	if meta, _ := ev["metadata"].(map[string]any); ev["status"] != "failed" || meta["reason"] != "interrupted" {
		t.Fatalf("after restart: %v", ev)
	}
	if lines := waitFile(t, runs, 1); len(lines) != 1 {
		t.Fatalf("the command ran again after the restart: %v", lines)
	}
}

// awaitResumed polls the newest rollback of the server at base until it is
// no longer in_progress (a restarted server resumes or fails what the
// previous process left unfinished), for at most 30 seconds, and returns it.
func awaitResumed(t *testing.T, base string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, hist := testkit.Call(t, "GET", base+"/auto-rollback/history", crashToken, "")
		ev := hist["rollbacks"].([]any)[0].(map[string]any)
		if ev["status"] != "in_progress" || time.Now().After(deadline) {
			return ev
		}
		time.Sleep(50 * time.Millisecond)
	}
}
