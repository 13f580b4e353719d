package executor_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCommandOutputScrubbed runs a deploy script that echoes the secrets of
// its command line — an option's token, a password given as the next word,
// an Authorization header and a URL's userinfo and query token — plainly,
// URL-escaped, JSON-escaped and base64-encoded: none of them is kept in the
// step detail, and the rest of the output is.
func TestCommandOutputScrubbed(t *testing.T) {
	const token, password, bearer, urlPass, query = "tok3n-5ecret-Value-91", "Pa55word-9x7q", "bearer-XYZ-4242-abcd", "u5erpa55-77", "q7token9k2m1"
	script := `echo "deploying $ROMAN_TARGET_VERSION with $0"; echo "$1 $2"; echo "$3"; echo "$4"; printf '%s' "$0" | base64; echo; printf '%s' "$4" | base64; echo; echo "$5"`
	line := `/bin/sh -c '` + script + `' --api-token=` + token + ` --password ` + password +
		` 'Authorization: Bearer ` + bearer + `' https://ci-bot-7731:` + urlPass + `@hooks.example.com/deploy?token=` + query +
		` ` + url.QueryEscape(`{"p":"`+password+`"}`)
	raw, err := newCommand(t, line, time.Minute).Execute(context.Background(), request())
	if err != nil {
		t.Fatalf("script failed: %v %s", err, raw)
	}
	out := decode(t, raw)["output"].(string)
	if !strings.Contains(out, "deploying v2.5.2 with ") {
		t.Errorf("the output lost what is not secret:\n%s", out)
	}
	for _, secret := range []string{token, password, bearer, urlPass, query} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), url.QueryEscape(secret)} {
			if strings.Contains(out, form) {
				t.Errorf("the output keeps %q (of %q):\n%s", form, secret, out)
			}
		}
	}
	if strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("--api-token=" + token))[:16]) {
		t.Errorf("the output keeps the base64 of the token option:\n%s", out)
	}
}
