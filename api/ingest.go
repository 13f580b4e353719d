package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// DefaultMaxIngestInflight is the default bound on ingest requests in
// flight: enough to keep both cores decoding while one batch is written,
// few enough that 8 MiB bodies cannot exhaust memory.
var DefaultMaxIngestInflight = max(4, 2*runtime.GOMAXPROCS(0))

// ErrorEventRequest is one error event of POST /errors. Absent and null
// fields are empty: occurred_at defaults to now, severity to "error", and
// without deployment_id the event belongs to the current deployment of its
// service (default "default") in its environment.
type ErrorEventRequest struct {
	DeploymentID string `json:"deployment_id,omitempty"`
	Service      string `json:"service,omitempty"`
	Environment  string `json:"environment,omitempty"`
	OccurredAt   string `json:"occurred_at,omitempty"`
	Message      string `json:"message"`
	Severity     string `json:"severity,omitempty"`
	Fingerprint  string `json:"fingerprint,omitempty"`
	// ErrorType and Stack feed roman's own fingerprint of an event sent
	// without one (roman.Fingerprint); they are not stored.
	ErrorType string `json:"error_type,omitempty"`
	Stack     string `json:"stack,omitempty"`
}

// ErrorsRequest is the body of POST /errors: one event, or {"events": [...]}.
type ErrorsRequest struct {
	Events json.RawMessage `json:"events,omitempty"`
	ErrorEventRequest
}

// MetricSampleRequest is one sample of POST /metrics/samples.
type MetricSampleRequest struct {
	DeploymentID string   `json:"deployment_id,omitempty"`
	Service      string   `json:"service,omitempty"`
	Environment  string   `json:"environment,omitempty"`
	Name         string   `json:"name"`
	Value        *float64 `json:"value"`
	At           string   `json:"at,omitempty"`
}

// MetricsRequest is the body of POST /metrics/samples: one sample, or
// {"samples": [...]}.
type MetricsRequest struct {
	Samples json.RawMessage `json:"samples,omitempty"`
	MetricSampleRequest
}

// IngestResponse answers an accepted batch: it is stored.
type IngestResponse struct {
	Success bool `json:"success"`
	roman.IngestResult
}

// admitIngest takes an ingest slot or answers 429 with Retry-After; the
// returned release must be called when admitted. Handlers call it once the
// body is in, so a slot is held only while a batch is decoded and stored.
func (s *Server) admitIngest(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case s.ingestSlots <- struct{}{}:
		return func() { <-s.ingestSlots }, true
	default:
		w.Header().Set("Retry-After", "1")
		_ = WriteJSON(w, http.StatusTooManyRequests, ErrorResponse{
			Error: fmt.Sprintf("too many ingest requests in flight (limit %d): retry after 1 second", s.cfg.MaxIngestInflight)})
		return nil, false
	}
}

// postErrors serves POST /errors.
func (s *Server) postErrors(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	// The body has arrived before the request takes a slot: the slots
	// count requests being decoded and stored, never uploads in progress.
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	release, ok := s.admitIngest(w)
	if !ok {
		return nil
	}
	defer release()
	evs, batch, ok := fastErrors(body)
	if !ok {
		if evs, batch, err = decodeErrors(body); err != nil {
			return err
		}
	}
	res, err := s.deps.Ingest.IngestErrors(r.Context(), roman.ErrorBatch{Events: evs, Batch: batch})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, IngestResponse{Success: true, IngestResult: *res})
}

// decodeErrors decodes a POST /errors body under the strict body policy,
// naming the item and field of the first problem. fastErrors
// (ingestdecode.go) decodes the common case faster and gives up to this
// function on anything else.
func decodeErrors(body []byte) (evs []roman.ErrorEvent, batch bool, err error) {
	var req ErrorsRequest
	if err := DecodeJSONBytes(body, &req); err != nil {
		return nil, false, err
	}
	var items []ErrorEventRequest
	batch = !isNull(req.Events)
	if batch {
		if req.ErrorEventRequest != (ErrorEventRequest{}) {
			return nil, false, roman.Errorf(roman.EINVALID, "events: give one event or {\"events\": [...]}, not both")
		}
		if items, err = decodeItems[ErrorEventRequest](req.Events, "events"); err != nil {
			return nil, false, err
		}
	} else {
		items = []ErrorEventRequest{req.ErrorEventRequest}
	}
	evs = make([]roman.ErrorEvent, len(items))
	for i, it := range items {
		at, err := parseTime(it.OccurredAt, itemPath("events", batch, i, "occurred_at"))
		if err != nil {
			return nil, false, err
		}
		evs[i] = roman.ErrorEvent{DeploymentID: it.DeploymentID, Service: it.Service, Environment: it.Environment, OccurredAt: at,
			Message: it.Message, Severity: it.Severity, Fingerprint: it.Fingerprint, ErrorType: it.ErrorType, Stack: it.Stack}
	}
	return evs, batch, nil
}

// postMetricSamples serves POST /metrics/samples.
func (s *Server) postMetricSamples(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	// The body has arrived before the request takes a slot: the slots
	// count requests being decoded and stored, never uploads in progress.
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	release, ok := s.admitIngest(w)
	if !ok {
		return nil
	}
	defer release()
	var req MetricsRequest
	if err := DecodeJSONBytes(body, &req); err != nil {
		return err
	}
	var items []MetricSampleRequest
	batch := !isNull(req.Samples)
	if batch {
		single := req.MetricSampleRequest
		if single.DeploymentID != "" || single.Service != "" || single.Environment != "" || single.Name != "" || single.Value != nil || single.At != "" {
			return roman.Errorf(roman.EINVALID, "samples: give one sample or {\"samples\": [...]}, not both")
		}
		if items, err = decodeItems[MetricSampleRequest](req.Samples, "samples"); err != nil {
			return err
		}
	} else {
		items = []MetricSampleRequest{req.MetricSampleRequest}
	}
	ss := make([]roman.MetricSample, len(items))
	for i, it := range items {
		if it.Value == nil {
			return roman.Errorf(roman.EINVALID, "%s: required", itemPath("samples", batch, i, "value"))
		}
		at, err := parseTime(it.At, itemPath("samples", batch, i, "at"))
		if err != nil {
			return err
		}
		ss[i] = roman.MetricSample{DeploymentID: it.DeploymentID, Service: it.Service, Environment: it.Environment, Name: it.Name, Value: *it.Value, At: at}
	}
	res, err := s.deps.Ingest.IngestMetrics(r.Context(), roman.MetricBatch{Samples: ss, Batch: batch})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, IngestResponse{Success: true, IngestResult: *res})
}

// maxIngestItems is the most items one ingest request may carry.
const maxIngestItems = 10000

// decodeItems decodes a JSON array of objects. The common case, a valid
// batch, takes one pass of the standard decoder with unknown fields refused;
// when that fails, the items are decoded one by one under the strict body
// policy so that the error names the item and field: events[3].message.
func decodeItems[T any](raw json.RawMessage, list string) ([]T, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || b[0] != '[' {
		return nil, roman.Errorf(roman.EINVALID, "%s: expected an array of objects", list)
	}
	if roman.JSONTextProblem(b, true) != "" {
		// Text the stores cannot keep, which the decoder below would
		// accept: the item-by-item decoding names the item and field.
		return nil, itemsError[T](b, list)
	}
	var items []T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&items); err == nil {
		switch {
		case len(items) == 0:
			return nil, roman.Errorf(roman.EINVALID, "%s: at least one item is required", list)
		case len(items) > maxIngestItems:
			return nil, roman.Errorf(roman.EINVALID, "%s: %d items; at most %d per request", list, len(items), maxIngestItems)
		}
		return items, nil
	}
	return nil, itemsError[T](b, list)
}

// itemsError finds the first bad item of an array that failed to decode and
// describes it.
func itemsError[T any](b []byte, list string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return malformed(err, dec)
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return malformed(err, dec)
		}
		if i >= maxIngestItems {
			return roman.Errorf(roman.EINVALID, "%s: more than %d items; at most %d per request", list, maxIngestItems, maxIngestItems)
		}
		var it T
		if err := DecodeJSONBytes(raw, &it); err != nil {
			msg := roman.ErrorMessage(err)
			if strings.HasPrefix(msg, "request body must be a JSON object") {
				msg = "expected an object"
			}
			return roman.Errorf(roman.EINVALID, "%s[%d]: %s", list, i, msg)
		}
	}
	return roman.Errorf(roman.EINVALID, "%s: malformed array", list)
}

// itemPath names a field of the i-th item (events[3].occurred_at), or the
// field alone for a single-item body.
func itemPath(list string, batch bool, i int, field string) string {
	if !batch {
		return field
	}
	return fmt.Sprintf("%s[%d].%s", list, i, field)
}

// parseTime parses an optional RFC 3339 timestamp; "" is the zero time.
func parseTime(v, path string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, roman.Errorf(roman.EINVALID, "%s: not an RFC 3339 timestamp (e.g. 2025-12-15T14:35:00Z): %q", path, roman.Clip(v))
	}
	return t, nil
}

func isNull(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) == 0 || bytes.Equal(b, []byte("null"))
}
