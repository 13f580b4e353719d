package roman_test

import (
	"testing"

	"github.com/odyssey-1/roman"
)

func TestParseDatabaseURL(t *testing.T) {
	tests := []struct {
		in, dialect, target string
	}{
		{"sqlite:///var/lib/roman/roman.db", roman.DialectSQLite, "/var/lib/roman/roman.db"},
		{"sqlite://roman.db", roman.DialectSQLite, "roman.db"},
		{"SQLite3://roman.db", roman.DialectSQLite, "roman.db"},
		{"./data/roman.db", roman.DialectSQLite, "./data/roman.db"},
		{"/abs/roman.db", roman.DialectSQLite, "/abs/roman.db"},
		{"sqlite:///x.db?_pragma=cache_size(-2000)", roman.DialectSQLite, "/x.db?_pragma=cache_size(-2000)"},
		{"postgres://u:p@h:5432/db?sslmode=disable", roman.DialectPostgres, "postgres://u:p@h:5432/db?sslmode=disable"},
		{"postgresql://h/db", roman.DialectPostgres, "postgresql://h/db"},
		{"POSTGRES://h/db", roman.DialectPostgres, "postgres://h/db"},
	}
	for _, tc := range tests {
		d, target, err := roman.ParseDatabaseURL(tc.in)
		if err != nil || d != tc.dialect || target != tc.target {
			t.Errorf("roman.ParseDatabaseURL(%q) = %q, %q, %v; want %q, %q", tc.in, d, target, err, tc.dialect, tc.target)
		}
	}
	for _, bad := range []string{"", "sqlite://", "mysql://h/db", "sqlite://?x=1", "sqlite://:memory:", ":memory:", "sqlite://file:x.db?mode=memory"} {
		if _, _, err := roman.ParseDatabaseURL(bad); err == nil {
			t.Errorf("roman.ParseDatabaseURL(%q) accepted", bad)
		}
	}
}
