package scrub_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman/internal/scrub"
	"github.com/odyssey-1/roman/internal/testkit"
)

// TestScrubEveryEncoding: every secret of a webhook URL and its HMAC key,
// echoed in every encoding, is gone after Scrub; the rest of the answer
// stays.
func TestScrubEveryEncoding(t *testing.T) {
	rawURL := testkit.SecretURL("https://hooks.example:8443")
	const hmacKey = "hmac-Key/with+special=chars&<>"
	pieces := testkit.SecretPieces(rawURL, hmacKey)
	s := scrub.ForURL(rawURL, hmacKey)
	text := testkit.EchoBody(nil, pieces) + "\nall good otherwise"
	got := s.Scrub(text)
	if leaks := testkit.Leaks(got, pieces); len(leaks) > 0 {
		t.Fatalf("still in the scrubbed text: %q\n%s", leaks, got)
	}
	if !strings.Contains(got, "all good otherwise") || !strings.Contains(got, "no route for this request") {
		t.Errorf("scrubbed too much: %s", got)
	}
}

// TestScrubBase64AtAnyOffset: a secret inside a longer base64 text (an
// Authorization header, a JSON document) is removed whatever its offset.
func TestScrubBase64AtAnyOffset(t *testing.T) {
	const secret = "xoxb-secret-path-token-987"
	s := scrub.New(secret)
	for k := 0; k < 3; k++ {
		data := strings.Repeat("p", k) + `{"url":"` + secret + `"}`
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			got := s.Scrub(enc.EncodeToString([]byte(data)))
			dec := decodeLoose(got)
			if strings.Contains(dec, secret[1:len(secret)-1]) {
				t.Errorf("offset %d: %q still decodes to the secret", k, got)
			}
		}
	}
}

// decodeLoose decodes every base64 run of text, so that a test can see
// whether a secret survives inside it.
func decodeLoose(text string) string {
	var out strings.Builder
	for _, part := range strings.FieldsFunc(text, func(r rune) bool { return r == '[' || r == ']' }) {
		for k := 0; k < 4; k++ {
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				p := strings.TrimRight(part, "=")
				if k > len(p) {
					continue
				}
				b, _ := enc.DecodeString(p[k : k+(len(p)-k)/4*4])
				out.Write(b)
				out.WriteByte('\n')
			}
		}
	}
	return out.String()
}

// TestExcerptKeepsNoPrefixOfASecret: a secret straddling the cut is removed
// whole, not left half.
func TestExcerptKeepsNoPrefixOfASecret(t *testing.T) {
	const secret = "xoxb-secret-path-token-987"
	s := scrub.New(secret)
	text := strings.Repeat("a", 95) + secret + strings.Repeat("b", 50)
	got := s.Excerpt(text[:min(len(text), 100+s.MaxMatch())], 100)
	if strings.Contains(got, "xoxb-") || len(got) > 100 {
		t.Errorf("Excerpt = %q", got)
	}
}

// TestTokenLike names which URL parts count as tokens.
func TestTokenLike(t *testing.T) {
	for s, want := range map[string]bool{
		"hooks": false, "services": false, "v1": false, "api": false, "webhooks": false,
		"T0001A": true, "B07ABCDEF": true, "123456789012345678": true, "AbCdEfGh": true,
		"averylongwordwithoutdigits": true,
	} {
		if got := scrub.TokenLike(s); got != want {
			t.Errorf("TokenLike(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestScrubIsFast: a 64 KiB answer is scrubbed of a URL's secrets in well
// under the time of the call that fetched it.
func TestScrubIsFast(t *testing.T) {
	rawURL := testkit.SecretURL("https://hooks.example")
	s := scrub.ForURL(rawURL, "an-hmac-secret-key")
	text := strings.Repeat("lorem ipsum dolor sit amet, 0123456789 ", 64<<10/40)
	start := time.Now()
	s.Scrub(text)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("scrubbing 64 KiB took %s", d)
	}
}

// TestNilAndEmptyScrubbers remove nothing.
func TestNilAndEmptyScrubbers(t *testing.T) {
	var s *scrub.Scrubber
	if s.Scrub("abc") != "abc" || scrub.New("", "ab").Scrub("abc") != "abc" {
		t.Error("a scrubber without secrets changed the text")
	}
}
