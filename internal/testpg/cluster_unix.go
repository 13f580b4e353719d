//go:build unix

package testpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// watchdog runs postgres in the background and stops it (fast shutdown) when
// its standard input closes, that is when the test process exits for any
// reason, even a kill -9; it then removes the cluster's directory.
const watchdog = `pg="$1"; shift
"$pg" "$@" </dev/null & pid=$!
trap 'kill -INT "$pid"' TERM
read _
kill -INT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$TESTPG_DIR"`

// startCluster creates and starts a throwaway PostgreSQL cluster on a free
// loopback port and returns the URL of its postgres database and the
// function that stops it and removes its files.
func startCluster() (admin string, stop func(), err error) {
	bin, err := findBin()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "roman-testpg-")
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	attr := &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run it as the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", nil, fmt.Errorf("running as root and there is no postgres OS user to run initdb as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", nil, err
		}
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "--auth=trust", "--no-sync",
		"-U", "postgres", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = attr
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("initdb: %v: %s", err, lastLines(out))
	}
	for attempt := 0; ; attempt++ {
		admin, stop, err = startPostgres(bin, dir, data, attr)
		if err == nil || attempt == 2 {
			return admin, stop, err
		}
	}
}

// startPostgres starts the server of the cluster in data under the watchdog
// and waits until it accepts connections.
func startPostgres(bin, dir, data string, attr *syscall.SysProcAttr) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	defer logFile.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdog, "sh", filepath.Join(bin, "postgres"),
		"-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=500", "-c", "shared_buffers=32MB")
	cmd.Env = append(os.Environ(), "TESTPG_DIR="+dir)
	cmd.Dir = dir
	cmd.SysProcAttr = attr
	cmd.Stdout, cmd.Stderr = logFile, logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		os.RemoveAll(dir)
	}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			return "", nil, fmt.Errorf("postgres exited at start: %s", lastLines(out))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, admin)
		if err == nil {
			conn.Close(ctx)
			cancel()
			return admin, stop, nil
		}
		cancel()
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("postgres did not accept connections within a minute: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findBin returns the directory of the newest installed PostgreSQL server
// binaries.
func findBin() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		matches = append(matches, p)
	}
	for _, m := range matches {
		dir := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, postgres) found in /usr/lib/postgresql/*/bin or on PATH")
}

// version returns the major version in /usr/lib/postgresql/<v>/bin/initdb.
func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// freePort returns a TCP port on the loopback interface that was free a
// moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lastLines returns the end of a command's output for an error message.
func lastLines(out []byte) string {
	const max = 2000
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return string(out)
}
