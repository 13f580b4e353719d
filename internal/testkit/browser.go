// Package testkit holds the helpers roman's tests share: a fake clock, a log
// sink, HTTP helpers, per-store runners and the lookup of external programs
// (Chromium) that a test needs. Only tests import it.
package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium binary for a browser test. Without
// one it skips the test, or fails it under CI=true, where a missing browser
// must never pass as a quiet skip.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is required under CI=true: apt-get install chromium")
	}
	t.Skip("SKIPPING the browser test: no Chromium found (apt-get install chromium)")
	return ""
}
