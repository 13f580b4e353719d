package sqldb

import "testing"

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, dialect, target string
	}{
		{"sqlite:///var/lib/roman/roman.db", DialectSQLite, "/var/lib/roman/roman.db"},
		{"sqlite://roman.db", DialectSQLite, "roman.db"},
		{"SQLite3://roman.db", DialectSQLite, "roman.db"},
		{"./data/roman.db", DialectSQLite, "./data/roman.db"},
		{"/abs/roman.db", DialectSQLite, "/abs/roman.db"},
		{"sqlite:///x.db?_pragma=cache_size(-2000)", DialectSQLite, "/x.db?_pragma=cache_size(-2000)"},
		{"postgres://u:p@h:5432/db?sslmode=disable", DialectPostgres, "postgres://u:p@h:5432/db?sslmode=disable"},
		{"postgresql://h/db", DialectPostgres, "postgresql://h/db"},
		{"POSTGRES://h/db", DialectPostgres, "postgres://h/db"},
	}
	for _, tc := range tests {
		d, target, err := ParseURL(tc.in)
		if err != nil || d != tc.dialect || target != tc.target {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tc.in, d, target, err, tc.dialect, tc.target)
		}
	}
	for _, bad := range []string{"", "sqlite://", "mysql://h/db", "sqlite://?x=1", "sqlite://:memory:", ":memory:", "sqlite://file:x.db?mode=memory"} {
		if _, _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ?::jsonb", "x = '?' AND y = $1::jsonb"},
		{`"we?ird" = ? AND s = 'it''s ?' AND t = ?`, `"we?ird" = $1 AND s = 'it''s ?' AND t = $2`},
	}
	for _, tc := range tests {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
