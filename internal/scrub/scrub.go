// Package scrub removes configured secrets from text that roman keeps after
// an outgoing call: the answers of webhook receivers (the webhook executor's
// step detail, the alert channels' errors). A receiver may echo what it was
// sent in any encoding, so a Scrubber matches every secret in each form a
// receiver is likely to use, and mixtures of them:
//
//   - plain, and with any character URL-encoded (query-escaped, with "+"
//     for a space, or path-escaped; upper- or lower-case hex);
//   - JSON-escaped: any character as \uXXXX (any hex case, surrogate pairs
//     for characters outside the BMP), "\/", "\"" and "\\";
//   - HTML-escaped: &amp; &lt; &gt; &quot; &#39; and their numeric forms;
//   - base64, standard and URL alphabets, padded or not, of the secret on
//     its own or inside a larger encoded text (such as an Authorization
//     header): the characters that depend on the secret alone are removed,
//     whatever its offset.
//
// URLSecrets lists the parts of a webhook URL that are secrets: the whole
// URL, its userinfo, user and password, its path and query, each path
// segment and query value that looks like a token.
package scrub

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/odyssey-1/roman"
)

// MinLength is the shortest secret a Scrubber removes: shorter ones would
// match ordinary words.
const MinLength = 4

// Scrubber removes a fixed set of secrets from text. The zero value and a
// nil *Scrubber remove nothing.
//
// It works on a decoded form of the text: each escape (%XX, \uXXXX, \/,
// an HTML entity) becomes the bytes it stands for, "+" and " " become the
// same, and the secrets, in the same form, are searched for there, in the
// text decoded once and decoded twice (an escaped escape); what a match
// covers in the original text is replaced. Any mixture of the escapes thus
// matches, in either hex case.
type Scrubber struct {
	secrets  []string
	maxMatch int
}

// New returns a Scrubber for the given secrets; empty ones and ones shorter
// than MinLength are ignored.
func New(secrets ...string) *Scrubber {
	s := &Scrubber{}
	seen := map[string]bool{}
	add := func(text string) {
		if utf8.RuneCountInString(text) < MinLength {
			return
		}
		d := decode(text)
		if seen[d.text] {
			return
		}
		seen[d.text] = true
		s.secrets = append(s.secrets, d.text)
		// The longest form of one decoded byte is an escaped escape,
		// three \uXXXX (18 bytes); padding "==" may follow base64.
		s.maxMatch = max(s.maxMatch, 18*len(d.text)+2)
	}
	for _, secret := range secrets {
		if utf8.RuneCountInString(secret) < MinLength {
			continue
		}
		add(secret)
		for _, enc := range base64Forms(secret) {
			add(enc)
		}
	}
	return s
}

// ForURL returns a Scrubber for the secrets of a webhook URL (URLSecrets)
// and the given further secrets, such as the webhook's HMAC key.
func ForURL(rawURL string, secrets ...string) *Scrubber {
	return New(append(URLSecrets(rawURL), secrets...)...)
}

// Scrub returns text with every occurrence of a secret, in any of the
// encodings the package comment lists, replaced by roman.Redacted.
func (s *Scrubber) Scrub(text string) string {
	if s == nil || len(s.secrets) == 0 || text == "" {
		return text
	}
	type span struct{ from, to int }
	var spans []span
	// A receiver may escape an already escaped URL (%252F): the text is
	// searched decoded once and twice.
	once := decode(text)
	twice := decode(once.text)
	for i := range twice.text {
		twice.from[i], twice.to[i] = once.from[twice.from[i]], once.to[twice.to[i]-1]
	}
	for _, d := range []decoded{once, twice} {
		for _, secret := range s.secrets {
			for off := 0; off < len(d.text); {
				i := strings.Index(d.text[off:], secret)
				if i < 0 {
					break
				}
				a, b := off+i, off+i+len(secret)-1
				spans = append(spans, span{d.from[a], d.to[b]})
				off = a + 1
			}
		}
	}
	if len(spans) == 0 {
		return text
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var out strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from <= to; i++ {
			to = max(to, spans[i].to)
		}
		out.WriteString(text[last:from])
		out.WriteString(roman.Redacted)
		last = to
	}
	out.WriteString(text[last:])
	return out.String()
}

// MaxMatch is the longest text one encoded secret can span. Text cut from
// a longer stream is scrubbed whole only if MaxMatch more bytes were read
// past the cut before scrubbing: Excerpt relies on that.
func (s *Scrubber) MaxMatch() int {
	if s == nil {
		return 0
	}
	return s.maxMatch
}

// Excerpt scrubs text and then cuts it to at most limit bytes (on a
// character boundary). text should extend MaxMatch bytes past the limit
// when more was available, so that a secret straddling the limit is
// removed whole rather than leaving its beginning.
func (s *Scrubber) Excerpt(text string, limit int) string {
	out := s.Scrub(text)
	if len(out) <= limit {
		return out
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut]
}

// decoded is text with its escapes decoded: byte i of text came from
// original[from[i]:to[i]].
type decoded struct {
	text     string
	from, to []int
}

// htmlEntities are the named HTML entities decode understands.
var htmlEntities = map[string]rune{"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\''}

// decode undoes, one escape at a time, URL (%XX, "+" for a space), JSON
// (\uXXXX with surrogate pairs, \/ \" \\) and HTML (&amp; &#38; &#x26;)
// escaping. A space and a "+" both become a space.
func decode(s string) decoded {
	d := decoded{from: make([]int, 0, len(s)), to: make([]int, 0, len(s))}
	var b strings.Builder
	emit := func(p []byte, from, to int) {
		for _, c := range p {
			if c == '+' {
				c = ' '
			}
			b.WriteByte(c)
			d.from = append(d.from, from)
			d.to = append(d.to, to)
		}
	}
	var buf [utf8.UTFMax]byte
	emitRune := func(r rune, from, to int) {
		emit(buf[:utf8.EncodeRune(buf[:], r)], from, to)
	}
	for i := 0; i < len(s); {
		if r, n := unescape(s[i:]); n > 0 {
			if r < 0x80 {
				emit([]byte{byte(r)}, i, i+n)
			} else if r < 0x100 && s[i] == '%' {
				emit([]byte{byte(r)}, i, i+n) // one byte of a URL-encoded UTF-8 sequence
			} else {
				emitRune(r, i, i+n)
			}
			i += n
			continue
		}
		emit([]byte{s[i]}, i, i+1)
		i++
	}
	d.text = b.String()
	return d
}

// unescape decodes the escape at the start of s, returning the character
// (a byte value for %XX) and the escape's length, or 0 when s starts with
// none.
func unescape(s string) (rune, int) {
	switch {
	case len(s) >= 3 && s[0] == '%' && isHex(s[1]) && isHex(s[2]):
		v, _ := strconv.ParseUint(s[1:3], 16, 8)
		return rune(v), 3
	case len(s) >= 6 && s[0] == '\\' && s[1] == 'u' && allHex(s[2:6]):
		v, _ := strconv.ParseUint(s[2:6], 16, 32)
		r := rune(v)
		if utf16.IsSurrogate(r) && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' && allHex(s[8:12]) {
			v2, _ := strconv.ParseUint(s[8:12], 16, 32)
			if c := utf16.DecodeRune(r, rune(v2)); c != utf8.RuneError {
				return c, 12
			}
		}
		return r, 6
	case len(s) >= 2 && s[0] == '\\' && strings.IndexByte(`/"\\'`, s[1]) >= 0:
		return rune(s[1]), 2
	case s[0] == '&':
		end := strings.IndexByte(s[:min(len(s), 12)], ';')
		if end < 2 {
			return 0, 0
		}
		name := s[1:end]
		if r, ok := htmlEntities[name]; ok {
			return r, end + 1
		}
		if name[0] == '#' {
			var v uint64
			var err error
			if len(name) > 1 && (name[1] == 'x' || name[1] == 'X') {
				v, err = strconv.ParseUint(name[2:], 16, 32)
			} else {
				v, err = strconv.ParseUint(name[1:], 10, 32)
			}
			if err == nil && utf8.ValidRune(rune(v)) {
				return rune(v), end + 1
			}
		}
	}
	return 0, 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// URLSecrets returns the parts of a webhook URL that are secrets, each once:
// the URL as written and unescaped, its userinfo (escaped and not), user and
// password, its path and query when more than "/", and each path segment and
// query value that looks like a token (see TokenLike). An unparsable URL is
// one secret as a whole.
func URLSecrets(rawURL string) []string {
	if rawURL == "" {
		return nil
	}
	out := []string{rawURL}
	if s, err := url.PathUnescape(rawURL); err == nil {
		out = append(out, s)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return out
	}
	if ui := u.User; ui != nil {
		out = append(out, ui.String(), ui.Username())
		if p, ok := ui.Password(); ok {
			out = append(out, ui.Username()+":"+p, p)
		}
	}
	if len(u.Path) > 1 {
		out = append(out, u.EscapedPath(), u.Path)
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if s, err := url.PathUnescape(seg); err == nil && TokenLike(s) {
			out = append(out, s)
		}
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
		if q, err := url.ParseQuery(u.RawQuery); err == nil {
			for _, vs := range q {
				for _, v := range vs {
					if TokenLike(v) {
						out = append(out, v)
					}
				}
			}
		}
	}
	if u.Fragment != "" {
		out = append(out, u.Fragment)
	}
	return out
}

// TokenLike reports whether a path segment or query value looks like a
// token rather than a word of a route: at least 6 characters with a digit or
// with both upper- and lower-case letters, or any 16 characters or more.
// "hooks", "services" and "v1" are not tokens; "T0001", "B07ABCDEF",
// "123456789012345678" and "AbCdEfGhIjKl" are.
func TokenLike(s string) bool {
	n := utf8.RuneCountInString(s)
	if n >= 16 {
		return true
	}
	if n < 6 {
		return false
	}
	var digit, upper, lower bool
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		}
	}
	return digit || (upper && lower)
}

// base64Forms returns the base64 texts that encode s, in the standard and
// URL alphabets: the whole encoding of s (which the pattern matches with or
// without its padding), and for s at each offset inside a larger encoded
// text, the run of characters that only s's bytes determine.
func base64Forms(s string) []string {
	var out []string
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		out = append(out, enc.EncodeToString([]byte(s)))
		for k := 0; k < 3; k++ {
			data := append(make([]byte, k), s...)
			full := enc.EncodeToString(data)
			first := (8*k + 5) / 6
			last := 8 * (k + len(s)) / 6
			if last > len(full) {
				last = len(full)
			}
			if last-first >= MinLength {
				out = append(out, full[first:last])
			}
		}
	}
	return out
}
