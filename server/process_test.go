package server

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/testkit"
)

// buildRoman compiles the real binary (cmd/roman) once per test.
func buildRoman(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "roman")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/odyssey-1/roman/cmd/roman").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// listeningRE finds the address in the server's "roman listening" log line.
var listeningRE = regexp.MustCompile(`msg="roman listening" addr=(\S+)`)

// startListening starts cmd, a `roman serve` with ROMAN_LISTEN=127.0.0.1:0,
// copies its stderr to the test's, and returns the address the server
// reports it listens on. The server picks its own free port, so no number is
// chosen by the test and then reused.
func startListening(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(os.Stderr, sc.Text())
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		close(addrc)
	}()
	select {
	case addr, ok := <-addrc:
		if ok {
			return addr
		}
		cmd.Wait()
		t.Fatal("roman serve exited before it was listening")
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("roman serve did not start listening")
	}
	return ""
}

// cliRun runs the real roman binary (built by buildRoman) with args and
// returns what it printed on stdout and stderr, and its exit error.
func cliRun(t *testing.T, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

var keyLine = regexp.MustCompile(`^\s+(roman_[A-Za-z0-9_-]{20,})\s*$`)

// runServe starts `roman serve` in dir with no configuration but a listen
// address on a free port and waits until it listens; it returns the server's
// base URL and the admin key it printed, if any.
func runServe(t *testing.T, bin, dir string) (cmd *exec.Cmd, base, key string) {
	t.Helper()
	cmd = exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROMAN_LISTEN=127.0.0.1:0", "ROMAN_DATABASE=", "ROMAN_API_KEYS=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	keyc := make(chan string, 1)
	go func() {
		key := ""
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := keyLine.FindStringSubmatch(sc.Text()); m != nil && key == "" {
				key = m[1]
				keyc <- key
			}
		}
		close(keyc)
	}()
	base = "http://" + startListening(t, cmd)
	select {
	case k := <-keyc:
		return cmd, base, k
	case <-time.After(500 * time.Millisecond):
		return cmd, base, ""
	}
}

func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("roman serve exited with %v after SIGTERM", err)
		}
	case <-time.After(40 * time.Second):
		cmd.Process.Kill()
		t.Fatal("roman serve did not stop after SIGTERM")
	}
}

// TestServeProcess runs the real binary with no configuration: it creates
// ./roman.db, prints an admin key once, serves the API with it, shuts down on
// SIGTERM, and on restart keeps the key without printing a new one.
func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildRoman(t)
	dir := t.TempDir()
	cmd, base, key := runServe(t, bin, dir)
	if key == "" {
		stop(t, cmd)
		t.Fatal("first start printed no admin key")
	}
	if _, err := os.Stat(filepath.Join(dir, "roman.db")); err != nil {
		t.Fatalf("no ./roman.db: %v", err)
	}
	if code, out := testkit.Call(t, "GET", base+"/deployments", key, ""); code != 200 {
		t.Fatalf("admin key refused: %d %v", code, out)
	}
	if code, _ := testkit.Call(t, "GET", base+"/deployments", "nope", ""); code != 401 {
		t.Fatalf("bad key: %d", code)
	}
	if code, out := testkit.Call(t, "GET", base+"/healthz", "", ""); code != 200 || out["status"] != "ok" {
		t.Fatalf("healthz: %d %v", code, out)
	}
	stop(t, cmd)

	cmd, base, again := runServe(t, bin, dir)
	defer stop(t, cmd)
	if again != "" {
		t.Fatal("a second start printed another admin key")
	}
	if code, _ := testkit.Call(t, "GET", base+"/deployments", key, ""); code != 200 {
		t.Fatalf("the first-start key must survive a restart: %d", code)
	}
	if strings.Contains(key, " ") {
		t.Fatal("malformed key")
	}
}
