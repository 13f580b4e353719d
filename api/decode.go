package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odyssey-1/roman"
)

// Request body policy (SPEC §9): a body is one JSON object, nothing before
// or after it; every key must be a field of the request type, spelled
// exactly (the standard decoder would also accept "Version" for "version");
// no key may appear twice; each value must have its field's type. Unknown
// fields are rejected rather than ignored because a typo such as
// "with_migration" on a rollback would otherwise silently change what
// happens. Every rejection is EINVALID (400) naming the field.

func tooLarge(limit int64) error {
	return roman.Errorf(roman.ETOOLARGE, "request body exceeds the limit of %d bytes", limit)
}

// ReadBody reads the whole request body. A body over the route's limit
// (the server wraps every body in http.MaxBytesReader) gives ETOOLARGE.
func ReadBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(mbe.Limit)
	} else if err != nil {
		return nil, roman.Errorf(roman.EINVALID, "cannot read request body")
	}
	return b, nil
}

// DecodeJSON reads the request body and decodes it into dst, a pointer to a
// struct, under the body policy above.
func DecodeJSON(r *http.Request, dst any) error {
	b, err := ReadBody(r)
	if err != nil {
		return err
	}
	return DecodeJSONBytes(b, dst)
}

// DecodeJSONBytes decodes data into dst, a pointer to a struct, under the
// body policy above. It reports the first problem as an EINVALID error whose
// message names the offending field.
func DecodeJSONBytes(data []byte, dst any) error {
	fields := jsonFields(reflect.TypeOf(dst).Elem())
	if len(bytes.TrimSpace(data)) == 0 {
		return roman.Errorf(roman.EINVALID, "request body is required: a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return malformed(err, dec)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return roman.Errorf(roman.EINVALID, "request body must be a JSON object")
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed(err, dec)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return malformed(err, dec)
		}
		if seen[key] {
			return roman.Errorf(roman.EINVALID, "duplicate field %q", clip(key))
		}
		seen[key] = true
		ft, ok := fields[key]
		if !ok {
			return roman.Errorf(roman.EINVALID, "unknown field %q", clip(key))
		}
		if p := textProblem(raw, false); p != "" {
			return invalidField(key, "%s", p)
		}
		if err := json.Unmarshal(raw, reflect.New(ft).Interface()); err != nil {
			return fieldTypeError(key, ft, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return malformed(err, dec)
	}
	if _, err := dec.Token(); err != io.EOF {
		return roman.Errorf(roman.EINVALID, "malformed JSON: unexpected data after the JSON object")
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return roman.Errorf(roman.EINVALID, "malformed JSON: %v", err)
	}
	return nil
}

// textProblem describes text in a syntactically valid JSON value that
// PostgreSQL cannot store, or returns "": the escape \u0000 (neither text
// nor jsonb holds a NUL character) and, with stored true (a JSON value kept
// as it is, such as metadata), invalid UTF-8 and unpaired UTF-16 surrogate
// escapes, which jsonb refuses (decoded into a string, the decoder replaces
// both with U+FFFD). Such input is refused with a 400 naming the field
// rather than failing the INSERT with a 500, or being stored on SQLite
// only.
func textProblem(raw []byte, stored bool) string {
	if stored && !utf8.Valid(raw) {
		return "not valid UTF-8"
	}
	// In valid JSON a backslash only starts an escape inside a string.
	for i := 0; i+1 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' || i+6 > len(raw) {
			i++ // skip the escaped character, e.g. the second \ of \\
			continue
		}
		switch r := hex4(raw[i+2 : i+6]); {
		case r == 0:
			return "contains \\u0000 (NUL), which cannot be stored"
		case !stored:
		case r >= 0xD800 && r <= 0xDBFF:
			if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if lo := hex4(raw[i+8 : i+12]); lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return "contains an unpaired UTF-16 surrogate escape"
		case r >= 0xDC00 && r <= 0xDFFF:
			return "contains an unpaired UTF-16 surrogate escape"
		}
		i += 5
	}
	return ""
}

// hex4 reads four hexadecimal digits (-1 when they are not).
func hex4(b []byte) int {
	n, err := strconv.ParseUint(string(b), 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}

// malformed describes a syntax error with its byte offset.
func malformed(err error, dec *json.Decoder) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return roman.Errorf(roman.EINVALID, "malformed JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return roman.Errorf(roman.EINVALID, "malformed JSON: unexpected end of input")
	}
	return roman.Errorf(roman.EINVALID, "malformed JSON at byte %d", dec.InputOffset())
}

// fieldTypeError names the field (and the nested path, when the decoder
// knows it) whose value has the wrong type.
func fieldTypeError(key string, ft reflect.Type, err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) && ute.Field != "" && ute.Type != nil {
		return roman.Errorf(roman.EINVALID, "invalid value for field %q: expected %s", clip(key+"."+ute.Field), typeName(ute.Type))
	}
	return roman.Errorf(roman.EINVALID, "invalid value for field %q: expected %s", clip(key), typeName(ft))
}

// typeName describes a Go type in JSON terms for error messages.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "RFC 3339 timestamp"
	case t == reflect.TypeFor[json.RawMessage]():
		return "JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

// jsonFields maps each JSON key of struct type t to its field's type,
// following the encoding/json tag rules (embedded structs included).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("api: decode target must point to a struct, not %s", t))
	}
	out := make(map[string]reflect.Type)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range jsonFields(et) {
					if _, dup := out[k]; !dup {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// clip shortens caller-supplied text quoted back in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return s[:max]
}

// invalidField returns the EINVALID error for a field whose value breaks a
// rule; the message names the field.
func invalidField(field, format string, args ...any) error {
	return roman.Errorf(roman.EINVALID, "invalid value for field %q: %s", field, fmt.Sprintf(format, args...))
}

// requireFields returns an EINVALID error listing every empty field among
// name/value pairs.
func requireFields(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			missing = append(missing, strconv.Quote(pairs[i]))
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return roman.Errorf(roman.EINVALID, "missing required field %s", missing[0])
	}
	return roman.Errorf(roman.EINVALID, "missing required fields %s", strings.Join(missing, ", "))
}

// checkUUID rejects a value that is not a canonical UUID.
func checkUUID(field, v string) error {
	if !roman.ValidUUID(v) {
		return invalidField(field, "must be a UUID")
	}
	return nil
}

// checkText bounds a free-text field, so a caller cannot store megabytes in
// a version string.
func checkText(field, v string, max int) error {
	if len(v) > max {
		return invalidField(field, "longer than %d bytes", max)
	} else if !utf8.ValidString(v) {
		return invalidField(field, "not valid UTF-8")
	}
	return nil
}

// checkObject accepts an absent or null value or a JSON object.
func checkObject(field string, raw json.RawMessage) error {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	if b[0] != '{' {
		return invalidField(field, "expected object")
	}
	if p := textProblem(b, true); p != "" {
		return invalidField(field, "%s", p)
	}
	return nil
}

// checkTime returns an EINVALID error naming field when t, in UTC, is
// before 1970 or after year 9999. RFC 3339 allows years 0000 to 9999 with
// any offset, so "0000-01-01T00:00:00+01:00" is year -1 in UTC: stored as
// such it could never be written as JSON again, and every list holding the
// row would answer 500.
func checkTime(field string, t *time.Time) error {
	if t == nil {
		return nil
	}
	switch u := t.UTC(); {
	case u.Year() < 1970:
		return invalidField(field, "before 1970")
	case u.Year() > 9999:
		return invalidField(field, "after year 9999 (in UTC)")
	}
	return nil
}

// nullToEmpty turns a JSON null into an absent value.
func nullToEmpty(raw json.RawMessage) json.RawMessage {
	if b := bytes.TrimSpace(raw); len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	return raw
}

// pathUUID returns a path parameter that must be a UUID.
func pathUUID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if !roman.ValidUUID(v) {
		return "", roman.Errorf(roman.EINVALID, "invalid value for path parameter %q: must be a UUID", name)
	}
	return v, nil
}

// queryParams returns the query string, refusing parameters the route does
// not know and parameters given twice, for the same reason unknown body
// fields are refused: a typo must not silently widen a query.
func queryParams(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, roman.Errorf(roman.EINVALID, "malformed query string")
	}
	for k, vs := range q {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		if !known {
			return nil, roman.Errorf(roman.EINVALID, "unknown query parameter %q", clip(k))
		}
		if len(vs) > 1 {
			return nil, roman.Errorf(roman.EINVALID, "query parameter %q given more than once", k)
		}
	}
	return q, nil
}

// queryLimit parses the "limit" parameter: def when absent, else 1..max.
func queryLimit(q url.Values, def, max int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, roman.Errorf(roman.EINVALID, "invalid value for query parameter \"limit\": must be an integer from 1 to %d", max)
	}
	return n, nil
}
