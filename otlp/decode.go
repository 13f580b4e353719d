// Package otlp receives OpenTelemetry logs and traces over OTLP/HTTP: it
// decodes export requests (protobuf or JSON, optionally gzip-compressed)
// with the collector's pdata package, maps ERROR-and-above log records and
// error spans to error events and server spans to request counts of the
// release their resource attributes name, and encodes the answers the OTLP
// specification prescribes (export responses with partial success, and
// google.rpc.Status bodies for failures) in the request's encoding.
package otlp

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/odyssey-1/roman"
)

// Encoding is an OTLP/HTTP body encoding.
type Encoding int

// The two encodings OTLP/HTTP defines.
const (
	Protobuf Encoding = iota + 1
	JSON
)

// Content types of the encodings.
const (
	ContentTypeProtobuf = "application/x-protobuf"
	ContentTypeJSON     = "application/json"
)

// ContentType returns the encoding's Content-Type.
func (e Encoding) ContentType() string {
	if e == JSON {
		return ContentTypeJSON
	}
	return ContentTypeProtobuf
}

// ErrUnsupported is wrapped by the errors of ParseContentType and Inflate
// for a content type or encoding OTLP/HTTP does not define (415).
var ErrUnsupported = errors.New("unsupported media type")

// ParseContentType reads a request's Content-Type: application/x-protobuf
// or application/json, parameters ignored. Anything else wraps
// ErrUnsupported.
func ParseContentType(h string) (Encoding, error) {
	mt, _, err := mime.ParseMediaType(h)
	if h == "" || err != nil {
		return 0, fmt.Errorf("%w: Content-Type must be %s or %s", ErrUnsupported, ContentTypeProtobuf, ContentTypeJSON)
	}
	switch strings.ToLower(mt) {
	case ContentTypeProtobuf:
		return Protobuf, nil
	case ContentTypeJSON:
		return JSON, nil
	}
	return 0, fmt.Errorf("%w: Content-Type %q is not %s or %s", ErrUnsupported, roman.Clip(mt), ContentTypeProtobuf, ContentTypeJSON)
}

// Inflate returns the body as sent before compression: as it is without
// Content-Encoding (or "identity"), decompressed for gzip, at most limit
// bytes either way (ETOOLARGE beyond, so a small gzip bomb cannot expand
// into memory). Another encoding wraps ErrUnsupported; a corrupt gzip
// stream is EINVALID.
func Inflate(body []byte, contentEncoding string, limit int64) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "", "identity":
		if int64(len(body)) > limit {
			return nil, roman.Errorf(roman.ETOOLARGE, "request body is larger than %d bytes", limit)
		}
		return body, nil
	case "gzip", "x-gzip":
	default:
		return nil, fmt.Errorf("%w: Content-Encoding %q is not supported (use gzip or none)", ErrUnsupported, roman.Clip(contentEncoding))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, roman.Errorf(roman.EINVALID, "request body is not valid gzip")
	}
	var out bytes.Buffer
	n, err := out.ReadFrom(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, roman.Errorf(roman.EINVALID, "request body is not valid gzip")
	}
	if n > limit {
		return nil, roman.Errorf(roman.ETOOLARGE, "request body is larger than %d bytes once decompressed", limit)
	}
	return out.Bytes(), nil
}

// DecodeLogs decodes an ExportLogsServiceRequest. The error (EINVALID)
// names the encoding that failed to decode.
func DecodeLogs(enc Encoding, body []byte) (plog.Logs, error) {
	req := plogotlp.NewExportRequest()
	if err := unmarshal(enc, body, req.UnmarshalProto, req.UnmarshalJSON, "ExportLogsServiceRequest"); err != nil {
		return plog.Logs{}, err
	}
	if enc == JSON && req.Logs().ResourceLogs().Len() == 0 {
		if err := checkEmptyJSON(body, "ExportLogsServiceRequest", "resourceLogs", "resource_logs"); err != nil {
			return plog.Logs{}, err
		}
	}
	return req.Logs(), nil
}

// DecodeTraces decodes an ExportTraceServiceRequest, like DecodeLogs.
func DecodeTraces(enc Encoding, body []byte) (ptrace.Traces, error) {
	req := ptraceotlp.NewExportRequest()
	if err := unmarshal(enc, body, req.UnmarshalProto, req.UnmarshalJSON, "ExportTraceServiceRequest"); err != nil {
		return ptrace.Traces{}, err
	}
	if enc == JSON && req.Traces().ResourceSpans().Len() == 0 {
		if err := checkEmptyJSON(body, "ExportTraceServiceRequest", "resourceSpans", "resource_spans"); err != nil {
			return ptrace.Traces{}, err
		}
	}
	return req.Traces(), nil
}

func unmarshal(enc Encoding, body []byte, fromProto, fromJSON func([]byte) error, what string) (err error) {
	// The decoders are generated code; a panic on hostile input must be a
	// 400, never a crashed request.
	defer func() {
		if v := recover(); v != nil {
			err = roman.Errorf(roman.EINVALID, "request body is not a valid %s", what)
		}
	}()
	if enc == JSON {
		if len(bytes.TrimSpace(body)) == 0 {
			return nil // an empty request is a successful no-op
		}
		if err := fromJSON(body); err != nil {
			return roman.Errorf(roman.EINVALID, "request body is not a valid JSON-encoded %s: %s", what, clipErr(err))
		}
		return nil
	}
	if err := fromProto(body); err != nil {
		return roman.Errorf(roman.EINVALID, "request body is not a valid protobuf-encoded %s: %s", what, clipErr(err))
	}
	return nil
}

// checkEmptyJSON refuses a JSON body that decoded to an empty request but
// is not one: an object with fields, none of them the request's own (such
// as a POST /errors body sent to /v1/logs). Unknown fields beside the
// request's own are ignored, as OTLP requires; an empty object or body is
// an empty request, which succeeds.
func checkEmptyJSON(body []byte, what string, known ...string) error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil || len(fields) == 0 {
		return nil
	}
	for _, k := range known {
		if _, ok := fields[k]; ok {
			return nil
		}
	}
	return roman.Errorf(roman.EINVALID, "request body is not a JSON-encoded %s: it has no %s field", what, known[0])
}

// clipErr shortens a decoder's message; it names the field or offset, never
// more than a fragment of the body.
func clipErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// LogsResponse encodes an ExportLogsServiceResponse: partial success is
// set only when something was rejected or there is a message.
func LogsResponse(enc Encoding, rejected int64, message string) ([]byte, error) {
	resp := plogotlp.NewExportResponse()
	if rejected > 0 || message != "" {
		resp.PartialSuccess().SetRejectedLogRecords(rejected)
		resp.PartialSuccess().SetErrorMessage(message)
	}
	if enc == JSON {
		return resp.MarshalJSON()
	}
	return resp.MarshalProto()
}

// TracesResponse encodes an ExportTraceServiceResponse, like LogsResponse.
func TracesResponse(enc Encoding, rejected int64, message string) ([]byte, error) {
	resp := ptraceotlp.NewExportResponse()
	if rejected > 0 || message != "" {
		resp.PartialSuccess().SetRejectedSpans(rejected)
		resp.PartialSuccess().SetErrorMessage(message)
	}
	if enc == JSON {
		return resp.MarshalJSON()
	}
	return resp.MarshalProto()
}

// StatusBody encodes the google.rpc.Status an OTLP/HTTP failure carries,
// with the message (code is unused by OTLP and left 0). In JSON it is
// also roman's error body: {"success": false, "error": …, "message": …}.
func StatusBody(enc Encoding, message string) ([]byte, error) {
	if enc == JSON {
		return json.Marshal(struct {
			Success bool   `json:"success"`
			Error   string `json:"error"`
			Message string `json:"message"`
		}{false, message, message})
	}
	return proto.Marshal(&status.Status{Message: message})
}
