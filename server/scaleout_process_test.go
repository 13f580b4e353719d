package server

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
	"github.com/odyssey-1/roman/internal/testpg"
	"github.com/odyssey-1/roman/monitor"
	"github.com/odyssey-1/roman/rollback"
	"github.com/odyssey-1/roman/sqldb"
)

// TestKillLeaderMidRollback runs two real `roman serve` processes on one
// PostgreSQL and SIGKILLs the one that leads the monitor while it runs a
// rollback whose command executor cannot be repeated. The survivor takes
// the monitor over within seconds and resumes the dead replica's rollback
// exactly once, which fails it as interrupted: the command never runs
// twice and no row is duplicated.
func TestKillLeaderMidRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	url := testpg.URL(t)
	bin := buildRoman(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs.log")
	env := []string{"ROMAN_DATABASE=" + url, "ROMAN_EXECUTOR=command",
		`ROMAN_EXECUTOR_COMMAND=/bin/sh -c 'echo $$ >> ` + runs + `; sleep 30'`}
	a, baseA := serveWith(t, bin, dir, env...)
	awaitMonitor(t, "the first replica to lead", func() bool { return leaderGauge(t, baseA) == "1" })
	b, baseB := serveWith(t, bin, dir, env...)
	defer stop(t, b)
	if leaderGauge(t, baseB) != "0" {
		t.Fatal("two leaders")
	}

	// The leader runs a rollback; it dies while the command runs.
	badID := seedRollback(t, baseA)
	awaitCommand(t, runs)
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	a.Wait()
	awaitMonitor(t, "the takeover", func() bool { return leaderGauge(t, baseB) == "1" })
	took := time.Since(killed)
	t.Logf("failover: the survivor leads %v after SIGKILL of the leader", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Fatalf("takeover took %v", took)
	}

	var ev map[string]any
	awaitMonitor(t, "the dead replica's rollback to be resumed", func() bool {
		_, hist := testkit.Call(t, "GET", baseB+"/auto-rollback/history", crashToken, "")
		ev = hist["rollbacks"].([]any)[0].(map[string]any)
		return ev["status"] != "in_progress"
	})
	t.Logf("resumed and finished %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	meta := ev["metadata"].(map[string]any)
	if ev["status"] != "failed" || meta["reason"] != "interrupted" {
		t.Fatalf("after the takeover: %v", ev)
	}
	if lines := waitFile(t, runs, 1); len(lines) != 1 {
		t.Fatalf("the command ran again: %v", lines)
	}

	st, err := sqldb.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	resumed, _ := st.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: rollback.EventRollbackResumed})
	acquired, _ := st.ListRomanEvents(context.Background(), roman.RomanEventFilter{EventType: monitor.EventLeaderAcquired})
	rbs, _ := st.ListRollbackEvents(context.Background(), roman.RollbackFilter{})
	deps, _ := st.ListDeployments(context.Background(), roman.DeploymentFilter{})
	if len(resumed) != 1 || len(acquired) != 2 || len(rbs) != 1 {
		t.Fatalf("resumed rows %d, leadership rows %d, rollback events %d", len(resumed), len(acquired), len(rbs))
	}
	n := 0
	for _, d := range deps {
		if d.RollbackFrom != nil && *d.RollbackFrom == badID {
			n++
			if d.Status != roman.StatusFailed {
				t.Fatalf("the rollback's deployment is %s", d.Status)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d deployments recorded by the rollback", n)
	}
	if !strings.Contains(acquired[0].Message, "leads the monitor") {
		t.Fatalf("leadership row: %s", acquired[0].Message)
	}
}
