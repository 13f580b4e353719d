package roman_test

import (
	"testing"

	"github.com/odyssey-1/roman"
)

func TestShortCommit(t *testing.T) {
	for in, want := range map[string]string{
		"":        "",
		"a7f3b29": "a7f3b29",
		"a7f3b29c0ffee0123456789abcdef0123456789a": "a7f3b29",
		"A7F3B29C0FFEE0123456789ABCDEF0123456789A": "A7F3B29",
		"release-2025-06-01":                       "release-2025-06-01",
	} {
		if got := roman.ShortCommit(in); got != want {
			t.Errorf("ShortCommit(%q) = %q, want %q", in, got, want)
		}
	}
}
