package server

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/odyssey-1/roman/internal/testkit"
)

// TestDatabaseFilesArePrivate runs the real binary under a permissive umask
// (002, as many login shells set it) with the default SQLite store: the
// database file and its WAL and shared-memory files are readable by their
// owner only (0600), both while the server runs and after it stops.
func TestDatabaseFilesArePrivate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildRoman(t)
	dir := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", `umask 002; exec "$0" serve`, bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROMAN_LISTEN=127.0.0.1:0", "ROMAN_DATABASE=", "ROMAN_API_KEYS=admin:"+crashToken)
	base := "http://" + startListening(t, cmd)
	if code, out := testkit.Call(t, "POST", base+"/deployments", crashToken, `{"environment":"production","version":"v1","git_commit":"a","git_branch":"main","status":"success"}`); code != 201 {
		t.Fatalf("record: %d %v", code, out)
	}
	check := func(when string, names ...string) {
		t.Helper()
		for _, name := range names {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("%s: %v", when, err)
				continue
			}
			t.Logf("%s: %s %v", when, name, fi.Mode().Perm())
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s is %v, want -rw-------", when, name, fi.Mode().Perm())
			}
		}
	}
	check("while serving", "roman.db", "roman.db-wal", "roman.db-shm")
	stop(t, cmd)
	check("after stopping", "roman.db")
}
