package otlp

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/odyssey-1/roman"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseContentType(t *testing.T) {
	for h, want := range map[string]Encoding{
		"application/x-protobuf":                Protobuf,
		"application/json":                      JSON,
		"application/json; charset=utf-8":       JSON,
		"Application/X-Protobuf":                Protobuf,
		"application/x-protobuf; proto=otlp.v1": Protobuf,
	} {
		if got, err := ParseContentType(h); err != nil || got != want {
			t.Errorf("%q: %v %v", h, got, err)
		}
	}
	for _, h := range []string{"", "text/plain", "application/protobuf", "application/x-www-form-urlencoded", ";;"} {
		if _, err := ParseContentType(h); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%q: %v", h, err)
		}
	}
}

func TestDecodeReferenceExamples(t *testing.T) {
	ld, err := DecodeLogs(JSON, fixture(t, "otlp_logs_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ld.LogRecordCount() != 1 {
		t.Fatalf("%d log records", ld.LogRecordCount())
	}
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	if lr.SeverityNumber() != plog.SeverityNumberError {
		t.Errorf("severity %v", lr.SeverityNumber())
	}
	res := readResource(ld.ResourceLogs().At(0).Resource())
	if res.key.Service != "checkout-api" || res.key.Version != "1.4.2" || res.key.Environment != "production" || res.note != "" {
		t.Errorf("resource %+v", res)
	}
	td, err := DecodeTraces(JSON, fixture(t, "otlp_traces_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	if sp.Kind() != ptrace.SpanKindServer || sp.Status().Code() != ptrace.StatusCodeError {
		t.Errorf("span %v %v", sp.Kind(), sp.Status().Code())
	}
	// The same requests in protobuf decode alike.
	pb, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := DecodeLogs(Protobuf, pb); err != nil || again.LogRecordCount() != 1 {
		t.Fatalf("protobuf logs: %v", err)
	}
	pt, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := DecodeTraces(Protobuf, pt); err != nil || again.SpanCount() != 1 {
		t.Fatalf("protobuf traces: %v", err)
	}
	// An empty request is a successful no-op in both encodings.
	if ld, err := DecodeLogs(Protobuf, nil); err != nil || ld.LogRecordCount() != 0 {
		t.Fatalf("empty protobuf: %v", err)
	}
	if td, err := DecodeTraces(JSON, []byte(" ")); err != nil || td.SpanCount() != 0 {
		t.Fatalf("empty JSON: %v", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  Encoding
		body string
		want string
	}{
		{"invalid JSON", JSON, `{"resourceLogs":[`, "not a valid JSON-encoded"},
		{"JSON of the wrong shape", JSON, `{"resourceLogs":"x"}`, "not a valid JSON-encoded"},
		{"wrong protobuf", Protobuf, "\xff\xff\xff\xff\xff", "not a valid protobuf-encoded"},
		{"JSON sent as protobuf", Protobuf, `{"resourceLogs":[]}`, "not a valid protobuf-encoded"},
		{"another API's body", JSON, `{"events":[{"message":"boom"}]}`, "it has no resourceLogs field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeLogs(tc.enc, []byte(tc.body))
			if roman.ErrorCode(err) != roman.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeLogs = %v", err)
			}
		})
	}
}

func TestInflate(t *testing.T) {
	body := fixture(t, "otlp_logs_example.json")
	if out, err := Inflate(gz(t, body), "gzip", 1<<20); err != nil || !bytes.Equal(out, body) {
		t.Fatalf("gzip: %v", err)
	}
	if out, err := Inflate(body, "", 1<<20); err != nil || !bytes.Equal(out, body) {
		t.Fatalf("identity: %v", err)
	}
	// A gzip bomb: 64 MiB of zeros compress to about 64 KiB.
	bomb := gz(t, make([]byte, 64<<20))
	if _, err := Inflate(bomb, "gzip", 8<<20); roman.ErrorCode(err) != roman.ETOOLARGE {
		t.Fatalf("bomb: %v", err)
	}
	if _, err := Inflate([]byte("not gzip"), "gzip", 1<<20); roman.ErrorCode(err) != roman.EINVALID {
		t.Fatalf("corrupt: %v", err)
	}
	if _, err := Inflate(body, "br", 1<<20); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("br: %v", err)
	}
}

func TestResponses(t *testing.T) {
	b, err := LogsResponse(JSON, 2, "2 log records not attributed")
	if err != nil || string(b) != `{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"2 log records not attributed"}}` {
		t.Fatalf("%s %v", b, err)
	}
	b, err = TracesResponse(Protobuf, 3, "x")
	if err != nil {
		t.Fatal(err)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(b); err != nil || resp.PartialSuccess().RejectedSpans() != 3 {
		t.Fatalf("%v %d", err, resp.PartialSuccess().RejectedSpans())
	}
	b, err = StatusBody(Protobuf, "request body is not valid gzip")
	var st status.Status
	if err != nil || proto.Unmarshal(b, &st) != nil || st.Message != "request body is not valid gzip" {
		t.Fatalf("status: %v %v", err, &st)
	}
}

// FuzzDecode feeds both decoders arbitrary bodies in both encodings, seeded
// with the reference examples: each returns data or an EINVALID error,
// never panics, and reading the resource and items never panics either.
func FuzzDecode(f *testing.F) {
	logs, traces := fixture(f, "otlp_logs_example.json"), fixture(f, "otlp_traces_example.json")
	f.Add(logs, true)
	f.Add(traces, true)
	ld, _ := DecodeLogs(JSON, logs)
	pb, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	f.Add(pb, false)
	td, _ := DecodeTraces(JSON, traces)
	pt, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	f.Add(pt, false)
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		enc := Protobuf
		if asJSON {
			enc = JSON
		}
		ld, err := DecodeLogs(enc, body)
		if err != nil && roman.ErrorCode(err) != roman.EINVALID {
			t.Fatalf("logs: %v", err)
		}
		if err == nil {
			for i := 0; i < ld.ResourceLogs().Len(); i++ {
				readResource(ld.ResourceLogs().At(i).Resource())
			}
		}
		td, err := DecodeTraces(enc, body)
		if err != nil && roman.ErrorCode(err) != roman.EINVALID {
			t.Fatalf("traces: %v", err)
		}
		if err == nil {
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				readResource(td.ResourceSpans().At(i).Resource())
			}
		}
	})
}

// TestDecodeMutations decodes 2,000 seeded random mutations of the
// reference examples in both encodings (the fuzz test's job, deterministic
// and in every plain test run): each decodes or is an EINVALID error,
// never a panic, and a decoded resource reads without one.
func TestDecodeMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 23))
	logs := fixture(t, "otlp_logs_example.json")
	ld, err := DecodeLogs(JSON, logs)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	traces := fixture(t, "otlp_traces_example.json")
	td, err := DecodeTraces(JSON, traces)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	for _, seed := range []struct {
		enc  Encoding
		body []byte
	}{{JSON, logs}, {JSON, traces}, {Protobuf, pb}, {Protobuf, pt}} {
		for i := 0; i < 500; i++ {
			b := append([]byte(nil), seed.body...)
			for k := 0; k < 1+rng.IntN(6); k++ {
				switch p := rng.IntN(len(b)); rng.IntN(2) {
				case 0:
					b[p] = byte(rng.IntN(256))
				default:
					b = append(b[:p], b[min(len(b), p+rng.IntN(16)):]...)
				}
				if len(b) == 0 {
					b = []byte{0}
				}
			}
			if ld, err := DecodeLogs(seed.enc, b); err != nil && roman.ErrorCode(err) != roman.EINVALID {
				t.Fatalf("logs: %v", err)
			} else if err == nil {
				for i := 0; i < ld.ResourceLogs().Len(); i++ {
					readResource(ld.ResourceLogs().At(i).Resource())
				}
			}
			if td, err := DecodeTraces(seed.enc, b); err != nil && roman.ErrorCode(err) != roman.EINVALID {
				t.Fatalf("traces: %v", err)
			} else if err == nil {
				for i := 0; i < td.ResourceSpans().Len(); i++ {
					readResource(td.ResourceSpans().At(i).Resource())
				}
			}
		}
	}
}
