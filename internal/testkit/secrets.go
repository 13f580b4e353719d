package testkit

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// SecretURL returns a webhook URL on base (an httptest server's URL) whose
// every part is a secret a receiver may echo: a user and a password with
// characters that every encoding changes, path segments that are tokens and
// a query value that is one.
func SecretURL(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.User = url.UserPassword("deploy-bot-7", "pa ss/w0rd&<x>+=")
	u.Path = "/hooks/T0123ABC/B0456DEF/xoxb-secret-path-token-987"
	u.RawQuery = "sig=q-secret%2F9f8e7d6c+x&mode=plain"
	return u.String()
}

// SecretPieces returns the secrets of a URL made by SecretURL and of an HMAC
// key, each as a receiver may know it.
func SecretPieces(rawURL, hmacSecret string) []string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	pw, _ := u.User.Password()
	pieces := []string{rawURL, u.User.String(), u.User.Username() + ":" + pw, u.User.Username(), pw,
		"T0123ABC", "B0456DEF", "xoxb-secret-path-token-987", u.RawQuery, u.Query().Get("sig")}
	if hmacSecret != "" {
		pieces = append(pieces, hmacSecret)
	}
	return pieces
}

// EchoEncodings returns s in every encoding a receiver may echo it in:
// plain, query- and path-escaped (both hex cases), JSON-escaped the way
// Go's encoder does it (\u0026, \u003c, \u003e) and with "\/", every
// character as \uXXXX, HTML-escaped, and base64 in the standard and URL
// alphabets, padded and not.
func EchoEncodings(s string) []string {
	js, _ := json.Marshal(s)
	jsonGo := string(js[1 : len(js)-1])
	var allU strings.Builder
	for _, r := range s {
		fmt.Fprintf(&allU, `\u%04x`, r)
	}
	qe, pe := url.QueryEscape(s), url.PathEscape(s)
	return []string{
		s,
		qe, lowerHex(qe), pe, lowerHex(pe),
		jsonGo, strings.ReplaceAll(jsonGo, "/", `\/`), allU.String(),
		html.EscapeString(s),
		base64.StdEncoding.EncodeToString([]byte(s)), base64.RawStdEncoding.EncodeToString([]byte(s)),
		base64.URLEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)),
	}
}

// EchoBody is what a receiver that quotes its request in every encoding
// answers: each piece in each of EchoEncodings, the request's headers (with
// the Authorization that Go's client derives from the URL's userinfo) and
// its URI as JSON.
func EchoBody(r *http.Request, pieces []string) string {
	var b strings.Builder
	b.WriteString("no route for this request; you sent:\n")
	for _, p := range pieces {
		for _, e := range EchoEncodings(p) {
			b.WriteString(e + "\n")
		}
	}
	if r != nil {
		h, _ := json.Marshal(map[string]any{"uri": r.URL.RequestURI(), "host": r.Host, "headers": r.Header})
		b.Write(h)
	}
	return b.String()
}

// Leaks returns the encodings of pieces (EchoEncodings) that text contains,
// empty when none: what a scrubbed answer must never hold.
func Leaks(text string, pieces []string) []string {
	var out []string
	for _, p := range pieces {
		for _, e := range EchoEncodings(p) {
			if len(e) >= 4 && strings.Contains(text, e) {
				out = append(out, e)
			}
		}
	}
	return out
}

var percentHex = regexp.MustCompile(`%[0-9A-F]{2}`)

// lowerHex writes the %XX escapes of s in lower case.
func lowerHex(s string) string { return percentHex.ReplaceAllStringFunc(s, strings.ToLower) }
