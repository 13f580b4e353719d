package demo

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/testkit"
)

var demoDirRE = regexp.MustCompile(`throwaway database in (\S+)`)

// TestDemo plays the whole scenario at 50x speed through the real server
// and checks the narration reaches the end, and that nothing is left behind.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := &testkit.Sink{}
	if err := Run(ctx, Options{Speed: 50, Listen: "127.0.0.1:0", Stay: false}, out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	text := out.String()
	t.Log("\n" + text)
	for _, want := range []string{
		"/app/admin/roman-dashboard", "Read key:  roman_demo_read_",
		"v2.5.3 deployed to production",
		"The error rate spikes",
		"R.O.M.A.N. detects the threshold breach: High error rate: ",
		"trigger: automatic",
		"Constitutional validation: PASSED",
		"Rollback target: v2.5.2 (commit a7f3b29)",
		"Rollback complete (",
		"Recovered: v2.5.2 runs at 0 errors/minute (healthy)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the narration lacks %q", want)
		}
	}
	if !strings.Contains(strings.ToLower(text), "rollback complete") {
		t.Error(`the narration never reaches "rollback complete"`)
	}
	if strings.Contains(text, "\r") {
		t.Error("the progress line must not be drawn when the output is not a terminal")
	}
	m := demoDirRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatal("the narration does not name its temporary directory")
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the temporary directory %s is left behind: %v", m[1], err)
	}
}

// TestDemoJudgeShadow plays the scenario with the baseline judge in shadow
// mode: the threshold judge still rolls back, and the narration shows the
// shadow judge's verdicts on the bad release, read back from the server.
func TestDemoJudgeShadow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := &testkit.Sink{}
	if err := Run(ctx, Options{Speed: 50, Listen: "127.0.0.1:0", JudgeShadow: true}, out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	text := out.String()
	t.Log("\n" + text)
	if !strings.Contains(text, "R.O.M.A.N. detects the threshold breach") || !strings.Contains(text, "Rollback complete (") {
		t.Error("the threshold judge did not act as in the seed's scenario")
	}
	if !strings.Contains(text, "Shadow judge (baseline, not acting): ") {
		t.Error("the narration shows no verdict of the shadow judge")
	}
}

// TestDemoInterrupted cancels the demo mid-scenario (Ctrl-C) and checks it
// stops cleanly and deletes its directory.
func TestDemoInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &testkit.Sink{}
	started := out.Seen("deployed to production")
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Speed: 10, Listen: "127.0.0.1:0", Stay: true}, out) }()
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatalf("the demo did not start:\n%s", out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted demo: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the demo did not stop after Ctrl-C")
	}
	text := out.String()
	if !strings.Contains(text, "Interrupted") {
		t.Errorf("no word of the interruption:\n%s", text)
	}
	m := demoDirRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatal("the narration does not name its temporary directory")
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the temporary directory %s is left behind: %v", m[1], err)
	}
}

func TestDemoRejectsBadSpeed(t *testing.T) {
	for _, speed := range []float64{0, 0.5, 5000} {
		if err := Run(context.Background(), Options{Speed: speed, Listen: "127.0.0.1:0"}, &bytes.Buffer{}); err == nil ||
			!strings.Contains(err.Error(), "--speed") {
			t.Errorf("speed %v: %v", speed, err)
		}
	}
}
