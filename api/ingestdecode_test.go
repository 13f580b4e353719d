package api

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/odyssey-1/roman"
)

// sameEvents reports whether two decodings are the same events.
func sameEvents(a, b []roman.ErrorEvent) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d events, want %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.OccurredAt.Equal(y.OccurredAt) || x.OccurredAt.Location().String() != y.OccurredAt.Location().String() {
			return fmt.Errorf("event %d: occurred_at %v, want %v", i, x.OccurredAt, y.OccurredAt)
		}
		x.OccurredAt = y.OccurredAt
		if x != y {
			return fmt.Errorf("event %d: %+v, want %+v", i, x, y)
		}
	}
	return nil
}

// checkFastErrors is the property of fastErrors: when it decodes a body,
// the strict general path accepts the body too and gives the same events.
func checkFastErrors(t *testing.T, body string) (fast bool) {
	t.Helper()
	evs, batch, ok := fastErrors([]byte(body))
	if !ok {
		return false
	}
	want, wantBatch, err := decodeErrors([]byte(body))
	if err != nil {
		t.Fatalf("%q: the fast path accepted what the strict path refuses: %v", body, err)
	}
	if batch != wantBatch {
		t.Fatalf("%q: batch %v, want %v", body, batch, wantBatch)
	}
	if err := sameEvents(evs, want); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	return true
}

const fastDep = "6f1c9a52-4a8e-4c55-9d0e-2f4f7a1d8e11"

// TestFastErrorsDecodesTheCommonShape: the usual bodies take the one-pass
// decoder (so that ingest is fast) and decode as the strict path does.
func TestFastErrorsDecodesTheCommonShape(t *testing.T) {
	item := `{"deployment_id":"` + fastDep + `","occurred_at":"2025-12-15T14:34:00.123456Z","message":"TypeError: x is undefined","severity":"error","fingerprint":"f1"}`
	for _, body := range []string{
		`{"events":[` + item + `]}`,
		`{"events":[` + strings.TrimSuffix(strings.Repeat(item+",", maxIngestItems), ",") + `]}`,
		" {\n\t\"events\" : [ " + item + " , {\"environment\":\"production\",\"message\":\"b\"} ] \r\n} ",
		`{"environment":"production","message":"x"}`,
		`{"events":null,"environment":"production","message":"x"}`,
		`{"message":"x","severity":null,"environment":"production","occurred_at":"2025-12-15T16:34:00+02:00"}`,
		`{}`,
		`{"events":[{}]}`,
		`{"events":[{"message":"quote \" backslash \\ newline \n tab \t unicode \u00e9 \ud83d\ude00","environment":"p"}]}`,
		`{"events":[{"message":"héllo wörld ✓","environment":"p"}]}`,
		`{"events":[{"message":"an escaped backslash before u0000: \\u0000","environment":"p"}]}`,
		`{"events":[{"message":"replacement characters sent as such: \ufffd �\n","environment":"p"}]}`,
		`{"events":[` + item + `],"message":""}`,
		`{"events":[{"message":"x","environment":"p","error_type":"KeyError","stack":"at f (/a.js:1:2)\n  at g (/b.js:3:4)"}]}`,
		`{"message":"x","environment":"p","stack":null,"error_type":"E"}`,
	} {
		if !checkFastErrors(t, body) {
			t.Errorf("the fast path gave up on %.80q", body)
		}
	}
}

// TestFastErrorsLeavesTheRestToTheStrictPath: bodies outside the plain
// shape, valid or not, are left to the strict path, which answers exactly
// as before (the messages are asserted in TestPostErrorsRefusesBadItems).
func TestFastErrorsLeavesTheRestToTheStrictPath(t *testing.T) {
	good := `{"environment":"production","message":"ok"}`
	for _, body := range []string{
		``, ` `, `null`, `[]`, `"x"`, `{`, `{"events":[` + good + `]`, `{"events":[` + good + `]}x`, `{"events":[` + good + `]}{}`,
		`{"events":[]}`, `{"events":{}}`, `{"events":"x"}`, `{"events":[` + good + `,]}`, `{"events":[` + good + `` + good + `]}`,
		`{"events":[null]}`, `{"events":["boom"]}`, `{"events":[[]]}`,
		`{"events":[` + good + `],"message":"x"}`,
		`{"events":[{"environment":"production","message":"x","sevrity":"error"}]}`,
		`{"events":[{"environment":"production","Message":"x"}]}`,
		`{"events":[{"environment":"production","message":"x","message":"y"}]}`,
		`{"events":[` + good + `],"events":[` + good + `]}`,
		`{"message":"x","message":"y"}`,
		`{"mess\u0061ge":"x","environment":"production"}`,
		`{"events":[{"environment":"production","message":42}]}`,
		`{"events":[{"environment":"production","message":true}]}`,
		`{"events":[{"environment":"production","message":"x","occurred_at":"yesterday"}]}`,
		`{"events":[{"environment":"production","message":"x","occurred_at":"2025-12-15"}]}`,
		"{\"events\":[{\"environment\":\"production\",\"message\":\"tab\tinside\"}]}",
		`{"events":[{"environment":"production","message":"bad \x escape"}]}`,
		`{"events":[{"environment":"production","message":"unterminated}]}`,
		`{"events":[{"environment":"production","message":nul}]}`,
		`{"events":[` + strings.TrimSuffix(strings.Repeat(good+",", maxIngestItems+1), ",") + `]}`,
		"\ufeff" + good,
		// Text that the stores cannot keep, which the strict path refuses.
		"{\"events\":[{\"message\":\"bad \xff utf-8\",\"environment\":\"p\"}]}",
		"{\"events\":[{\"message\":\"bad \xff utf-8 after an escape \\n\",\"environment\":\"p\"}]}",
		`{"events":[{"message":"lone \ud800 surrogate","environment":"p"}]}`,
		`{"events":[{"message":"lone \udfff surrogate","environment":"p"}]}`,
		`{"events":[{"message":"reversed \udc00\ud800 pair","environment":"p"}]}`,
		`{"events":[{"message":"nul \u0000","environment":"p"}]}`,
		`{"message":"x","fingerprint":"\u0000","environment":"p"}`,
		`{"message":"x","stack":"\u0000","environment":"p"}`,
		`{"message":"x","error_type":"a","error_type":"b","environment":"p"}`,
		`{"events":[{"message":"x","environment":"p","stack":["frame"]}]}`,
	} {
		if checkFastErrors(t, body) {
			t.Errorf("the fast path decoded %.80q", body)
		}
	}
}

// FuzzFastErrors checks the property of checkFastErrors on any input.
func FuzzFastErrors(f *testing.F) {
	f.Add(`{"events":[{"deployment_id":"` + fastDep + `","occurred_at":"2025-12-15T14:34:00Z","message":"a","severity":"error","fingerprint":"f"}]}`)
	f.Add(`{"environment":"production","message":"x \u00e9 \" \\"}`)
	f.Add(`{"events":null,"message":null}`)
	f.Fuzz(func(t *testing.T, body string) { checkFastErrors(t, body) })
}

// TestReadBody: the server reads a body whole whatever the announced length
// says, a body that breaks off is refused as unreadable, and one over the
// route's limit gets ETOOLARGE.
func TestReadBody(t *testing.T) {
	s := NewServer(Config{}, Deps{})
	body := `{"environment":"production","message":"x"}`
	for _, tc := range []struct {
		name     string
		announce int64
		limit    int64
		code     string
	}{
		{"exact", int64(len(body)), 1 << 20, ""},
		{"unknown length", -1, 1 << 20, ""},
		{"announced too little", 10, 1 << 20, ""},
		{"breaks off", int64(len(body)) + 5, 1 << 20, roman.EINVALID},
		{"over the limit", int64(len(body)), 16, roman.ETOOLARGE},
		{"over the limit, unknown length", -1, 16, roman.ETOOLARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var src io.Reader = strings.NewReader(body)
			if tc.code == roman.EINVALID {
				src = io.MultiReader(src, iotest.ErrReader(io.ErrUnexpectedEOF))
			}
			r := httptest.NewRequest("POST", "/errors", src)
			r.ContentLength = tc.announce
			got, err := s.readBody(httptest.NewRecorder(), r, tc.limit)
			if roman.ErrorCode(err) != tc.code && !(tc.code == "" && err == nil) {
				t.Fatalf("error %v, want code %q", err, tc.code)
			}
			if tc.code == "" && string(got) != body {
				t.Fatalf("read %q", got)
			}
		})
	}
}

// BenchmarkDecodeErrors measures the decoding of a POST /errors body of
// 10,000 plain events by the one-pass decoder, the ingest fast path.
func BenchmarkDecodeErrors(b *testing.B) {
	item := `{"deployment_id":"` + fastDep + `","occurred_at":"2025-12-15T14:34:00.123456Z","message":"TypeError: x is undefined at checkout.js:42","severity":"error","fingerprint":"f1"}`
	body := []byte(`{"events":[` + strings.TrimSuffix(strings.Repeat(item+",", maxIngestItems), ",") + `]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := fastErrors(body); !ok {
			b.Fatal("the fast path gave up")
		}
	}
}

// BenchmarkDecodeErrorsText is BenchmarkDecodeErrors with messages in
// non-ASCII text and with escapes, which the decoder checks for text the
// stores cannot keep.
func BenchmarkDecodeErrorsText(b *testing.B) {
	item := `{"environment":"production","message":"Ошибка: \"x\" is undefined — checkout.js:42 \u00e9\n\tat main","fingerprint":"f1"}`
	body := []byte(`{"events":[` + strings.TrimSuffix(strings.Repeat(item+",", maxIngestItems), ",") + `]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := fastErrors(body); !ok {
			b.Fatal("the fast path gave up")
		}
	}
}
