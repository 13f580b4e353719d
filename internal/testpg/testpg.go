// Package testpg gives tests a real PostgreSQL database.
//
// URL returns the URL of a fresh, empty database on a server that is, in
// order of preference:
//
//  1. the server named by ROMAN_TEST_POSTGRES (a postgres:// URL of a role
//     that may create databases), or
//  2. a throwaway cluster that testpg starts once per test process from the
//     PostgreSQL server binaries installed on the machine
//     (/usr/lib/postgresql/*/bin or initdb on PATH), running as the postgres
//     OS user when the tests run as root, and removes at exit.
//
// When neither is available the test is skipped with a loud message, or
// fails when CI=true so that CI never passes without PostgreSQL. When
// ROMAN_PG_RAN_FILE is set, every database handed out appends a line to that
// file, so a CI script can check that PostgreSQL tests really ran.
//
// Packages that use testpg call it from TestMain so the throwaway cluster is
// stopped when the tests end:
//
//	func TestMain(m *testing.M) { testpg.Main(m) }
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable with the URL of an existing server.
const EnvURL = "ROMAN_TEST_POSTGRES"

// EnvRanFile names the environment variable with the file that records each
// PostgreSQL database handed out.
const EnvRanFile = "ROMAN_PG_RAN_FILE"

// server is the one PostgreSQL server of the test process. It is the only
// package-level mutable state: it lives exactly as long as the process.
var server struct {
	once  sync.Once
	admin string // URL of a database on the server where we may CREATE DATABASE
	err   error
	stop  func() // stops a throwaway cluster; nil for ROMAN_TEST_POSTGRES
}

// Main runs the tests and then stops the throwaway cluster, if one was
// started, before exiting with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the throwaway cluster if one was started. Main calls it; it is
// exported for a TestMain that needs its own exit handling.
func Stop() {
	if server.stop != nil {
		server.stop()
		server.stop = nil
	}
}

// URL returns the URL of a fresh, empty database for t, dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	server.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			server.admin = u
			return
		}
		server.admin, server.stop, server.err = startCluster()
	})
	if server.err != nil {
		unavailable(t, server.err)
	}
	name := "roman_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server.admin)
	if err != nil {
		unavailable(t, fmt.Errorf("connect to the test server: %w", err))
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testpg: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(name) })
	u, err := url.Parse(server.admin)
	if err != nil {
		t.Fatalf("testpg: %s is not a URL", EnvURL)
	}
	u.Path = "/" + name
	record(t, name)
	return u.String()
}

// unavailable fails (CI=true) or loudly skips t because no PostgreSQL server
// could be had.
func unavailable(t testing.TB, err error) {
	t.Helper()
	help := fmt.Sprintf("no PostgreSQL server (%v). Set %s to a postgres:// URL "+
		"or install the PostgreSQL server (apt-get install postgresql).", err, EnvURL)
	if strings.EqualFold(os.Getenv("CI"), "true") {
		t.Fatal("testpg: CI=true, so a missing PostgreSQL is a failure, not a skip: " + help)
	}
	msg := "PostgreSQL tests SKIPPED: " + help
	fmt.Fprintln(os.Stderr, "\n!!! "+msg)
	t.Skip(msg)
}

// dropDatabase drops a test database, ignoring errors: a throwaway cluster
// is removed anyway, and a leftover database on a shared server is harmless.
func dropDatabase(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server.admin)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
	}
}

// record appends a line to $ROMAN_PG_RAN_FILE, when set.
func record(t testing.TB, db string) {
	path := os.Getenv(EnvRanFile)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("testpg: %s: %v", EnvRanFile, err)
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s %s\n", time.Now().UTC().Format(time.RFC3339), t.Name(), db)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
