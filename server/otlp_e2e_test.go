package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// otelResource is the SDK resource of a service's release.
func otelResource(service, version, env string) *resource.Resource {
	return resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.version", version),
		attribute.String("deployment.environment.name", env))
}

// watchedRelease records a healthy release 1.0.0 of service in env and a
// new one, 1.0.1, completed now and watched; it returns the new one's id.
func watchedRelease(t testing.TB, m *Server, service, env string) string {
	t.Helper()
	recordRelease(t, m, service, env, "1.0.0", service+"-good", time.Hour, true)
	code, bad := testkit.Call(t, "POST", m.URL()+"/deployments", deployToken, `{"service":"`+service+`","environment":"`+env+
		`","version":"1.0.1","git_commit":"`+service+`-bad","git_branch":"main"}`)
	if code != 201 {
		t.Fatalf("record: %d %v", code, bad)
	}
	id := bad["deployment_id"].(string)
	if code, out := testkit.Call(t, "PATCH", m.URL()+"/deployments/"+id, deployToken, `{"status":"success"}`); code != 200 {
		t.Fatalf("complete: %d %v", code, out)
	}
	return id
}

// sdkSpans makes spans with the OpenTelemetry SDK: served server spans, of
// which failed end with status ERROR and a recorded error (the SDK's
// "exception" span event), plus one internal span that is neither.
func sdkSpans(res *resource.Resource, served, failed int) []sdktrace.ReadOnlySpan {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(rec))
	tr := tp.Tracer("github.com/example/checkout/httpserver")
	ctx := context.Background()
	for i := 0; i < served; i++ {
		_, span := tr.Start(ctx, "POST /v1/orders", trace.WithSpanKind(trace.SpanKindServer))
		if i < failed {
			span.RecordError(errors.New("runtime error: index out of range [3] with length 3"), trace.WithStackTrace(true))
			span.SetStatus(codes.Error, "runtime error: index out of range [3] with length 3")
		}
		span.End()
	}
	_, span := tr.Start(ctx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient))
	span.End()
	return rec.Ended()
}

// exportSpans sends spans to m with the SDK's OTLP/HTTP trace exporter
// (protobuf, or JSON), gzip-compressed.
func exportSpans(t testing.TB, m *Server, spans []sdktrace.ReadOnlySpan, json bool) error {
	t.Helper()
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(m.Addr()), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHeaders(map[string]string{"Authorization": "Bearer " + deployToken}),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false})}
	if json {
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	return exp.ExportSpans(context.Background(), spans)
}

// recordingProcessor keeps the SDK's log records so that a test exports
// them itself and sees the exporter's error.
type recordingProcessor struct{ records []sdklog.Record }

func (p *recordingProcessor) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.records = append(p.records, r.Clone())
	return nil
}
func (p *recordingProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *recordingProcessor) Shutdown(context.Context) error                         { return nil }
func (p *recordingProcessor) ForceFlush(context.Context) error                       { return nil }

// sdkLogs makes log records with the OpenTelemetry SDK: errors records of
// severity ERROR carrying an error (exception.type and exception.message),
// and infos of severity INFO.
func sdkLogs(res *resource.Resource, errs, infos int) []sdklog.Record {
	rec := &recordingProcessor{}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(rec))
	lg := lp.Logger("github.com/example/billing")
	for i := 0; i < errs+infos; i++ {
		var r otellog.Record
		r.SetTimestamp(time.Now())
		if i < errs {
			r.SetSeverity(otellog.SeverityError)
			r.SetSeverityText("ERROR")
			r.SetBody(attribute.StringValue("charge failed"))
			r.SetErr(errors.New("card 4242 declined by issuer"))
		} else {
			r.SetSeverity(otellog.SeverityInfo)
			r.SetBody(attribute.StringValue("charge ok"))
		}
		lg.Emit(context.Background(), r)
	}
	return rec.records
}

// exportLogs sends records with the SDK's OTLP/HTTP log exporter
// (protobuf, gzip-compressed).
func exportLogs(t testing.TB, m *Server, records []sdklog.Record) error {
	t.Helper()
	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpoint(m.Addr()), otlploghttp.WithInsecure(),
		otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer " + deployToken}),
		otlploghttp.WithCompression(otlploghttp.GzipCompression), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	return exp.Export(context.Background(), records)
}

func awaitRollback(t *testing.T, m *Server, service, env, id string) {
	t.Helper()
	awaitMonitor(t, "the automatic rollback of "+service, func() bool {
		h := serviceHistory(t, m, service, env)
		return len(h) == 1 && h[0].Finished()
	})
	if ev := serviceHistory(t, m, service, env)[0]; ev.DeploymentID != id || ev.TriggerType != roman.TriggerAutomatic || ev.Status != roman.RollbackSuccess {
		t.Fatalf("rollback of %s: %+v", service, ev)
	}
}

// TestOTLPSDKRollsBackBadRelease sends spans and log records through the
// OpenTelemetry Go SDK's OTLP/HTTP exporters (protobuf and JSON, gzip) to a
// real server on both stores: error spans and ERROR log records of a
// watched release roll it back, server spans are recorded as requests
// samples, each export leaves an integration_events row naming the release
// and the rule, and items of a service with no release come back as
// partial success and are counted.
func TestOTLPSDKRollsBackBadRelease(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, monitorSettings)
		checkout := watchedRelease(t, m, "checkout", "production")
		billing := watchedRelease(t, m, "billing", "production")
		search := watchedRelease(t, m, "search", "production")

		// Traces, protobuf: 16 server spans, 6 of them failed.
		if err := exportSpans(t, m, sdkSpans(otelResource("checkout", "1.0.1", "production"), 16, 6), false); err != nil {
			t.Fatalf("export spans: %v", err)
		}
		awaitRollback(t, m, "checkout", "production", checkout)
		if n := sqlCount(t, m, "SELECT count(*) FROM error_events WHERE deployment_id = "+placeholder(m), checkout); n != 6 {
			t.Fatalf("%d error events for checkout", n)
		}
		if n := sqlCount(t, m, "SELECT count(DISTINCT fingerprint) FROM error_events WHERE deployment_id = "+placeholder(m), checkout); n != 1 {
			t.Fatalf("%d fingerprints for one exception", n)
		}
		if n := sqlCount(t, m, "SELECT CAST(sum(value) AS INTEGER) FROM metric_samples WHERE name = 'requests' AND deployment_id = "+placeholder(m), checkout); n != 16 {
			t.Fatalf("%d requests recorded for checkout", n)
		}
		var msg string
		if err := m.Store.SQL().QueryRowContext(context.Background(), "SELECT message FROM error_events WHERE deployment_id = "+placeholder(m), checkout).Scan(&msg); err != nil ||
			msg != "runtime error: index out of range [3] with length 3" {
			t.Fatalf("message %q %v", msg, err)
		}
		rows := romanEvents(t, m, checkout, roman.EventIntegrationEvents)
		if len(rows) != 1 || !strings.Contains(rows[0].Message, "OpenTelemetry traces: 6 errors, 16 requests → checkout 1.0.1 in production (by version)") {
			t.Fatalf("integration rows: %+v", rows)
		}

		// Logs, protobuf: 6 ERROR records among INFO ones.
		if err := exportLogs(t, m, sdkLogs(otelResource("billing", "1.0.1", "production"), 6, 4)); err != nil {
			t.Fatalf("export logs: %v", err)
		}
		awaitRollback(t, m, "billing", "production", billing)
		if n := sqlCount(t, m, "SELECT count(*) FROM error_events WHERE deployment_id = "+placeholder(m), billing); n != 6 {
			t.Fatalf("%d error events for billing", n)
		}

		// Traces, JSON, through the SDK: a resource whose service has no
		// release comes back as partial success, the other is stored.
		spans := append(sdkSpans(otelResource("search", "1.0.1", "production"), 2, 6), sdkSpans(otelResource("ghost", "9.9.9", "production"), 3, 1)...)
		err := exportSpans(t, m, spans, true)
		if err == nil || !strings.Contains(err.Error(), "3 spans rejected") || !strings.Contains(err.Error(), "no deployment of service ghost in environment production") {
			t.Fatalf("partial success: %v", err)
		}
		if n := sqlCount(t, m, "SELECT CAST(sum(value) AS INTEGER) FROM metric_samples WHERE name = 'requests' AND deployment_id = "+placeholder(m), search); n != 2 {
			t.Fatalf("%d requests recorded for search", n)
		}
		if v := scrapeMetric(t, m, `roman_integration_unattributed_total{source="otlp_traces"}`); v != "3" {
			t.Fatalf("unattributed counter %s", v)
		}
		rows = romanEvents(t, m, search, roman.EventIntegrationEvents)
		if len(rows) != 1 || rows[0].Severity != roman.SeverityWarning || !strings.Contains(rows[0].Message, "3 items not attributed: no deployment of service ghost") {
			t.Fatalf("search rows: %+v", rows)
		}
		// Exports that only count requests leave one row per release and
		// QuietRowInterval, not one each.
		for range 3 {
			if err := exportSpans(t, m, sdkSpans(otelResource("search", "1.0.1", "production"), 4, 0), false); err != nil {
				t.Fatal(err)
			}
		}
		rows = romanEvents(t, m, search, roman.EventIntegrationEvents)
		if len(rows) != 2 || rows[0].Message != "OpenTelemetry traces: 4 requests → search 1.0.1 in production (by version)" {
			t.Fatalf("quiet rows: %d %+v", len(rows), rows[0])
		}
		if n := sqlCount(t, m, "SELECT CAST(sum(value) AS INTEGER) FROM metric_samples WHERE name = 'requests' AND deployment_id = "+placeholder(m), search); n != 14 {
			t.Fatalf("%d requests recorded for search", n)
		}
	})
}

// postOTLP posts a body to an OTLP route with the given content type and
// encoding and returns the status, the answer's Content-Type and body.
func postOTLP(t testing.TB, url, token, contentType, encoding string, body []byte) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func otlpFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../otlp/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOTLPReferenceExamples posts the reference OTLP JSON examples as the
// specification's curl example does: with no release of checkout-api they
// are rejected in partial success; once 1.4.2 is recorded they are stored
// for it by version, in JSON and (re-encoded by pdata) in protobuf.
func TestOTLPReferenceExamples(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url)
		logs, traces := otlpFixture(t, "otlp_logs_example.json"), otlpFixture(t, "otlp_traces_example.json")
		code, ct, body := postOTLP(t, m.URL()+"/v1/logs", deployToken, "application/json", "", logs)
		if code != 200 || ct != "application/json" ||
			string(body) != `{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"1 log records not attributed to a release: no deployment of service checkout-api in environment production"}}` {
			t.Fatalf("unattributed logs: %d %s %s", code, ct, body)
		}
		id := recordRelease(t, m, "checkout-api", "production", "1.4.2", "abc", time.Hour, false)
		recordRelease(t, m, "checkout-api", "production", "1.4.3", "def", time.Minute, false)
		if code, _, body := postOTLP(t, m.URL()+"/v1/logs", deployToken, "application/json", "", logs); code != 200 || string(body) != `{"partialSuccess":{}}` {
			t.Fatalf("logs: %d %s", code, body)
		}
		if code, _, body := postOTLP(t, m.URL()+"/v1/traces", deployToken, "application/json; charset=utf-8", "gzip", gzipped(t, traces)); code != 200 || string(body) != `{"partialSuccess":{}}` {
			t.Fatalf("traces: %d %s", code, body)
		}
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(logs)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		code, ct, body = postOTLP(t, m.URL()+"/v1/logs", deployToken, "application/x-protobuf", "", pb)
		resp := plogotlp.NewExportResponse()
		if code != 200 || ct != "application/x-protobuf" || resp.UnmarshalProto(body) != nil || resp.PartialSuccess().RejectedLogRecords() != 0 {
			t.Fatalf("protobuf logs: %d %s %x", code, ct, body)
		}
		// Three error events (log, span, log), all of one fingerprint: the
		// log's and the span's exception are the same.
		if n := sqlCount(t, m, "SELECT count(*) FROM error_events WHERE deployment_id = "+placeholder(m), id); n != 3 {
			t.Fatalf("%d error events", n)
		}
		if n := sqlCount(t, m, "SELECT count(DISTINCT fingerprint) FROM error_events"); n != 1 {
			t.Fatalf("%d fingerprints", n)
		}
		var msg string
		if err := m.Store.SQL().QueryRowContext(context.Background(), "SELECT message FROM error_events ORDER BY id LIMIT 1").Scan(&msg); err != nil ||
			msg != "panic recovered while handling POST /v1/orders" {
			t.Fatalf("log message %q %v", msg, err)
		}
		if n := sqlCount(t, m, "SELECT CAST(sum(value) AS INTEGER) FROM metric_samples WHERE name = 'requests' AND deployment_id = "+placeholder(m), id); n != 1 {
			t.Fatalf("%d requests", n)
		}
		var md struct {
			Releases []struct {
				DeploymentID, Rule string
				Errors, Requests   int
			} `json:"releases"`
		}
		rows := romanEvents(t, m, id, roman.EventIntegrationEvents)
		if len(rows) != 3 || json.Unmarshal(rows[0].Metadata, &md) != nil || len(md.Releases) != 1 || md.Releases[0].Rule != "version" {
			t.Fatalf("rows: %d %s", len(rows), rows[0].Metadata)
		}
	})
}

// TestOTLPBadInput: every malformed export gets a 4xx naming the problem
// and writes nothing, on both stores.
func TestOTLPBadInput(t *testing.T) {
	testkit.EachStore(t, func(t *testing.T, url string) {
		m := startServer(t, url, map[string]string{"ROMAN_MAX_INGEST_BODY_BYTES": "256KiB"})
		recordRelease(t, m, "checkout-api", "production", "1.4.2", "abc", time.Hour, false)
		logs := otlpFixture(t, "otlp_logs_example.json")
		bomb := gzipped(t, make([]byte, 64<<20))
		oversize := append(bytes.Repeat([]byte(" "), 300<<10), logs...)
		count := func() [3]int {
			return [3]int{sqlCount(t, m, "SELECT count(*) FROM error_events"), sqlCount(t, m, "SELECT count(*) FROM metric_samples"),
				sqlCount(t, m, "SELECT count(*) FROM roman_events WHERE event_type = 'integration_events'")}
		}
		before := count()
		for _, path := range []string{"/v1/logs", "/v1/traces"} {
			for _, tc := range []struct {
				name, token, ct, enc string
				body                 []byte
				code                 int
				want                 string
			}{
				{"wrong protobuf", deployToken, "application/x-protobuf", "", []byte("\xff\xff\xff\xff\xff\xff"), 400, "not a valid protobuf-encoded"},
				{"JSON sent as protobuf", deployToken, "application/x-protobuf", "", logs, 400, "not a valid protobuf-encoded"},
				{"invalid JSON", deployToken, "application/json", "", []byte(`{"resourceLogs":[{"resource":`), 400, "not a valid JSON-encoded"},
				{"JSON of the wrong shape", deployToken, "application/json", "", []byte(`{"resourceSpans":7,"resourceLogs":7}`), 400, "not a valid JSON-encoded"},
				{"wrong content type", deployToken, "text/plain", "", logs, 415, "Content-Type"},
				{"no content type", deployToken, "", "", logs, 415, "Content-Type"},
				{"unknown encoding", deployToken, "application/json", "br", logs, 415, "Content-Encoding"},
				{"corrupt gzip", deployToken, "application/json", "gzip", []byte("not gzip at all"), 400, "not valid gzip"},
				{"oversize", deployToken, "application/json", "", oversize, 413, "exceeds the limit"},
				{"gzip bomb", deployToken, "application/json", "gzip", bomb, 413, "once decompressed"},
				{"no key", "", "application/json", "", logs, 401, ""},
				{"read key", readToken, "application/json", "", logs, 403, ""},
			} {
				code, ct, body := postOTLP(t, m.URL()+path, tc.token, tc.ct, tc.enc, tc.body)
				if code != tc.code {
					t.Fatalf("%s %s: %d %s", path, tc.name, code, body)
				}
				if ct == "application/x-protobuf" {
					if !bytes.Contains(body, []byte(tc.want)) {
						t.Fatalf("%s %s: status body %q", path, tc.name, body)
					}
					continue
				}
				var out map[string]any
				if err := json.Unmarshal(body, &out); err != nil || out["success"] != false || !strings.Contains(out["error"].(string), tc.want) {
					t.Fatalf("%s %s: %s", path, tc.name, body)
				}
			}
		}
		if after := count(); after != before {
			t.Fatalf("bad input wrote: %v -> %v", before, after)
		}
	})
}
