// Package alertmanager receives Prometheus Alertmanager's webhook
// notifications (payload version 4): it decodes a group strictly, ties each
// alert to a release by its labels (roman.Attribute), records it once per
// (fingerprint, startsAt) with the audit trail, and tells the monitor so a
// firing trigger alert is judged at once.
package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odyssey-1/roman"
)

// Limits of a webhook message.
const (
	// MaxAlerts is the most alerts one message may carry.
	MaxAlerts = 10000
	// MaxFingerprint is the longest fingerprint accepted (Alertmanager's
	// are 16 hex digits).
	MaxFingerprint = 128
	// MaxSummary is how much of a summary annotation roman keeps.
	MaxSummary = 1024
)

// Message is Alertmanager's webhook payload, version 4 (notify/webhook's
// Message with template.Data embedded). Keys roman does not know are
// ignored, as later Alertmanager versions add some.
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	// NotificationReason is sent from Alertmanager 0.32 on.
	NotificationReason string `json:"notification_reason"`
	// RouteLabels is sent from Alertmanager 0.34 on.
	RouteLabels map[string]string `json:"routeLabels"`
	Alerts      []Alert           `json:"alerts"`
}

// Alert is one alert of a Message.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// wire is what is decoded first: alerts stays raw so that a missing key is
// told from an empty list, and each alert's problems name their index.
type wire struct {
	Message
	Alerts json.RawMessage `json:"alerts"`
}

type wireAlert struct {
	Alert
	StartsAt *string `json:"startsAt"`
	EndsAt   *string `json:"endsAt"`
}

// Decode reads one webhook message. It returns an EINVALID error naming
// the problem: a body that is not one JSON object, a value of the wrong
// type, a version other than "4", no alerts, an alert without a valid
// status, fingerprint or startsAt, text that is not UTF-8 or holds a NUL
// character.
func Decode(body []byte) (*Message, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("request body is required: an Alertmanager webhook message (JSON)")
	}
	if err := checkRawText(body); err != nil {
		return nil, err
	}
	if !utf8.Valid(body) {
		return nil, invalid("request body is not valid UTF-8")
	}
	var w wire
	if err := decodeOne(body, &w); err != nil {
		return nil, err
	}
	m := w.Message
	switch {
	case w.Version == "":
		return nil, invalid(`version: missing; want "4" (an Alertmanager webhook message)`)
	case w.Version != "4":
		return nil, invalid(`version: %q is not supported; want "4"`, clip(w.Version))
	case len(w.Alerts) == 0 || string(w.Alerts) == "null":
		return nil, invalid("alerts: missing; want a list of alerts")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(w.Alerts, &raw); err != nil {
		return nil, invalid("alerts: want a list of alerts")
	}
	if len(raw) == 0 {
		return nil, invalid("alerts: empty; want at least one alert")
	}
	if len(raw) > MaxAlerts {
		return nil, invalid("alerts: %d alerts, at most %d in one message", len(raw), MaxAlerts)
	}
	m.Alerts = make([]Alert, len(raw))
	for i, r := range raw {
		a, err := decodeAlert(r, i)
		if err != nil {
			return nil, err
		}
		m.Alerts[i] = a
	}
	if err := checkText(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// decodeAlert decodes and checks alerts[i].
func decodeAlert(r json.RawMessage, i int) (Alert, error) {
	path := fmt.Sprintf("alerts[%d]", i)
	var wa wireAlert
	if err := decodeOne(r, &wa); err != nil {
		return Alert{}, invalid("%s: %s", path, roman.ErrorMessage(err))
	}
	a := wa.Alert
	switch a.Status {
	case roman.AlertFiring, roman.AlertResolved:
	case "":
		return Alert{}, invalid("%s.status: missing; want firing or resolved", path)
	default:
		return Alert{}, invalid("%s.status: %q; want firing or resolved", path, clip(a.Status))
	}
	switch {
	case a.Fingerprint == "":
		return Alert{}, invalid("%s.fingerprint: missing", path)
	case len(a.Fingerprint) > MaxFingerprint:
		return Alert{}, invalid("%s.fingerprint: longer than %d characters", path, MaxFingerprint)
	}
	var err error
	if wa.StartsAt == nil || *wa.StartsAt == "" {
		return Alert{}, invalid("%s.startsAt: missing", path)
	}
	if a.StartsAt, err = parseTime(*wa.StartsAt); err != nil || a.StartsAt.IsZero() {
		return Alert{}, invalid("%s.startsAt: %q is not an RFC 3339 time", path, clip(*wa.StartsAt))
	}
	if wa.EndsAt != nil && *wa.EndsAt != "" {
		if a.EndsAt, err = parseTime(*wa.EndsAt); err != nil {
			return Alert{}, invalid("%s.endsAt: %q is not an RFC 3339 time", path, clip(*wa.EndsAt))
		}
	}
	return a, nil
}

// decodeOne decodes exactly one JSON object into v, naming a field whose
// value has the wrong type.
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return invalid("%s: want %s, got JSON %s", te.Field, kindOf(te.Type.Kind().String()), te.Value)
		case errors.As(err, &te):
			return invalid("want a JSON object, got JSON %s", te.Value)
		case errors.As(err, &se):
			return invalid("invalid JSON at byte %d: %s", se.Offset, se.Error())
		case errors.Is(err, io.ErrUnexpectedEOF):
			return invalid("invalid JSON: the body ends early")
		}
		return invalid("invalid JSON: %s", err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("invalid JSON: more than one value in the body")
	}
	return nil
}

func kindOf(k string) string {
	switch k {
	case "map", "struct":
		return "an object"
	case "slice":
		return "a list"
	case "string":
		return "a string"
	case "uint64", "int", "int64":
		return "a whole number"
	}
	return k
}

// parseTime parses an RFC 3339 time (Go's zero time "0001-01-01T00:00:00Z"
// included: a firing alert's endsAt).
func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// checkText refuses text a store cannot keep: the NUL character.
func checkText(m *Message) error {
	bad := func(s string) bool { return strings.IndexByte(s, 0) >= 0 }
	badMap := func(kv map[string]string) bool {
		for k, v := range kv {
			if bad(k) || bad(v) {
				return true
			}
		}
		return false
	}
	if bad(m.GroupKey) || bad(m.Receiver) || bad(m.Status) || bad(m.ExternalURL) || badMap(m.GroupLabels) ||
		badMap(m.CommonLabels) || badMap(m.CommonAnnotations) {
		return invalid("text holds a NUL character (\\u0000)")
	}
	for i, a := range m.Alerts {
		if bad(a.Fingerprint) || bad(a.GeneratorURL) || badMap(a.Labels) || badMap(a.Annotations) {
			return invalid("alerts[%d]: text holds a NUL character (\\u0000)", i)
		}
	}
	return nil
}

// clip shortens a value quoted back in an error message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func invalid(format string, args ...any) error {
	return roman.Errorf(roman.EINVALID, format, args...)
}
