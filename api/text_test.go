package api

import "testing"

func TestTextProblem(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		stored bool
		want   string
	}{
		{`"plain"`, true, ""},
		{`{"a":"\u0000"}`, false, "contains \\u0000 (NUL), which cannot be stored"},
		{`{"a\u0000":1}`, true, "contains \\u0000 (NUL), which cannot be stored"},
		{`"C:\\u0000dir"`, true, ""}, // an escaped backslash, then text
		{`"\\\u0000"`, true, "contains \\u0000 (NUL), which cannot be stored"},
		{`"\u00001"`, false, "contains \\u0000 (NUL), which cannot be stored"},
		{`"\u0001\t\n"`, true, ""},
		{`"\ud83d\ude00"`, true, ""},
		{`"\uD83D\uDE00"`, true, ""},
		{`"\ud800"`, true, "contains an unpaired UTF-16 surrogate escape"},
		{`"\ud800x"`, true, "contains an unpaired UTF-16 surrogate escape"},
		{`"\ud800\u0041"`, true, "contains an unpaired UTF-16 surrogate escape"},
		{`"\udc00\ud800"`, true, "contains an unpaired UTF-16 surrogate escape"},
		{`"\ud800"`, false, ""}, // decoded into a string: becomes U+FFFD
		{"\"a\xffb\"", true, "not valid UTF-8"},
		{"\"a\xffb\"", false, ""},
	} {
		if got := textProblem([]byte(tc.raw), tc.stored); got != tc.want {
			t.Errorf("textProblem(%s, %v) = %q, want %q", tc.raw, tc.stored, got, tc.want)
		}
	}
}
