package server

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
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

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
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

// runServe starts `roman serve` in dir with no configuration but the listen
// address and waits until it answers; it returns the admin key it printed,
// if any.
func runServe(t *testing.T, bin, dir, addr string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROMAN_LISTEN="+addr, "ROMAN_DATABASE=", "ROMAN_API_KEYS=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
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
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("roman serve did not start listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case k := <-keyc:
		return cmd, k
	case <-time.After(500 * time.Millisecond):
		return cmd, ""
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
	addr := freePort(t)
	cmd, key := runServe(t, bin, dir, addr)
	if key == "" {
		stop(t, cmd)
		t.Fatal("first start printed no admin key")
	}
	if _, err := os.Stat(filepath.Join(dir, "roman.db")); err != nil {
		t.Fatalf("no ./roman.db: %v", err)
	}
	if code, out := call(t, "GET", "http://"+addr+"/deployments", key, ""); code != 200 {
		t.Fatalf("admin key refused: %d %v", code, out)
	}
	if code, _ := call(t, "GET", "http://"+addr+"/deployments", "nope", ""); code != 401 {
		t.Fatalf("bad key: %d", code)
	}
	if code, out := call(t, "GET", "http://"+addr+"/healthz", "", ""); code != 200 || out["status"] != "ok" {
		t.Fatalf("healthz: %d %v", code, out)
	}
	stop(t, cmd)

	cmd, again := runServe(t, bin, dir, addr)
	defer stop(t, cmd)
	if again != "" {
		t.Fatal("a second start printed another admin key")
	}
	if code, _ := call(t, "GET", "http://"+addr+"/deployments", key, ""); code != 200 {
		t.Fatalf("the first-start key must survive a restart: %d", code)
	}
	if strings.Contains(key, " ") {
		t.Fatal("malformed key")
	}
}
