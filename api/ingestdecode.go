package api

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odyssey-1/roman"
)

// The body of POST /errors has a fixed shape, and a valid batch of 10,000
// events is decoded several times over by the general strict path
// (DecodeJSONBytes walks the body, decodes each member and then the whole
// body; decodeItems decodes the array again). fastErrors decodes the common
// case in one pass instead: a body that is plainly valid — exact keys, no
// key twice, string or null values, no control characters, text the stores
// can keep (valid UTF-8, no escaped NUL or unpaired surrogate), at most
// maxIngestItems items, valid timestamps — gives the same events the
// general path would. Anything else, valid or not, makes it give up, and
// the general path decides, so every accepted body gives the same result
// and every refused one the same message naming the item and field as
// before.

// errorsScanner reads one POST /errors body. The strings it returns are
// substrings of src, one copy of the body, so a batch costs one allocation
// for all its text instead of one per field.
type errorsScanner struct {
	src string
	pos int
}

// fastErrors decodes body as described above; ok is false when it gives up.
func fastErrors(body []byte) (evs []roman.ErrorEvent, batch, ok bool) {
	s := &errorsScanner{src: string(body)}
	var single ErrorEventRequest
	var seen uint16 // bit per top-level key
	var events []roman.ErrorEvent
	if !s.consume('{') {
		return nil, false, false
	}
	if !s.consume('}') {
		for {
			key, ok := s.key()
			if !ok {
				return nil, false, false
			}
			if key == "events" {
				if seen&(1<<15) != 0 {
					return nil, false, false
				}
				seen |= 1 << 15
				if !s.null() {
					if events, ok = s.events(); !ok {
						return nil, false, false
					}
				}
			} else {
				bit, dst := errorField(&single, key)
				if dst == nil || seen&bit != 0 {
					return nil, false, false
				}
				seen |= bit
				if *dst, ok = s.stringOrNull(); !ok {
					return nil, false, false
				}
			}
			if s.consume(',') {
				continue
			}
			if !s.consume('}') {
				return nil, false, false
			}
			break
		}
	}
	s.space()
	if s.pos != len(s.src) {
		return nil, false, false
	}
	if events != nil {
		if single != (ErrorEventRequest{}) {
			return nil, false, false // "give one event or {"events": [...]}"
		}
		return events, true, true
	}
	ev, ok := toEvent(&single)
	if !ok {
		return nil, false, false
	}
	return []roman.ErrorEvent{ev}, false, true
}

// errorField returns the bit and the field of r that key names, or nil.
func errorField(r *ErrorEventRequest, key string) (uint16, *string) {
	switch key {
	case "deployment_id":
		return 1 << 0, &r.DeploymentID
	case "environment":
		return 1 << 1, &r.Environment
	case "service":
		return 1 << 6, &r.Service
	case "occurred_at":
		return 1 << 2, &r.OccurredAt
	case "message":
		return 1 << 3, &r.Message
	case "severity":
		return 1 << 4, &r.Severity
	case "fingerprint":
		return 1 << 5, &r.Fingerprint
	case "error_type":
		return 1 << 7, &r.ErrorType
	case "stack":
		return 1 << 8, &r.Stack
	}
	return 0, nil
}

// toEvent converts an item, parsing its timestamp as parseTime does.
func toEvent(r *ErrorEventRequest) (roman.ErrorEvent, bool) {
	ev := roman.ErrorEvent{DeploymentID: r.DeploymentID, Service: r.Service, Environment: r.Environment,
		Message: r.Message, Severity: r.Severity, Fingerprint: r.Fingerprint, ErrorType: r.ErrorType, Stack: r.Stack}
	if r.OccurredAt != "" {
		t, err := time.Parse(time.RFC3339Nano, r.OccurredAt)
		if err != nil {
			return ev, false
		}
		ev.OccurredAt = t
	}
	return ev, true
}

// events reads a non-empty array of item objects.
func (s *errorsScanner) events() ([]roman.ErrorEvent, bool) {
	if !s.consume('[') {
		return nil, false
	}
	// A guess from the size of the rest of the body, so that the slice is
	// rarely grown: items of the usual size are about 150 bytes.
	out := make([]roman.ErrorEvent, 0, min(maxIngestItems, (len(s.src)-s.pos)/128+1))
	for {
		if len(out) == maxIngestItems || !s.consume('{') {
			return nil, false
		}
		var it ErrorEventRequest
		var seen uint16
		if !s.consume('}') {
			for {
				key, ok := s.key()
				if !ok {
					return nil, false
				}
				bit, dst := errorField(&it, key)
				if dst == nil || seen&bit != 0 {
					return nil, false
				}
				seen |= bit
				if *dst, ok = s.stringOrNull(); !ok {
					return nil, false
				}
				if s.consume(',') {
					continue
				}
				if !s.consume('}') {
					return nil, false
				}
				break
			}
		}
		ev, ok := toEvent(&it)
		if !ok {
			return nil, false
		}
		out = append(out, ev)
		if s.consume(',') {
			continue
		}
		if !s.consume(']') {
			return nil, false
		}
		return out, true
	}
}

// space skips JSON whitespace.
func (s *errorsScanner) space() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// consume skips whitespace and then c, when c is next.
func (s *errorsScanner) consume(c byte) bool {
	s.space()
	if s.pos < len(s.src) && s.src[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// null consumes a JSON null, when it is next.
func (s *errorsScanner) null() bool {
	s.space()
	if len(s.src)-s.pos >= 4 && s.src[s.pos:s.pos+4] == "null" {
		s.pos += 4
		return true
	}
	return false
}

// key reads an object key without escapes and the colon after it.
func (s *errorsScanner) key() (string, bool) {
	s.space()
	if s.pos >= len(s.src) || s.src[s.pos] != '"' {
		return "", false
	}
	start := s.pos + 1
	for i := start; i < len(s.src); i++ {
		switch c := s.src[i]; {
		case c == '"':
			s.pos = i + 1
			return s.src[start:i], s.consume(':')
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// stringOrNull reads a string value; null is "", as encoding/json leaves a
// string field untouched by null.
func (s *errorsScanner) stringOrNull() (string, bool) {
	if s.null() {
		return "", true
	}
	if s.pos >= len(s.src) || s.src[s.pos] != '"' {
		return "", false
	}
	start := s.pos + 1
	plain := true // no escape and no byte above 0x7f
	for i := start; i < len(s.src); i++ {
		switch c := s.src[i]; {
		case c == '"':
			s.pos = i + 1
			v := s.src[start:i]
			// Invalid UTF-8 is refused by the strict path.
			return v, plain || utf8.ValidString(v)
		case c == '\\':
			// An escape: let encoding/json decode this one string.
			end, ok := s.stringEnd(i)
			if !ok {
				return "", false
			}
			s.pos = end
			return s.unquote(start-1, end)
		case c < 0x20:
			return "", false
		case c >= 0x80:
			plain = false
		}
	}
	return "", false
}

// stringEnd returns the offset after the closing quote of the string whose
// escape starts at i.
func (s *errorsScanner) stringEnd(i int) (int, bool) {
	for ; i < len(s.src); i++ {
		switch s.src[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// unquote decodes the quoted string src[from:to] with encoding/json. Text
// that a store cannot keep (an escaped NUL, an unpaired surrogate, invalid
// UTF-8), which encoding/json would accept, is left to the strict path,
// which refuses it naming the field. Such text decodes to a NUL or to
// U+FFFD, so only a string holding either is looked at again: a U+FFFD that
// the client sent is text like any other.
func (s *errorsScanner) unquote(from, to int) (string, bool) {
	q := []byte(s.src[from:to])
	var v string
	if err := json.Unmarshal(q, &v); err != nil {
		return "", false
	}
	if strings.IndexByte(v, 0) >= 0 || strings.Contains(v, "\uFFFD") && roman.JSONTextProblem(q, true) != "" {
		return "", false
	}
	return v, true
}
