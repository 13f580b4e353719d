package roman

import (
	"net/url"
	"strings"
)

// Database dialects.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// ParseDatabaseURL splits a database URL into its dialect and the target the driver
// opens: the file path for SQLite, the URL itself for PostgreSQL. Accepted
// forms are sqlite:///abs/path.db, sqlite://relative.db (also sqlite3://), a
// bare file path, and postgres:// or postgresql:// URLs. A query string on a
// SQLite URL is kept as extra driver parameters.
func ParseDatabaseURL(raw string) (dialect, target string, err error) {
	if raw == "" {
		return "", "", Errorf(EINVALID, "database URL is empty")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	switch {
	case !ok:
		target = raw
	case strings.EqualFold(scheme, "postgres"), strings.EqualFold(scheme, "postgresql"):
		if _, err := url.Parse(raw); err != nil {
			// The URL may hold a password: the message does not repeat it.
			return "", "", Errorf(EINVALID, "database URL is not a valid postgres URL")
		}
		return DialectPostgres, strings.ToLower(scheme) + "://" + rest, nil
	case strings.EqualFold(scheme, "sqlite"), strings.EqualFold(scheme, "sqlite3"):
		target = rest
	default:
		return "", "", Errorf(EINVALID, "unsupported database URL scheme %q (want sqlite:// or postgres://)", scheme)
	}
	path, _, _ := strings.Cut(target, "?")
	switch {
	case path == "":
		return "", "", Errorf(EINVALID, "database URL names no SQLite file")
	case strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:"):
		// The store keeps two pools (reads and the one writer), which must
		// see the same database: only a file qualifies.
		return "", "", Errorf(EINVALID, "SQLite database must be a file path, not %q", path)
	}
	return DialectSQLite, target, nil
}
