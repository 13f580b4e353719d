package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/otlp"
)

// OTLPReceiver stores decoded OpenTelemetry exports; *otlp.Receiver
// implements it.
type OTLPReceiver interface {
	// ExportLogs stores the error records of a logs export and says what
	// it could not attribute.
	ExportLogs(ctx context.Context, ld plog.Logs) (*otlp.Result, error)
	// ExportTraces stores the error spans and request counts of a traces
	// export and says what it could not attribute.
	ExportTraces(ctx context.Context, td ptrace.Traces) (*otlp.Result, error)
}

// otlpLogs serves POST /v1/logs (OTLP/HTTP).
func (s *Server) otlpLogs(w http.ResponseWriter, r *http.Request) error {
	return s.otlpExport(w, r, true)
}

// otlpTraces serves POST /v1/traces (OTLP/HTTP).
func (s *Server) otlpTraces(w http.ResponseWriter, r *http.Request) error {
	return s.otlpExport(w, r, false)
}

// otlpExport serves an OTLP/HTTP export as the OTLP specification says:
// protobuf or JSON by Content-Type (415 otherwise), gzip allowed, the body
// limited after decompression too (413), a body that does not decode 400,
// and the answer an Export…ServiceResponse in the request's encoding with
// partial success counting the items that could not be attributed.
// Failures carry a google.rpc.Status in the request's encoding (in JSON
// also roman's {"success": false, "error": …}).
func (s *Server) otlpExport(w http.ResponseWriter, r *http.Request, logs bool) error {
	if s.deps.OTLP == nil {
		return roman.Errorf(roman.ENOTFOUND, "OTLP ingest is not configured")
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	enc, err := otlp.ParseContentType(r.Header.Get("Content-Type"))
	if err != nil {
		return WriteJSON(w, http.StatusUnsupportedMediaType, ErrorResponse{Error: err.Error()})
	}
	body, err := ReadBody(r)
	if err != nil {
		return s.otlpError(w, r, enc, err)
	}
	release, ok := s.admitIngest(w)
	if !ok {
		return nil
	}
	defer release()
	data, err := otlp.Inflate(body, r.Header.Get("Content-Encoding"), s.cfg.MaxIngestBodyBytes)
	if errors.Is(err, otlp.ErrUnsupported) {
		return WriteJSON(w, http.StatusUnsupportedMediaType, ErrorResponse{Error: err.Error()})
	} else if err != nil {
		return s.otlpError(w, r, enc, err)
	}
	var res *otlp.Result
	var out []byte
	if logs {
		ld, err := otlp.DecodeLogs(enc, data)
		if err != nil {
			return s.otlpError(w, r, enc, err)
		}
		if res, err = s.deps.OTLP.ExportLogs(r.Context(), ld); err != nil {
			return s.otlpError(w, r, enc, err)
		}
		out, err = otlp.LogsResponse(enc, res.Rejected, res.Message)
		if err != nil {
			return err
		}
	} else {
		td, err := otlp.DecodeTraces(enc, data)
		if err != nil {
			return s.otlpError(w, r, enc, err)
		}
		if res, err = s.deps.OTLP.ExportTraces(r.Context(), td); err != nil {
			return s.otlpError(w, r, enc, err)
		}
		out, err = otlp.TracesResponse(enc, res.Rejected, res.Message)
		if err != nil {
			return err
		}
	}
	writeOTLP(w, enc, http.StatusOK, out)
	return nil
}

// otlpError answers err with its status and a google.rpc.Status body in the
// request's encoding. Internal errors are logged and shown only as
// "internal error"; 503 carries Retry-After, which OTLP clients honour.
func (s *Server) otlpError(w http.ResponseWriter, r *http.Request, enc otlp.Encoding, err error) error {
	status := ErrorStatus(roman.ErrorCode(err))
	msg := roman.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		s.logger.ErrorContext(r.Context(), "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
		msg = "internal error"
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	b, mErr := otlp.StatusBody(enc, msg)
	if mErr != nil {
		return err
	}
	writeOTLP(w, enc, status, b)
	return nil
}

func writeOTLP(w http.ResponseWriter, enc otlp.Encoding, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", enc.ContentType())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
