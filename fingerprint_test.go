package roman_test

import (
	"reflect"
	"testing"
	"time"

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
		{"port 8080 refused after 3 retries (took 12.75ms)", "port <n> refused after <n> retries (took <n>ms)"},
		{"user_id=12345 order=998877", "user_id=<n> order=<n>"},
		{"trace 4bf92f3577b34da6a3ce929d0e0e4736 lost", "trace <hex> lost"},
		{"deadbeef and cafebabe are words", "deadbeef and cafebabe are words"},
		{`user "bob" not found (id 5f2b9c7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f)`, "user <str> not found (id <uuid>)"},
		{"reset sent to Ops-Team@corp.example.org at 10:42", "reset sent to <email> at <n>:<n>"},
		{`quoted uuid "123e4567-e89b-12d3-a456-426614174000"`, "quoted uuid <str>"},
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
		{"java", "java.lang.NullPointerException: x\n\tat com.shop.Cart.total(Cart.java:118)\n\tat com.shop.Api.checkout(Api.java:42)\n\tat java.base/java.lang.Thread.run(Thread.java:833)",
			[]string{"java.lang.NullPointerException: x", "at com.shop.Cart.total(Cart.java:<n>)", "at com.shop.Api.checkout(Api.java:<n>)"}},
		{"windows line ends, blank lines", "at a (/x.js:1:1)\r\n\r\n  at b (/y.js:22:3)\r\n", []string{"at a (/x.js:<n>:<n>)", "at b (/y.js:<n>:<n>)"}},
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

// TestNewErrorsSignal: the new_errors signal fires at new_errors_min events,
// as a warning (warn, or no action set) or as a trigger (rollback), after
// the error triggers in order; 0 switches it off; the health object carries
// the counts whenever there are any.
func TestNewErrorsSignal(t *testing.T) {
	now := time.Date(2025, 12, 15, 14, 0, 0, 0, time.UTC)
	th := roman.DefaultThresholds()
	at := func(events, fps int64) roman.HealthInputs {
		return roman.HealthInputs{NewErrors: roman.NewErrorCounts{Events: events, Fingerprints: fps}}
	}
	const text = "New errors: 12 events of 3 fingerprints not seen before this release"
	if got := roman.NewErrorsReason(roman.NewErrorCounts{Events: 12, Fingerprints: 3}); got != text {
		t.Errorf("reason %q", got)
	}
	if got := roman.NewErrorsReason(roman.NewErrorCounts{Events: 1, Fingerprints: 1}); got != "New errors: 1 event of 1 fingerprint not seen before this release" {
		t.Errorf("singular reason %q", got)
	}

	h := roman.EvaluateHealth(at(9, 1), th, now)
	if h.Status != roman.HealthHealthy || len(h.Warnings) != 0 || h.NewErrors == nil || h.NewErrors.Events != 9 {
		t.Errorf("9 events: %+v", h)
	}
	h = roman.EvaluateHealth(at(12, 3), th, now)
	if h.Status != roman.HealthDegraded || h.Reason != "" || len(h.Warnings) != 1 || h.Warnings[0] != text ||
		roman.WarningSignal(h.Warnings[0]) != roman.SignalNewErrors {
		t.Errorf("12 events, warn: %+v", h)
	}
	th.NewErrorsAction = ""
	if h := roman.EvaluateHealth(at(12, 3), th, now); len(h.Warnings) != 1 || h.Reason != "" {
		t.Errorf("no action set is warn: %+v", h)
	}
	th.NewErrorsAction = roman.NewErrorsRollback
	h = roman.EvaluateHealth(at(12, 3), th, now)
	if h.Status != roman.HealthUnhealthy || h.Reason != text || len(h.Warnings) != 0 {
		t.Errorf("12 events, rollback: %+v", h)
	}
	in := at(12, 3)
	in.ErrorsLastMinute = 9
	if h := roman.EvaluateHealth(in, th, now); h.Reason != "High error rate: 9 errors/minute" {
		t.Errorf("the error rate comes first: %q", h.Reason)
	}
	th.NewErrorsMin = 0
	if h := roman.EvaluateHealth(at(500, 9), th, now); h.Reason != "" || len(h.Warnings) != 0 {
		t.Errorf("new_errors_min 0 is off: %+v", h)
	}
	if h := roman.EvaluateHealth(roman.HealthInputs{}, roman.DefaultThresholds(), now); h.NewErrors != nil {
		t.Errorf("no new errors: %+v", h.NewErrors)
	}
	bad := roman.DefaultThresholds()
	bad.NewErrorsMin, bad.NewErrorsAction = -1, "page"
	err := bad.Validate()
	if fes := roman.FieldErrors(err); len(fes) != 2 || fes[0].Field != "new_errors_min" || fes[1].Field != "new_errors_action" {
		t.Errorf("Validate: %v", err)
	}
}

// BenchmarkFingerprint is roman's own fingerprint of a typical event sent
// without one: a message with ids and a quoted value, and a four-frame
// JavaScript stack.
func BenchmarkFingerprint(b *testing.B) {
	msg := `user 4242 not found in "sessions" (request 5f2b9c7e1a, trace 123e4567-e89b-12d3-a456-426614174000)`
	stack := "TypeError: x is undefined\n    at handler (/app/src/api.js:42:13)\n    at next (/app/node_modules/r.js:7:1)\n    at run (/app/src/main.js:9:2)\n    at boot (/app/src/main.js:1:1)"
	for i := 0; i < b.N; i++ {
		roman.Fingerprint("TypeError", msg, stack)
	}
}
