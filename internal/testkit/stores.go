package testkit

import (
	"path/filepath"
	"testing"

	"github.com/odyssey-1/roman/internal/testpg"
)

// Store names one of roman's two stores and gives a fresh, empty database of
// it per test.
type Store struct {
	// Name is "sqlite" or "postgres", the subtest's name.
	Name string
	// URL returns the URL of a fresh database for t: a SQLite file in t's
	// temporary directory, or a throwaway PostgreSQL database (testpg).
	URL func(t testing.TB) string
}

// Stores are the two stores every store-backed behaviour is tested on.
var Stores = []Store{
	{Name: "sqlite", URL: SQLiteURL},
	{Name: "postgres", URL: testpg.URL},
}

// SQLiteURL returns the URL of a new SQLite file in t's temporary directory.
func SQLiteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "roman.db")
}

// EachStore runs fn as one subtest per store with a fresh database URL. The
// PostgreSQL subtest skips (or fails under CI=true) when no server is
// available; its package's TestMain must call testpg.Main.
func EachStore(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	for _, s := range Stores {
		t.Run(s.Name, func(t *testing.T) { fn(t, s.URL(t)) })
	}
}
