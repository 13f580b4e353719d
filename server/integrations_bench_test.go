package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/testkit"
)

// otlpLogsBody is a protobuf ExportLogsServiceRequest carrying rows as
// ERROR log records of one resource: service, version and environment
// name the release, the message is the body and exception.message, the
// error type is exception.type.
func otlpLogsBody(service, version, env string, rows []roman.ErrorEvent) []byte {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	attrs := rl.Resource().Attributes()
	attrs.PutStr("service.name", service)
	attrs.PutStr("service.version", version)
	attrs.PutStr("deployment.environment.name", env)
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lrs.EnsureCapacity(len(rows))
	for _, e := range rows {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(e.OccurredAt))
		lr.SetSeverityNumber(plog.SeverityNumberError)
		lr.SetSeverityText("ERROR")
		lr.Body().SetStr(e.Message)
		lr.Attributes().PutStr("exception.type", "TypeError")
		lr.Attributes().PutStr("exception.message", e.Message)
	}
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		panic(err)
	}
	return b
}

// postAs posts body with a content type and a bearer token and returns the
// status.
func postAs(url, token, contentType string, header map[string]string, body []byte) int {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	var buf [512]byte
	for {
		if _, err := resp.Body.Read(buf[:]); err != nil {
			break
		}
	}
	resp.Body.Close()
	return resp.StatusCode
}

// BenchmarkOTLPIngestThroughput compares OTLP/HTTP log ingest with POST
// /errors for the same error events: each round sends ingestPhase batches
// of 10,000 events from ingestClients concurrent clients both ways (the
// order alternating from round to round), as a POST /errors body and as a
// protobuf ExportLogsServiceRequest of ERROR log records (decoded by
// pdata, fingerprinted from exception.type and the message, attributed
// by version, one integration_events row per request). It reports both
// rates in events/s and otlp/errors, and checks that every event was
// stored. Run with -benchtime=5x (b.N is the number of rounds).
func BenchmarkOTLPIngestThroughput(b *testing.B) {
	benchEachStore(b, func(b *testing.B, m *Server) {
		pt := newPhaseTimer(m, deployPair(b, m, "production"))
		before := pt.errorEvents(b)
		spent := pt.run(b,
			func() func() error {
				bodies := make([][]byte, ingestPhase)
				for k, rows := range pt.batches() {
					bodies[k] = ingestBody(rows)
				}
				return func() error {
					return concurrently(ingestClients, ingestPhase, func(k int) error {
						if code := post(m.URL()+"/errors", deployToken, bodies[k]); code != 200 {
							return fmt.Errorf("/errors: HTTP %d", code)
						}
						return nil
					})
				}
			},
			func() func() error {
				bodies := make([][]byte, ingestPhase)
				for k, rows := range pt.batches() {
					bodies[k] = otlpLogsBody("default", "v2.5.3", "production", rows)
				}
				return func() error {
					return concurrently(ingestClients, ingestPhase, func(k int) error {
						if code := postAs(m.URL()+"/v1/logs", deployToken, "application/x-protobuf", nil, bodies[k]); code != 200 {
							return fmt.Errorf("/v1/logs: HTTP %d", code)
						}
						return nil
					})
				}
			},
		)
		events := float64(b.N * ingestPhase * ingestBatch)
		if got := pt.errorEvents(b) - before; got != int64(2*events) {
			b.Fatalf("stored %d events, want %d", got, int64(2*events))
		}
		errorsRate, otlpRate := events/spent[0].Seconds(), events/spent[1].Seconds()
		b.ReportMetric(errorsRate, "errors-events/s")
		b.ReportMetric(otlpRate, "otlp-events/s")
		b.ReportMetric(otlpRate/errorsRate, "otlp/errors")
		b.ReportMetric(0, "ns/op")
	})
}

// sentryErrorBody is a compact error.created webhook, as Sentry sends it,
// with its own event id.
func sentryErrorBody(i int, at time.Time) []byte {
	return []byte(`{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},"data":{"error":{"event_id":"` +
		fmt.Sprintf("%032x", i) + `","project":1,"release":"front-end@1.4.2","dist":null,"platform":"javascript","message":"","datetime":"` +
		at.Format(time.RFC3339Nano) + `","environment":"production","level":"error","title":"ReferenceError: blooopy is not defined","issue_id":"1170820242",` +
		`"exception":{"values":[{"type":"ReferenceError","value":"blooopy is not defined","stacktrace":{"frames":[{"filename":"/runner","function":null,"lineno":3,"module":"runner"}]}}]},` +
		`"fingerprint":["{{ default }}"]}},"actor":{"type":"application","id":"sentry","name":"Sentry"}}`)
}

// BenchmarkSentryWebhook measures signed error.created webhooks end to end
// (signature check, decoding, attribution by version, one error event
// through the ingest service and one integration_events row each): b.N
// webhooks, each with its own event id, from 32 concurrent clients (Sentry delivers from a pool of workers).
// Reports requests/s. Run with -benchtime=5000x.
func BenchmarkSentryWebhook(b *testing.B) {
	for _, s := range testkit.Stores {
		b.Run(s.Name, func(b *testing.B) {
			m := startServer(b, s.URL(b), monitorSettings, sentrySettings,
				map[string]string{"ROMAN_ERROR_RATE_THRESHOLD": "1000000000", "ROMAN_RECENT_ERRORS_THRESHOLD": "1000000000"})
			recordRelease(b, m, "front-end", "production", "1.4.2", "c2", time.Hour, false)
			at := time.Now().UTC().Add(-time.Minute)
			bodies := make([][]byte, b.N)
			sigs := make([]map[string]string, b.N)
			for i := range bodies {
				bodies[i] = sentryErrorBody(i, at)
				sigs[i] = map[string]string{"Sentry-Hook-Resource": "error", "Sentry-Hook-Signature": signed(bodies[i]),
					"Sentry-Hook-Timestamp": strconv.FormatInt(at.Unix(), 10)}
			}
			const clients = 32
			var next atomic.Int64
			var failed atomic.Value
			var wg sync.WaitGroup
			url := m.URL() + "/integrations/sentry"
			b.ResetTimer()
			start := time.Now()
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
						if code := postAs(url, "", "application/json", sigs[i], bodies[i]); code != 200 {
							failed.CompareAndSwap(nil, fmt.Errorf("webhook %d: HTTP %d", i, code))
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if err, ok := failed.Load().(error); ok {
				b.Fatal(err)
			}
			if n := sqlCount(b, m, "SELECT count(*) FROM error_events"); n != b.N {
				b.Fatalf("stored %d events, want %d", n, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// otlpErrorSpanBody is a protobuf ExportTraceServiceRequest with one
// failed server span of a release.
func otlpErrorSpanBody(service, version, env string, at time.Time) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	attrs := rs.Resource().Attributes()
	attrs.PutStr("service.name", service)
	attrs.PutStr("service.version", version)
	attrs.PutStr("deployment.environment.name", env)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("POST /v1/orders")
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at.Add(-40 * time.Millisecond)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at))
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("the sixth")
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.type", "runtime.boundsError")
	ev.Attributes().PutStr("exception.message", "runtime error: index out of range [3] with length 3")
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkOTLPDetectionLatency measures detection latency like
// BenchmarkDetectionLatency, with the error that crosses the trigger sent
// as an OTLP/HTTP error span: five errors of the new release are posted
// first (at the trigger, not over it), then the timer runs from sending
// the span until the automatic rollback is recorded on the hub. Each
// iteration uses its own environment. Reports p50-ms and p99-ms. Run with
// -benchtime=200x.
func BenchmarkOTLPDetectionLatency(b *testing.B) {
	benchEachStore(b, func(b *testing.B, m *Server) {
		ch, cancel := m.Hub.Subscribe(1 << 12)
		defer cancel()
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			env := fmt.Sprintf("bench-%d", i)
			id := deployPair(b, m, env)
			if code := post(m.URL()+"/errors", deployToken, []byte(errorBatch(env, 5, ago(time.Second)))); code != 200 {
				b.Fatalf("ingest: %d", code)
			}
			body := otlpErrorSpanBody("default", "v2.5.3", env, time.Now())
			lat = append(lat, timeToRollback(b, ch, m, env, id, "export", func() int {
				return postAs(m.URL()+"/v1/traces", deployToken, "application/x-protobuf", nil, body)
			}))
		}
		reportLatencies(b, lat)
	})
}
