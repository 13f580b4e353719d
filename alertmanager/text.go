package alertmanager

import (
	"strconv"
	"unicode/utf8"
)

// checkRawText refuses, before decoding, text a store cannot keep or that
// the decoder would silently change: bytes that are not UTF-8, the escape
// \u0000, and unpaired UTF-16 surrogate escapes (which would become
// U+FFFD). The error names the message's top-level field that holds it
// ("alerts" for anything inside an alert). Malformed JSON is left to the
// decoder.
func checkRawText(b []byte) error {
	depth, key, lastStr := 0, "", ""
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ':':
			if depth == 1 {
				key = lastStr
			}
		case '"':
			start := i + 1
			j, problem := scanString(b, start)
			if problem != "" {
				field := key
				if depth == 1 && j < len(b) && nextIsColon(b, j+1) {
					field = string(b[start:min(j, len(b))]) // the key itself
				}
				return invalid("%s: text %s", strconv.Quote(field), problem)
			}
			if j >= len(b) {
				return nil // unterminated: the decoder reports it
			}
			lastStr = string(b[start:j])
			i = j
		}
	}
	return nil
}

// nextIsColon reports whether the next non-space byte from i is ':'.
func nextIsColon(b []byte, i int) bool {
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

// scanString scans the string starting at b[start] (after its quote) and
// returns the index of its closing quote and what is wrong with its text.
func scanString(b []byte, start int) (end int, problem string) {
	pendingHigh := false
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			if pendingHigh {
				return i, "holds an unpaired UTF-16 surrogate escape"
			}
			return i, ""
		case c == '\\':
			if i+1 >= len(b) {
				return len(b), ""
			}
			if b[i+1] != 'u' {
				if pendingHigh {
					return i, "holds an unpaired UTF-16 surrogate escape"
				}
				i += 2
				continue
			}
			if i+6 > len(b) {
				return len(b), ""
			}
			v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
			if err != nil {
				return len(b), "" // the decoder reports the bad escape
			}
			switch {
			case v == 0:
				return i, "holds a NUL character (\\u0000)"
			case v >= 0xD800 && v <= 0xDBFF:
				if pendingHigh {
					return i, "holds an unpaired UTF-16 surrogate escape"
				}
				pendingHigh = true
			case v >= 0xDC00 && v <= 0xDFFF:
				if !pendingHigh {
					return i, "holds an unpaired UTF-16 surrogate escape"
				}
				pendingHigh = false
			default:
				if pendingHigh {
					return i, "holds an unpaired UTF-16 surrogate escape"
				}
			}
			i += 6
		default:
			if pendingHigh {
				return i, "holds an unpaired UTF-16 surrogate escape"
			}
			if c < utf8.RuneSelf {
				i++
				continue
			}
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return i, "is not valid UTF-8"
			}
			i += n
		}
	}
	return len(b), ""
}
