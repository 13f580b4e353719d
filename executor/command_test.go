package executor_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/executor"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"deploy.sh", []string{"deploy.sh"}},
		{"  ./deploy.sh   --env  prod ", []string{"./deploy.sh", "--env", "prod"}},
		{`/bin/sh -c 'echo "$ROMAN_TARGET_VERSION" | tee out'`, []string{"/bin/sh", "-c", `echo "$ROMAN_TARGET_VERSION" | tee out`}},
		{`a "b c" d`, []string{"a", "b c", "d"}},
		{`a "x\"y\\z\n"`, []string{"a", `x"y\z\n`}},
		{`a\ b c`, []string{"a b", "c"}},
		{`a''b ""`, []string{"ab", ""}},
		{"", nil},
	}
	for _, tc := range tests {
		got, err := executor.SplitCommand(tc.line)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{`a 'b`, `a "b`, `a \`} {
		if _, err := executor.SplitCommand(bad); roman.ErrorCode(err) != roman.EINVALID {
			t.Errorf("SplitCommand(%q): want EINVALID, got %v", bad, err)
		}
	}
}

func newCommand(t *testing.T, line string, timeout time.Duration) roman.Executor {
	t.Helper()
	c, err := executor.NewCommand(line, timeout, executor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCommandEnvironment runs a real process: it gets the target in ROMAN_*
// variables, none of roman's own ROMAN_* settings, and no shell expands its
// arguments.
func TestCommandEnvironment(t *testing.T) {
	t.Setenv("ROMAN_EXECUTOR_GITHUB_TOKEN", "ghp_must_not_leak")
	t.Setenv("ROMAN_DATABASE", "postgres://roman:hunter2@db/roman")
	t.Setenv("UNRELATED_VAR", "kept")
	c := newCommand(t, `env`, time.Minute)
	var progress []string
	req := request()
	req.Progress = func(d json.RawMessage) { progress = append(progress, string(d)) }
	raw, err := c.Execute(context.Background(), req)
	if err != nil {
		t.Fatalf("env failed: %v %s", err, raw)
	}
	d := decode(t, raw)
	out := d["output"].(string)
	for _, want := range []string{
		"ROMAN_TARGET_VERSION=v2.5.2", "ROMAN_TARGET_COMMIT=a7f3b29", "ROMAN_TARGET_BRANCH=main",
		"ROMAN_TARGET_DEPLOYMENT_ID=7d1e2f3a-4b5c-4d6e-8f70-819203a4b5c6",
		"ROMAN_DEPLOYMENT_ID=9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "ROMAN_ENVIRONMENT=production",
		"ROMAN_EVENT_ID=5f0c8a52-3b1e-4f7a-9c11-2d3e4f5a6b7c", "ROMAN_BAD_VERSION=v2.5.3", "ROMAN_BAD_COMMIT=b81c4d0",
		"ROMAN_BAD_DEPLOYMENT_ID=0b6c3c52-4a8e-4c55-9d0e-2f4f7a1d8e11", "UNRELATED_VAR=kept",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("environment lacks %s:\n%s", want, out)
		}
	}
	for _, leak := range []string{"ghp_must_not_leak", "hunter2", "ROMAN_DATABASE", "ROMAN_EXECUTOR_GITHUB_TOKEN"} {
		if strings.Contains(out, leak) {
			t.Errorf("roman's own setting %q reached the command", leak)
		}
	}
	if d["exit_code"] != 0.0 || d["executor"] != "command" || d["command"] != "env" {
		t.Errorf("detail: %v", d)
	}
	if len(progress) != 1 || !strings.Contains(progress[0], `"pid"`) {
		t.Errorf("progress: %v", progress)
	}

	raw, err = newCommand(t, `echo $HOME "*"`, time.Minute).Execute(context.Background(), request())
	if err != nil || decode(t, raw)["output"] != "$HOME *\n" {
		t.Errorf("no shell should expand the arguments: %v %s", err, raw)
	}
}

func TestCommandFailure(t *testing.T) {
	c := newCommand(t, `/bin/sh -c 'echo deploying "$ROMAN_TARGET_VERSION"; echo boom >&2; exit 3'`, time.Minute)
	raw, err := c.Execute(context.Background(), request())
	if err == nil || !strings.Contains(roman.ErrorMessage(err), "exit status 3") {
		t.Fatalf("want exit status 3, got %v", err)
	}
	d := decode(t, raw)
	if d["exit_code"] != 3.0 || d["output"] != "deploying v2.5.2\nboom\n" {
		t.Errorf("detail: %v", d)
	}

	_, err = newCommand(t, "/nonexistent/deploy.sh", time.Minute).Execute(context.Background(), request())
	if err == nil || !strings.Contains(roman.ErrorMessage(err), "could not run") {
		t.Errorf("missing binary: %v", err)
	}
}

// TestCommandOutputCap keeps the last 64 KiB of a chatty command.
func TestCommandOutputCap(t *testing.T) {
	c := newCommand(t, `/bin/sh -c 'i=0; while [ $i -lt 3000 ]; do printf "%07d-abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-abcdefghijklmn\n" $i; i=$((i+1)); done'`, time.Minute)
	raw, err := c.Execute(context.Background(), request())
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, raw)
	out := d["output"].(string)
	if len(out) != executor.MaxOutputBytes || d["output_truncated"] != true || d["output_bytes"] != 3000*77.0 {
		t.Fatalf("len %d, truncated %v, bytes %v", len(out), d["output_truncated"], d["output_bytes"])
	}
	if !strings.HasSuffix(out, "0002999-abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-abcdefghijklmn\n") {
		t.Errorf("the tail was not kept: ...%s", out[len(out)-100:])
	}
}

// TestCommandTimeoutKillsProcessGroup starts a command whose child would
// outlive it; at the timeout the whole group is killed.
func TestCommandTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	c := newCommand(t, `/bin/sh -c 'sleep 60 & echo $! > `+pidFile+`; echo started; wait'`, 300*time.Millisecond)
	raw, err := c.Execute(context.Background(), request())
	if err == nil || !strings.Contains(roman.ErrorMessage(err), "timed out") {
		t.Fatalf("want a timeout, got %v", err)
	}
	d := decode(t, raw)
	if d["timed_out"] != true || d["output"] != "started\n" {
		t.Errorf("detail: %v", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's child %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCommandNotResumable(t *testing.T) {
	if newCommand(t, "true", time.Minute).Resumable(json.RawMessage(`{"executor":"command"}`)) {
		t.Fatal("an arbitrary command must not be resumed after a crash")
	}
	if _, err := executor.NewCommand("  ", time.Minute, executor.Options{}); roman.ErrorCode(err) != roman.EINVALID {
		t.Fatalf("empty command: %v", err)
	}
}

// TestRedactCommand keeps the program and hides every argument.
func TestRedactCommand(t *testing.T) {
	for line, want := range map[string]string{
		`/usr/local/bin/deploy --api-token=tok_123 production`: "/usr/local/bin/deploy [REDACTED] [REDACTED]",
		`/bin/sh -c 'deploy.sh "$ROMAN_TARGET_VERSION"'`:       "/bin/sh [REDACTED] [REDACTED]",
		`./deploy.sh`:        "./deploy.sh",
		`deploy 'unbalanced`: "[REDACTED]",
		``:                   "",
	} {
		if got := executor.RedactCommand(line); got != want {
			t.Errorf("RedactCommand(%q) = %q, want %q", line, got, want)
		}
	}
}
