// Package sentry receives Sentry integration-platform webhooks: it verifies
// their signature (HMAC-SHA256 of the raw body with the integration's
// client secret, lowercase hex in Sentry-Hook-Signature), decodes the
// `error` and `issue` resources, and maps them to roman: an error becomes
// an error event of the release it names, a created issue marks its
// fingerprint as new for the judge.
package sentry

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/intake"
)

// Header names of a Sentry webhook request.
const (
	HeaderSignature = "Sentry-Hook-Signature"
	HeaderResource  = "Sentry-Hook-Resource"
	HeaderTimestamp = "Sentry-Hook-Timestamp"
	HeaderRequestID = "Request-ID"
)

// Resources roman acts on; every other resource (installation,
// event_alert, metric_alert, comment, …) is acknowledged and ignored.
const (
	ResourceError = "error"
	ResourceIssue = "issue"
)

// MaxBodyBytes caps a webhook's body. It is read before the signature is
// verified, so it is kept small; Sentry trims an event's stack frames and
// context well below it.
const MaxBodyBytes = 256 << 10

// FingerprintPrefix starts the fingerprint of an event Sentry grouped into
// an issue: "sentry:" and the issue id. Sentry's grouping (its own
// fingerprint rules included) decides the issue, so all events of one
// issue share one roman fingerprint, and an issue.created webhook marks the
// same fingerprint its events carry.
const FingerprintPrefix = "sentry:"

// Sign returns the Sentry-Hook-Signature of body under secret: the
// lowercase hex HMAC-SHA256 of the raw body keyed with the client secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook's Sentry-Hook-Signature against its raw body in
// constant time. The error says what is wrong (missing, malformed, wrong)
// for the server's log; the caller answers every case alike (401).
func Verify(secret []byte, signature string, body []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("no client secret configured")
	}
	sig := strings.TrimSpace(signature)
	if sig == "" {
		return fmt.Errorf("missing %s header", HeaderSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("malformed %s header (want 64 hex digits)", HeaderSignature)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return fmt.Errorf("%s does not match the body", HeaderSignature)
	}
	return nil
}

// Payload is a decoded webhook: its resource and action, and the error or
// issue it carries.
type Payload struct {
	Resource string
	Action   string
	// Error is set for the error resource, Issue for the issue resource.
	Error *Error
	Issue *Issue
}

// Error is what roman uses of an `error` webhook's data.error.
type Error struct {
	EventID     string
	IssueID     string
	Release     string
	Environment string
	Title       string
	Message     string
	Level       string
	// Fingerprint is Sentry's fingerprint list ("{{ default }}" unless the
	// SDK or a rule set one).
	Fingerprint []string
	// Type and Value are the innermost exception's; Stack its frames,
	// innermost first, one per line.
	Type, Value, Stack string
	// OccurredAt is the event's datetime (or timestamp); zero when it
	// has neither.
	OccurredAt time.Time
	// Tags are the event's tags (release, environment, …).
	Tags map[string]string
}

// Issue is what roman uses of an `issue` webhook's data.issue.
type Issue struct {
	ID          string
	Title       string
	Level       string
	ProjectSlug string
	FirstSeen   time.Time
}

// invalid is a decoding error naming the field.
func invalid(format string, args ...any) error {
	return roman.Errorf(roman.EINVALID, format, args...)
}

// Decode decodes a webhook body of the given resource (the
// Sentry-Hook-Resource header). Resources other than error and issue are
// returned with only Resource and Action set. The errors name what is
// wrong: invalid JSON, a missing data.error, a field of the wrong type.
func Decode(resource string, body []byte) (*Payload, error) {
	resource = strings.TrimSpace(resource)
	if resource == "" {
		return nil, invalid("missing %s header", HeaderResource)
	}
	if p := roman.JSONTextProblem(body, true); p != "" {
		return nil, invalid("webhook body: %s", p)
	}
	var env struct {
		Action string          `json:"action"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, invalid("webhook body is not a JSON object: %s", jsonProblem(err))
	}
	p := &Payload{Resource: resource, Action: env.Action}
	switch resource {
	case ResourceError:
		var data struct {
			Error *wireError `json:"error"`
		}
		if err := decodeData(env.Data, &data); err != nil {
			return nil, err
		}
		if data.Error == nil {
			return nil, invalid("data.error: required for resource error")
		}
		e, err := data.Error.decode()
		if err != nil {
			return nil, err
		}
		p.Error = e
	case ResourceIssue:
		var data struct {
			Issue *wireIssue `json:"issue"`
		}
		if err := decodeData(env.Data, &data); err != nil {
			return nil, err
		}
		if data.Issue == nil {
			return nil, invalid("data.issue: required for resource issue")
		}
		is, err := data.Issue.decode()
		if err != nil {
			return nil, err
		}
		p.Issue = is
	}
	return p, nil
}

func decodeData(raw json.RawMessage, v any) error {
	if b := bytes.TrimSpace(raw); len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return invalid("data: required")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return invalid("data: %s", jsonProblem(err))
	}
	return nil
}

// jsonProblem describes a JSON error without quoting the body.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "value"
		}
		return fmt.Sprintf("%s: want %s, got JSON %s", field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	return "invalid JSON"
}

// flexString accepts a JSON string, number or null (Sentry sends ids as
// strings, but older payloads and other senders use numbers).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return &json.UnmarshalTypeError{Value: "non-string", Type: reflect.TypeOf("")}
		}
		*f = flexString(n.String())
	}
	return nil
}

type wireError struct {
	EventID     flexString        `json:"event_id"`
	IssueID     flexString        `json:"issue_id"`
	Release     flexString        `json:"release"`
	Environment flexString        `json:"environment"`
	Title       flexString        `json:"title"`
	Message     flexString        `json:"message"`
	Level       flexString        `json:"level"`
	Datetime    flexString        `json:"datetime"`
	Timestamp   *float64          `json:"timestamp"`
	Fingerprint []flexString      `json:"fingerprint"`
	Tags        []json.RawMessage `json:"-"`
	Metadata    struct {
		Type  flexString `json:"type"`
		Value flexString `json:"value"`
	} `json:"metadata"`
	Exception *struct {
		Values []struct {
			Type       flexString `json:"type"`
			Value      flexString `json:"value"`
			Module     flexString `json:"module"`
			Stacktrace *struct {
				Frames []wireFrame `json:"frames"`
			} `json:"stacktrace"`
		} `json:"values"`
	} `json:"exception"`
}

type wireFrame struct {
	Function flexString `json:"function"`
	Module   flexString `json:"module"`
	Filename flexString `json:"filename"`
	AbsPath  flexString `json:"abs_path"`
	Lineno   *float64   `json:"lineno"`
}

func (w *wireError) UnmarshalJSON(b []byte) error {
	type plain wireError
	var aux struct {
		plain
		Tags json.RawMessage `json:"tags"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*w = wireError(aux.plain)
	if t := bytes.TrimSpace(aux.Tags); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &w.Tags); err != nil {
			return err
		}
	}
	return nil
}

func (w *wireError) decode() (*Error, error) {
	e := &Error{EventID: string(w.EventID), IssueID: string(w.IssueID), Release: string(w.Release), Environment: string(w.Environment),
		Title: string(w.Title), Message: string(w.Message), Level: strings.ToLower(string(w.Level)), Tags: map[string]string{}}
	for _, f := range w.Fingerprint {
		e.Fingerprint = append(e.Fingerprint, string(f))
	}
	// Tags are [key, value] pairs; anything else is skipped.
	for _, raw := range w.Tags {
		var kv []flexString
		if json.Unmarshal(raw, &kv) == nil && len(kv) == 2 {
			e.Tags[string(kv[0])] = string(kv[1])
		}
	}
	if e.Release == "" {
		e.Release = e.Tags["release"]
	}
	if e.Environment == "" {
		e.Environment = e.Tags["environment"]
	}
	e.Type, e.Value = string(w.Metadata.Type), string(w.Metadata.Value)
	if w.Exception != nil && len(w.Exception.Values) > 0 {
		// The last exception of the chain is the one raised.
		x := w.Exception.Values[len(w.Exception.Values)-1]
		if x.Type != "" {
			e.Type = string(x.Type)
			if x.Module != "" && !strings.Contains(e.Type, ".") {
				e.Type = string(x.Module) + "." + e.Type
			}
		}
		if x.Value != "" {
			e.Value = string(x.Value)
		}
		if x.Stacktrace != nil {
			e.Stack = stack(x.Stacktrace.Frames)
		}
	}
	if dt := strings.TrimSpace(string(w.Datetime)); dt != "" {
		t, err := parseTime(dt)
		if err != nil {
			return nil, invalid("data.error.datetime: %v", err)
		}
		e.OccurredAt = t
	} else if w.Timestamp != nil {
		ts := *w.Timestamp
		if math.IsNaN(ts) || math.IsInf(ts, 0) || ts < 0 || ts > 253402300799 {
			return nil, invalid("data.error.timestamp: not a Unix time in seconds")
		}
		sec, frac := math.Modf(ts)
		e.OccurredAt = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	return e, nil
}

// stack writes Sentry's frames (oldest first) innermost first, one per
// line, so that roman's fingerprint reads its top frames.
func stack(frames []wireFrame) string {
	var b strings.Builder
	for i := len(frames) - 1; i >= 0; i-- {
		f := frames[i]
		fn := string(f.Function)
		if fn == "" {
			fn = "?"
		}
		if f.Module != "" {
			fn = string(f.Module) + "." + fn
		}
		file := string(f.Filename)
		if file == "" {
			file = string(f.AbsPath)
		}
		b.WriteString(fn)
		if file != "" {
			b.WriteString(" (")
			b.WriteString(file)
			if f.Lineno != nil {
				b.WriteString(":")
				b.WriteString(strconv.FormatFloat(*f.Lineno, 'f', -1, 64))
			}
			b.WriteString(")")
		}
		b.WriteString("\n")
	}
	return b.String()
}

type wireIssue struct {
	ID        flexString `json:"id"`
	Title     flexString `json:"title"`
	Level     flexString `json:"level"`
	FirstSeen flexString `json:"firstSeen"`
	Project   *struct {
		Slug flexString `json:"slug"`
	} `json:"project"`
}

func (w *wireIssue) decode() (*Issue, error) {
	is := &Issue{ID: strings.TrimSpace(string(w.ID)), Title: string(w.Title), Level: string(w.Level)}
	if is.ID == "" {
		return nil, invalid("data.issue.id: required")
	}
	if w.Project != nil {
		is.ProjectSlug = string(w.Project.Slug)
	}
	if fs := strings.TrimSpace(string(w.FirstSeen)); fs != "" {
		t, err := parseTime(fs)
		if err != nil {
			return nil, invalid("data.issue.firstSeen: %v", err)
		}
		is.FirstSeen = t
	}
	return is, nil
}

// parseTime reads Sentry's timestamps: RFC 3339 with Z or an offset, or
// Python's isoformat without a zone (UTC).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return checkYear(t)
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return checkYear(t)
	}
	return time.Time{}, fmt.Errorf("not an RFC 3339 timestamp: %q", roman.Clip(s))
}

func checkYear(t time.Time) (time.Time, error) {
	if y := t.UTC().Year(); y < 1970 || y > 9999 {
		return time.Time{}, fmt.Errorf("year %d is out of range", y)
	}
	return t.UTC(), nil
}

// IsError reports whether a Sentry level is one roman counts as an error:
// error and fatal (and an event without a level). Warnings, info and
// debug messages that Sentry also delivers as `error` webhooks are not.
func IsError(level string) bool {
	switch strings.ToLower(level) {
	case "", "error", "fatal", "critical":
		return true
	}
	return false
}

// fingerprint returns the roman fingerprint of a Sentry event: its issue
// ("sentry:<issue id>"), else its own non-default fingerprint, else roman's
// fingerprint of its exception type, message and stack.
func (e *Error) fingerprint(message string) string {
	if e.IssueID != "" {
		return intake.Text(FingerprintPrefix+e.IssueID, intake.MaxFingerprint)
	}
	if len(e.Fingerprint) > 0 && !(len(e.Fingerprint) == 1 && e.Fingerprint[0] == "{{ default }}") {
		return intake.Text(FingerprintPrefix+"fp:"+strings.Join(e.Fingerprint, "|"), intake.MaxFingerprint)
	}
	// Cut to the stored sizes: normalising costs time in proportion.
	msg := intake.Text(e.Value, intake.MaxMessage)
	if msg == "" {
		msg = message
	}
	return roman.Fingerprint(intake.Text(e.Type, 256), msg, intake.Text(e.Stack, intake.MaxMessage))
}
