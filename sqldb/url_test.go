package sqldb

import "testing"

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
