package roman

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// FingerprintFrames is how many top frames of a stack feed a fingerprint.
const FingerprintFrames = 3

// Placeholders NormalizeMessage puts in place of the variable parts of an
// error message.
const (
	PlaceholderUUID   = "<uuid>"
	PlaceholderEmail  = "<email>"
	PlaceholderString = "<str>"
	PlaceholderHex    = "<hex>"
	PlaceholderNumber = "<n>"
)

// NormalizeMessage replaces the parts of an error message that vary between
// occurrences of one error with placeholders: quoted strings, e-mail
// addresses, UUIDs, hexadecimal ids (0x… and words of at least six hex
// digits that mix digits and letters) and numbers (at the start of a word,
// with an optional decimal part). Runs of white space become one space.
// "user 42 not found: 'bob@example.com'" and "user 7 not found: 'x'" both
// become "user <n> not found: <str>". A word is a run of ASCII letters,
// digits and underscores, as \b sees it, so "v2", "abc123" and short hex
// words such as "a1b2" stay as they are.
//
// It is one pass over the message (ingest computes it for every event
// sent without a fingerprint); BenchmarkFingerprint measures it.
func NormalizeMessage(msg string) string {
	var b strings.Builder
	b.Grow(len(msg))
	space := false // a run of white space is pending
	put := func(s string) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(s)
	}
	for i := 0; i < len(msg); {
		c := msg[i]
		switch {
		case isSpace(c):
			space = true
			i++
			continue
		case c == '"' || c == '\'' || c == '`':
			if end := quoteEnd(msg, i); end > 0 {
				put(PlaceholderString)
				i = end
				continue
			}
		}
		if isLocal(c) && (i == 0 || !isLocal(msg[i-1])) {
			if end := emailEnd(msg, i); end > 0 {
				put(PlaceholderEmail)
				i = end
				continue
			}
		}
		if isWord(c) && (i == 0 || !isWord(msg[i-1])) {
			w := wordEnd(msg, i)
			switch {
			case isUUIDAt(msg, i):
				put(PlaceholderUUID)
				i += 36
				continue
			case isHexID(msg[i:w]):
				put(PlaceholderHex)
				i = w
				continue
			case isDigit(c):
				j := i
				for j < len(msg) && isDigit(msg[j]) {
					j++
				}
				if j+1 < len(msg) && msg[j] == '.' && isDigit(msg[j+1]) {
					for j++; j < len(msg) && isDigit(msg[j]); j++ {
					}
				}
				put(PlaceholderNumber)
				i = j
				continue
			}
			put(msg[i:w])
			i = w
			continue
		}
		// Any other byte (punctuation, the bytes of a non-ASCII
		// character) as it is.
		j := i + 1
		for j < len(msg) && !isSpace(msg[j]) && !isWord(msg[j]) && !isLocal(msg[j]) && msg[j] != '"' && msg[j] != '\'' && msg[j] != '`' {
			j++
		}
		put(msg[i:j])
		i = j
	}
	return b.String()
}

// isSpace is \s: ASCII white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isAlnum(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isWord is \w: the characters of a word.
func isWord(c byte) bool { return isAlnum(c) || c == '_' }

// isLocal reports whether c may be in an e-mail address's local part.
func isLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// wordEnd returns the end of the word that starts at i.
func wordEnd(s string, i int) int {
	for i < len(s) && isWord(s[i]) {
		i++
	}
	return i
}

// quoteEnd returns the offset after the closing quote of the quoted string
// that starts at i ("…" and '…' with backslash escapes, `…` without), or 0
// when it is not closed.
func quoteEnd(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1
		}
	}
	return 0
}

// emailEnd returns the end of the e-mail address whose local part starts at
// i (local@label.label…), or 0 when there is none.
func emailEnd(s string, i int) int {
	j := i
	for j < len(s) && isLocal(s[j]) {
		j++
	}
	if j == len(s) || s[j] != '@' {
		return 0
	}
	label := func(k int) int { // end of a domain label starting at k
		for k < len(s) && (isAlnum(s[k]) || s[k] == '-') {
			k++
		}
		return k
	}
	k := label(j + 1)
	if k == j+1 {
		return 0
	}
	end := 0
	for k+1 < len(s) && s[k] == '.' {
		e := label(k + 1)
		if e == k+1 {
			break
		}
		k, end = e, e
	}
	return end
}

// isUUIDAt reports whether a UUID (8-4-4-4-12 hex digits) starts at i and
// ends a word.
func isUUIDAt(s string, i int) bool {
	if len(s)-i < 36 || len(s) > i+36 && isWord(s[i+36]) {
		return false
	}
	for k := 0; k < 36; k++ {
		c := s[i+k]
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if c != '-' {
				return false
			}
		} else if !isHexDigit(c) {
			return false
		}
	}
	return true
}

// isHexID reports whether a word is a hexadecimal id: 0x followed by hex
// digits, or at least six hex digits mixing digits and letters.
func isHexID(w string) bool {
	if len(w) > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') {
		for k := 2; k < len(w); k++ {
			if !isHexDigit(w[k]) {
				return false
			}
		}
		return true
	}
	if len(w) < 6 {
		return false
	}
	digit, letter := false, false
	for k := 0; k < len(w); k++ {
		c := w[k]
		switch {
		case isDigit(c):
			digit = true
		case isHexDigit(c):
			letter = true
		default:
			return false
		}
	}
	return digit && letter
}

// TopFrames returns up to n frames of stack, the innermost first, each
// normalised so that line numbers, column numbers and program-counter
// offsets do not tell two builds of the same code apart: Go's " +0x1d"
// offsets are removed, other 0x… addresses become <hex> and numbers at the
// start of a word <n>. Blank lines and headers ("Traceback (most recent
// call last):", "goroutine 1 [running]:") are skipped; a Python traceback,
// which lists the innermost frame last, is read from its end. Only the
// frames returned are normalised, so a long stack costs little more than a
// short one.
func TopFrames(stack string, n int) []string {
	lines := strings.Split(strings.ReplaceAll(stack, "\r\n", "\n"), "\n")
	reverse := false
	var frames []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
			continue
		case strings.HasPrefix(l, "Traceback (most recent call last)"):
			reverse = true
			continue
		case strings.HasPrefix(l, "goroutine ") && strings.HasSuffix(l, ":"):
			continue
		}
		frames = append(frames, l)
	}
	if reverse {
		// The last line of a Python traceback is the exception itself.
		if len(frames) > 0 && !strings.HasPrefix(frames[len(frames)-1], "File ") {
			frames = frames[:len(frames)-1]
		}
		for i, j := 0, len(frames)-1; i < j; i, j = i+1, j-1 {
			frames[i], frames[j] = frames[j], frames[i]
		}
	}
	if len(frames) > n {
		frames = frames[:n]
	}
	for i, f := range frames {
		frames[i] = normalizeFrame(f)
	}
	return frames
}

// normalizeFrame normalises one trimmed stack frame (see TopFrames) in one
// pass; runs of white space become one space.
func normalizeFrame(f string) string {
	var b strings.Builder
	b.Grow(len(f))
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case isSpace(c):
			j := i
			for j < len(f) && isSpace(f[j]) {
				j++
			}
			if end := hex0xEnd(f, j+1); j < len(f) && f[j] == '+' && end > 0 {
				i = end // a program-counter offset: dropped with its space
				continue
			}
			b.WriteByte(' ')
			i = j
		case isWord(c) && (i == 0 || !isWord(f[i-1])):
			w := wordEnd(f, i)
			switch {
			case hex0xEnd(f, i) == w:
				b.WriteString(PlaceholderHex)
				i = w
			case isDigit(c):
				j := i
				for j < len(f) && isDigit(f[j]) {
					j++
				}
				if j+1 < len(f) && f[j] == '.' && isDigit(f[j+1]) {
					for j++; j < len(f) && isDigit(f[j]); j++ {
					}
				}
				b.WriteString(PlaceholderNumber)
				i = j
			default:
				b.WriteString(f[i:w])
				i = w
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// hex0xEnd returns the end of the word 0x<hex digits> that starts at i, or
// 0 when none does.
func hex0xEnd(s string, i int) int {
	if i+2 >= len(s) || s[i] != '0' || s[i+1] != 'x' && s[i+1] != 'X' {
		return 0
	}
	j := i + 2
	for j < len(s) && isHexDigit(s[j]) {
		j++
	}
	if j == i+2 || j < len(s) && isWord(s[j]) {
		return 0
	}
	return j
}

// Fingerprint returns roman's own fingerprint of an error that came without
// one: the first 16 hex digits of the SHA-256 of its type, its normalised
// message and its top FingerprintFrames stack frames. Two occurrences of
// one error (other ids, numbers, users, line numbers) get one fingerprint.
func Fingerprint(errorType, message, stack string) string {
	h := sha256.New()
	h.Write([]byte(strings.TrimSpace(errorType)))
	h.Write([]byte{0})
	h.Write([]byte(NormalizeMessage(message)))
	for _, f := range TopFrames(stack, FingerprintFrames) {
		h.Write([]byte{0})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
