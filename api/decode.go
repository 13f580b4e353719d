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

	"github.com/odyssey-1/roman"
)

// Request body policy: a body is one JSON object, nothing before
// or after it; every key must be a field of the request type, spelled
// exactly (the standard decoder would also accept "Version" for "version");
// no key may appear twice; each value must have its field's type. Unknown
// fields are rejected rather than ignored because a typo such as
// "with_migration" on a rollback would otherwise silently change what
// happens. Text that a store cannot keep is refused too, rather than failing
// the write (PostgreSQL) or being stored (SQLite): the escape \u0000,
// unpaired UTF-16 surrogate escapes and bytes that are not UTF-8, which the
// standard decoder would turn into U+FFFD, storing text the client did not
// send. Every rejection is EINVALID (400) naming the field.

func tooLarge(limit int64) error {
	return roman.Errorf(roman.ETOOLARGE, "request body exceeds the limit of %d bytes", limit)
}

// ReadBody returns the whole request body. The server reads every body
// before the handler runs (within the route's limit and the body timeout),
// so this only hands over those bytes; on any other body, one over the
// limit gives ETOOLARGE.
func ReadBody(r *http.Request) ([]byte, error) {
	if rb, ok := r.Body.(*readBody); ok && rb.Len() == len(rb.b) {
		_, _ = rb.Seek(0, io.SeekEnd)
		return rb.b, nil
	}
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
			return roman.Errorf(roman.EINVALID, "duplicate field %q", roman.Clip(key))
		}
		seen[key] = true
		ft, ok := fields[key]
		if !ok {
			return roman.Errorf(roman.EINVALID, "unknown field %q", roman.Clip(key))
		}
		if p := roman.JSONTextProblem(raw, true); p != "" && !itemList(ft, raw) {
			return roman.InvalidField(key, "%s", p)
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

// rawMessageType is the type of a field kept as raw JSON.
var rawMessageType = reflect.TypeFor[json.RawMessage]()

// itemList reports whether raw is an array kept as raw JSON: the items of an
// ingest batch, whose text decodeItems checks item by item so that its
// refusal names the item and its field (events[3] and "message") rather than
// the whole list.
func itemList(ft reflect.Type, raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return ft == rawMessageType && len(b) > 0 && b[0] == '['
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
		return roman.Errorf(roman.EINVALID, "invalid value for field %q: expected %s", roman.Clip(key+"."+ute.Field), typeName(ute.Type))
	}
	return roman.Errorf(roman.EINVALID, "invalid value for field %q: expected %s", roman.Clip(key), typeName(ft))
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
			return nil, roman.Errorf(roman.EINVALID, "unknown query parameter %q", roman.Clip(k))
		}
		if len(vs) > 1 {
			return nil, roman.Errorf(roman.EINVALID, "query parameter %q given more than once", k)
		}
	}
	return q, nil
}

// queryScope checks the filters list routes share, each when given: the
// service and environment names and the deployment id.
func queryScope(service, environment, deploymentID string) error {
	if service != "" && !roman.ValidService(service) {
		return roman.Errorf(roman.EINVALID, "invalid value for query parameter \"service\": must match [a-z0-9_-]{1,64}")
	}
	if environment != "" && !roman.ValidEnvironment(environment) {
		return roman.Errorf(roman.EINVALID, "invalid value for query parameter \"environment\": must match [a-z0-9_-]{1,64}")
	}
	if deploymentID != "" && !roman.ValidUUID(deploymentID) {
		return roman.Errorf(roman.EINVALID, "invalid value for query parameter \"deployment_id\": must be a UUID")
	}
	return nil
}

// querySince parses the "since" parameter: nil when absent, else an RFC
// 3339 time, in UTC.
func querySince(q url.Values) (*time.Time, error) {
	v := q.Get("since")
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, roman.Errorf(roman.EINVALID, "invalid value for query parameter \"since\": must be an RFC 3339 timestamp")
	}
	t = roman.UTC(t)
	return &t, nil
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
