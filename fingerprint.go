package roman

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
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

var (
	uuidRE   = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	emailRE  = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+`)
	quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	hexRE    = regexp.MustCompile(`(?i)\b0x[0-9a-f]+\b|\b[0-9a-f]*[0-9][0-9a-f]*[a-f][0-9a-f]*\b|\b[0-9a-f]*[a-f][0-9a-f]*[0-9][0-9a-f]*\b`)
	numberRE = regexp.MustCompile(`\b\d+(?:\.\d+)?`)
	spaceRE  = regexp.MustCompile(`\s+`)
	// frameOffsetRE matches what differs between builds of the same frame:
	// Go's "+0x1d" program-counter offsets.
	frameOffsetRE = regexp.MustCompile(`\s\+0x[0-9a-fA-F]+\b`)
	// frameAddrRE matches addresses in a frame's arguments.
	frameAddrRE = regexp.MustCompile(`\b0x[0-9a-fA-F]+\b`)
)

// NormalizeMessage replaces the parts of an error message that vary between
// occurrences of one error with placeholders: UUIDs, e-mail addresses,
// quoted strings, hexadecimal ids (0x… and words of hex digits that mix
// digits and letters) and numbers. Runs of white space become one space.
// "user 42 not found: 'bob@example.com'" and "user 7 not found: 'x'" both
// become "user <n> not found: <str>".
func NormalizeMessage(msg string) string {
	s := uuidRE.ReplaceAllString(msg, PlaceholderUUID)
	s = quotedRE.ReplaceAllString(s, PlaceholderString)
	s = emailRE.ReplaceAllString(s, PlaceholderEmail)
	s = hexRE.ReplaceAllStringFunc(s, func(w string) string {
		// A short word such as "a1" or "v2" is a name, not an id.
		if len(w) < 6 && !strings.HasPrefix(strings.ToLower(w), "0x") {
			return w
		}
		return PlaceholderHex
	})
	s = numberRE.ReplaceAllString(s, PlaceholderNumber)
	return strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
}

// TopFrames returns up to n frames of stack, the innermost first, each
// normalised so that line numbers, column numbers and program-counter
// offsets do not tell two builds of the same code apart. Blank lines and
// headers ("Traceback (most recent call last):", "goroutine 1 [running]:")
// are skipped; a Python traceback, which lists the innermost frame last,
// is read from its end.
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
		l = frameOffsetRE.ReplaceAllString(l, "")
		l = frameAddrRE.ReplaceAllString(l, PlaceholderHex)
		l = numberRE.ReplaceAllString(l, PlaceholderNumber)
		frames = append(frames, spaceRE.ReplaceAllString(l, " "))
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
	return frames
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
