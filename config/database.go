package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/odyssey-1/roman"
)

// Database drivers that ParseDatabaseURL returns.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// ParseDatabaseURL splits a database setting into a driver and the string
// that driver opens:
//
//	sqlite:///abs/path/roman.db   → sqlite, /abs/path/roman.db
//	sqlite://rel/roman.db         → sqlite, rel/roman.db (relative to the working directory)
//	roman.db, ./x.db, /x/y.db     → sqlite, the path as given
//	postgres://… or postgresql:// → postgres, the URL unchanged
//
// Anything after the path of a sqlite URL (a ?query) is kept for the driver.
// Errors never repeat the setting, since a URL may hold a password.
func ParseDatabaseURL(raw string) (driver, dsn string, err error) {
	if raw == "" {
		return "", "", fmt.Errorf("empty database setting")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return DriverSQLite, raw, nil
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		if rest == "" || strings.HasPrefix(rest, "?") {
			return "", "", fmt.Errorf("sqlite URL has no path (want sqlite:///abs/path or sqlite://rel/path)")
		}
		return DriverSQLite, rest, nil
	case "postgres", "postgresql":
		if _, perr := url.Parse(raw); perr != nil {
			return "", "", fmt.Errorf("malformed %s URL (want postgres://user:password@host:port/dbname)", scheme)
		}
		return DriverPostgres, raw, nil
	}
	return "", "", fmt.Errorf("unsupported database scheme %q (want sqlite:// or postgres://)", scheme)
}

// RedactURL returns raw with the password of its user info and the values of
// secret-looking query parameters (password, sslkey, token, ...) replaced by
// [REDACTED], so that a database or webhook URL can be logged. A setting that
// is not a URL with a scheme is returned as is when it holds no '=' or '@'
// (a plain file path), and fully redacted otherwise.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	if !strings.Contains(raw, "://") {
		if strings.ContainsAny(raw, "=@") {
			return roman.Redacted
		}
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return roman.Redacted
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if roman.IsSecretKey(k) {
				q.Set(k, "REDACTED")
			}
		}
		u.RawQuery = q.Encode()
	}
	s := u.String()
	return strings.ReplaceAll(s, "REDACTED", roman.Redacted)
}
