package roman_test

import (
	"reflect"
	"testing"

	"github.com/odyssey-1/roman"
)

func TestNormalizeMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"user 42 not found", "user <n> not found"},
		{"timeout after 1.5s", "timeout after <n>s"},
		{"timeout after 1.5 s", "timeout after <n> s"},
		{"order -17 has total 3.25", "order -<n> has total <n>"},
		{"object 0x7ffd3a2b freed twice", "object <hex> freed twice"},
		{"request 5f2b9c7e1a failed", "request <hex> failed"},
		{"commit abc1234def pushed", "commit <hex> pushed"},
		{"decade failed", "decade failed"},
		{"v2 api", "v2 api"},
		{"session 123e4567-e89b-12d3-a456-426614174000 expired", "session <uuid> expired"},
		{"SESSION 123E4567-E89B-12D3-A456-426614174000", "SESSION <uuid>"},
		{`key "orders:991" missing`, "key <str> missing"},
		{`key 'a\'b' missing`, "key <str> missing"},
		{"no route `GET /x`", "no route <str>"},
		{"mail to bob.smith+tag@mail.example.com bounced", "mail to <email> bounced"},
		{"  many\t spaces\n here ", "many spaces here"},
		{"", ""},
	} {
		if got := roman.NormalizeMessage(tc.in); got != tc.want {
			t.Errorf("NormalizeMessage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTopFrames(t *testing.T) {
	for _, tc := range []struct {
		name, stack string
		want        []string
	}{
		{"javascript", "TypeError: x is undefined\n    at handler (/app/src/api.js:42:13)\n    at next (/app/node_modules/r.js:7:1)\n    at run (/app/src/main.js:9:2)\n    at boot (/app/src/main.js:1:1)",
			[]string{"TypeError: x is undefined", "at handler (/app/src/api.js:<n>:<n>)", "at next (/app/node_modules/r.js:<n>:<n>)"}},
		{"go", "goroutine 1 [running]:\nmain.handler(0xc000010000)\n\t/app/main.go:42 +0x1d\nmain.main()\n\t/app/main.go:10 +0x25\n",
			[]string{"main.handler(<hex>)", "/app/main.go:<n>", "main.main()"}},
		{"python", "Traceback (most recent call last):\n  File \"/app/a.py\", line 10, in main\n    run()\n  File \"/app/b.py\", line 3, in run\n    raise KeyError('x')\nKeyError: 'x'",
			[]string{"raise KeyError('x')", `File "/app/b.py", line <n>, in run`, "run()"}},
		{"empty", "", nil},
	} {
		got := roman.TopFrames(tc.stack, 3)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: TopFrames = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := roman.Fingerprint("KeyError", "user 42 not found", "at f (/app/x.js:1:2)\nat g (/app/y.js:3:4)")
	b := roman.Fingerprint("KeyError", "user 7 not found", "at f (/app/x.js:10:20)\nat g (/app/y.js:30:40)")
	if a != b || len(a) != 16 {
		t.Errorf("same error, other ids and lines: %q and %q", a, b)
	}
	for name, other := range map[string]string{
		"type":    roman.Fingerprint("ValueError", "user 42 not found", "at f (/app/x.js:1:2)\nat g (/app/y.js:3:4)"),
		"message": roman.Fingerprint("KeyError", "order 42 not found", "at f (/app/x.js:1:2)\nat g (/app/y.js:3:4)"),
		"frames":  roman.Fingerprint("KeyError", "user 42 not found", "at h (/app/x.js:1:2)\nat g (/app/y.js:3:4)"),
	} {
		if other == a {
			t.Errorf("another %s gives the same fingerprint %q", name, a)
		}
	}
	// Frames below the top three do not matter.
	deep := roman.Fingerprint("E", "m", "a\nb\nc\nd")
	if deep != roman.Fingerprint("E", "m", "a\nb\nc\nzzz") {
		t.Error("a fourth frame changed the fingerprint")
	}
}
