package roman

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The helpers below build the EINVALID errors of input validation. The
// domain types' Validate methods and the API's request checks both use
// them, so a rule and its message are written once and a client gets the
// same answer whichever layer refuses its input.

// MaxShortText bounds the short free-text fields (a deployment's version,
// git_commit and git_branch, a migration's name and hash). The seed's
// columns are unbounded text; the limit keeps one request from storing
// megabytes in a version string while being far above anything a CI system
// sends.
const MaxShortText = 256

// InvalidField returns the EINVALID error for a field whose value breaks a
// rule; the message names the field.
func InvalidField(field, format string, args ...any) *Error {
	return Errorf(EINVALID, "invalid value for field %q: %s", field, fmt.Sprintf(format, args...))
}

// RequireFields returns an EINVALID error listing every blank field among
// name/value pairs, or nil when none is blank. A value of only white space
// counts as blank.
func RequireFields(pairs ...string) error {
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
		return Errorf(EINVALID, "missing required field %s", missing[0])
	}
	return Errorf(EINVALID, "missing required fields %s", strings.Join(missing, ", "))
}

// CheckUUID returns an EINVALID error naming field when v is not a
// canonical UUID.
func CheckUUID(field, v string) error {
	if !ValidUUID(v) {
		return InvalidField(field, "must be a UUID")
	}
	return nil
}

// CheckText returns an EINVALID error naming field when v is longer than
// max bytes or is text that a store cannot keep (see TextProblem).
func CheckText(field, v string, max int) error {
	if len(v) > max {
		return InvalidField(field, "longer than %d bytes", max)
	} else if p := TextProblem(v); p != "" {
		return InvalidField(field, "%s", p)
	}
	return nil
}

// TextProblem describes text that a store cannot keep, or returns "":
// invalid UTF-8, which PostgreSQL refuses, and the NUL character, which
// PostgreSQL refuses and SQLite would keep. A value of a request body has
// been checked already (JSONTextProblem); this check is for text that comes
// another way.
func TextProblem(v string) string {
	if !utf8.ValidString(v) {
		return "not valid UTF-8"
	}
	if strings.IndexByte(v, 0) >= 0 {
		return "contains a NUL character, which cannot be stored"
	}
	return ""
}

// CheckJSONObject accepts an absent or null value or a JSON object that
// both stores can keep; anything else is an EINVALID error naming field.
func CheckJSONObject(field string, raw json.RawMessage) error {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	if b[0] != '{' {
		return InvalidField(field, "expected object")
	}
	if p := JSONTextProblem(b, true); p != "" {
		return InvalidField(field, "%s", p)
	}
	if !json.Valid(b) {
		return InvalidField(field, "not valid JSON")
	}
	return nil
}

// CheckTime returns an EINVALID error naming field when t, in UTC, is
// before 1970 or after year 9999. RFC 3339 allows years 0000 to 9999 with
// any offset, so "0000-01-01T00:00:00+01:00" is year -1 in UTC: stored as
// such it could never be written as JSON again, and every list holding the
// row would fail.
func CheckTime(field string, t time.Time) error {
	switch u := t.UTC(); {
	case u.Year() < 1970:
		return InvalidField(field, "before 1970")
	case u.Year() > 9999:
		return InvalidField(field, "after year 9999 (in UTC)")
	}
	return nil
}

// JSONTextProblem describes text in a syntactically valid JSON value that
// PostgreSQL cannot store, or returns "": the escape \u0000 (neither text
// nor jsonb holds a NUL character) and, with stored true (a JSON value kept
// as it is, such as metadata), invalid UTF-8 and unpaired UTF-16 surrogate
// escapes, which jsonb refuses (decoded into a string, the decoder replaces
// both with U+FFFD). Such input is refused as invalid, naming the field,
// rather than failing the INSERT as an internal error, or being stored on
// SQLite only. Request bodies are checked with stored true throughout: a
// string decoded with U+FFFD in place of what the client sent would be
// stored as text it never sent.
func JSONTextProblem(raw []byte, stored bool) string {
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

// Clip shortens caller-supplied text quoted back in an error message to at
// most 64 bytes, cut at a character boundary and marked with an ellipsis.
func Clip(s string) string {
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

// isNullJSON reports whether raw is absent or the JSON null.
func isNullJSON(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) == 0 || bytes.Equal(b, []byte("null"))
}
