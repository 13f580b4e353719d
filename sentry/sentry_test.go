package sentry

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignMatchesSentry checks Sign against a digest computed with Python's
// hmac and openssl for a compact body as Sentry sends it.
func TestSignMatchesSentry(t *testing.T) {
	body := `{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},"data":{"issue":{"id":"1170820242"}},"actor":{"type":"application","id":"sentry","name":"Sentry"}}`
	const want = "58d642b395cb4860f068e88a5fba8fcfe546dffa11ed1b91dcd6b5c6356781f8"
	if got := Sign([]byte("example-client-secret"), []byte(body)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if err := Verify([]byte("example-client-secret"), want, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := Verify([]byte("example-client-secret"), strings.ToUpper(want), []byte(body)); err != nil {
		t.Fatalf("upper-case hex: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	secret := []byte("s3cret-for-tests")
	body := readFixture(t, "sentry_webhook_error.json")
	good := Sign(secret, body)
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)/2] ^= 1
	for _, tc := range []struct {
		name, sig, want string
		body            []byte
		secret          []byte
	}{
		{"missing", "", "missing", body, secret},
		{"not hex", strings.Repeat("z", 64), "malformed", body, secret},
		{"short", good[:62], "malformed", body, secret},
		{"sha256= prefix", "sha256=" + good, "malformed", body, secret},
		{"tampered body", good, "does not match", tampered, secret},
		{"other secret", good, "does not match", body, []byte("another-secret")},
		{"no secret", good, "no client secret", body, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.sig, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDecodeReferenceError(t *testing.T) {
	p, err := Decode("error", readFixture(t, "sentry_webhook_error.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := p.Error
	if p.Action != "created" || e == nil {
		t.Fatalf("payload: %+v", p)
	}
	if e.Release != "front-end@1.4.2" || e.Environment != "production" || e.Title != "ReferenceError: blooopy is not defined" ||
		e.IssueID != "1170820242" || e.EventID != "bb78c1407cea4519aa397afc059c793d" || e.Level != "error" {
		t.Fatalf("error: %+v", e)
	}
	if !e.OccurredAt.Equal(time.Date(2019, 8, 19, 20, 58, 37, 391000000, time.UTC)) {
		t.Errorf("occurred at %v", e.OccurredAt)
	}
	if e.Type != "ReferenceError" || e.Value != "blooopy is not defined" || !strings.Contains(e.Stack, "runner.? (/runner:3)") {
		t.Errorf("exception: %q %q %q", e.Type, e.Value, e.Stack)
	}
	if fp := e.fingerprint(e.Title); fp != "sentry:1170820242" {
		t.Errorf("fingerprint %q", fp)
	}
}

func TestDecodeReferenceIssue(t *testing.T) {
	p, err := Decode("issue", readFixture(t, "sentry_webhook_issue.json"))
	if err != nil {
		t.Fatal(err)
	}
	is := p.Issue
	if p.Action != "created" || is == nil || is.ID != "1170820242" || is.ProjectSlug != "front-end" ||
		!is.FirstSeen.Equal(time.Date(2019, 8, 19, 20, 58, 37, 391000000, time.UTC)) {
		t.Fatalf("issue: %+v %+v", p, is)
	}
}

func TestDecodeForms(t *testing.T) {
	// Python's isoformat with an offset, a numeric issue id, a timestamp
	// without datetime, release only in the tags.
	body := `{"action":"created","data":{"error":{"issue_id":42,"timestamp":1566248317.5,"tags":[["release","api@2.0.0"],["environment","staging"]],"fingerprint":["checkout","card"]}}}`
	p, err := Decode("error", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e := p.Error
	if e.IssueID != "42" || e.Release != "api@2.0.0" || e.Environment != "staging" || !e.OccurredAt.Equal(time.Unix(1566248317, 500000000)) {
		t.Fatalf("%+v", e)
	}
	e.IssueID = ""
	if fp := e.fingerprint("x"); fp != "sentry:fp:checkout|card" {
		t.Errorf("custom fingerprint: %q", fp)
	}
	p, err = Decode("issue", []byte(`{"action":"created","data":{"issue":{"id":"7","firstSeen":"2019-08-19T20:58:37.391000+00:00"}}}`))
	if err != nil || !p.Issue.FirstSeen.Equal(time.Date(2019, 8, 19, 20, 58, 37, 391000000, time.UTC)) {
		t.Fatalf("%v %+v", err, p)
	}
	// Other resources are decoded only as far as their action.
	p, err = Decode("installation", []byte(`{"action":"created","data":{"installation":{}}}`))
	if err != nil || p.Error != nil || p.Issue != nil || p.Action != "created" {
		t.Fatalf("%v %+v", err, p)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ name, resource, body, want string }{
		{"no resource", "", `{}`, "missing Sentry-Hook-Resource"},
		{"invalid JSON", "error", `{"action":`, "not a JSON object"},
		{"array", "error", `[]`, "not a JSON object"},
		{"no data", "error", `{"action":"created"}`, "data: required"},
		{"no error", "error", `{"action":"created","data":{}}`, "data.error: required"},
		{"no issue", "issue", `{"action":"created","data":{"error":{}}}`, "data.issue: required"},
		{"issue without id", "issue", `{"action":"created","data":{"issue":{"title":"x"}}}`, "data.issue.id: required"},
		{"bad datetime", "error", `{"data":{"error":{"datetime":"yesterday"}}}`, "data.error.datetime"},
		{"bad timestamp", "error", `{"data":{"error":{"timestamp":-5}}}`, "data.error.timestamp"},
		{"wrong type", "error", `{"data":{"error":{"exception":{"values":"x"}}}}`, "data:"},
		{"NUL", "error", `{"data":{"error":{"title":"a\u0000b"}}}`, "NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.resource, []byte(tc.body))
			if roman.ErrorCode(err) != roman.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode = %v, want EINVALID %q", err, tc.want)
			}
		})
	}
}

// FuzzDecode feeds the decoder arbitrary bodies, seeded with the reference
// payloads: it returns a payload or an EINVALID error, never panics, and a
// decoded error's fingerprint is always storable.
func FuzzDecode(f *testing.F) {
	f.Add("error", readFixture(f, "sentry_webhook_error.json"))
	f.Add("issue", readFixture(f, "sentry_webhook_issue.json"))
	f.Add("error", []byte(`{"action":"created","data":{"error":{"issue_id":1,"timestamp":1e9}}}`))
	f.Add("installation", []byte(`{"action":"deleted"}`))
	f.Fuzz(func(t *testing.T, resource string, body []byte) {
		p, err := Decode(resource, body)
		if err != nil {
			if roman.ErrorCode(err) != roman.EINVALID {
				t.Fatalf("error code %q: %v", roman.ErrorCode(err), err)
			}
			return
		}
		if p.Error != nil {
			fp := p.Error.fingerprint(p.Error.Title)
			if fp == "" || len(fp) > 256 || roman.TextProblem(fp) != "" {
				t.Fatalf("fingerprint %q", fp)
			}
		}
	})
}

// mutate returns body with a few random byte changes, cuts and copies.
func mutate(rng *rand.Rand, base []byte) []byte {
	b := append([]byte(nil), base...)
	for k := 0; k < 1+rng.IntN(8); k++ {
		if len(b) == 0 {
			break
		}
		switch rng.IntN(3) {
		case 0:
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		case 1:
			p := rng.IntN(len(b))
			b = append(b[:p], b[min(len(b), p+rng.IntN(20)):]...)
		default:
			p, q := rng.IntN(len(b)), rng.IntN(len(b))
			b = append(b[:p], append(append([]byte(nil), b[q:min(len(b), q+rng.IntN(200))]...), b[p:]...)...)
		}
	}
	return b
}

// TestDecodeMutations decodes 3,000 seeded random mutations of the
// reference payloads (the fuzz test's job, deterministic and in every
// plain test run): each is a payload with a storable fingerprint or an
// EINVALID error, never a panic.
func TestDecodeMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 19))
	for _, name := range []string{"sentry_webhook_error.json", "sentry_webhook_issue.json"} {
		base := readFixture(t, name)
		resource := strings.TrimSuffix(strings.TrimPrefix(name, "sentry_webhook_"), ".json")
		for i := 0; i < 1500; i++ {
			b := mutate(rng, base)
			p, err := Decode(resource, b)
			if err != nil {
				if roman.ErrorCode(err) != roman.EINVALID {
					t.Fatalf("%s mutation %d: %v", name, i, err)
				}
				continue
			}
			if p.Error != nil {
				if fp := p.Error.fingerprint(p.Error.Title); fp == "" || len(fp) > 256 || roman.TextProblem(fp) != "" {
					t.Fatalf("%s mutation %d: fingerprint %q", name, i, fp)
				}
			}
		}
	}
}
