package webhooksig_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/odyssey-1/roman/webhooksig"
)

// TestSignMatchesTheDocumentedScheme recomputes the signature as a receiver
// in another language would, from the documentation alone.
func TestSignMatchesTheDocumentedScheme(t *testing.T) {
	secret, ts, body := []byte("hmac-key"), "1765807380", []byte(`{"event":"rollback"}`)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := webhooksig.Sign(secret, ts, body); got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
	if got := webhooksig.Timestamp(time.Unix(1765807380, 999e6)); got != ts {
		t.Errorf("Timestamp = %q, want %q", got, ts)
	}
}

func TestVerify(t *testing.T) {
	secret, body := []byte("hmac-key"), []byte(`{"title":"x"}`)
	now := time.Date(2025, 12, 15, 14, 3, 0, 0, time.UTC)
	ts := webhooksig.Timestamp(now)
	sig := webhooksig.Sign(secret, ts, body)
	maxAge := webhooksig.DefaultMaxAge
	for name, tc := range map[string]struct {
		secret    []byte
		sig, ts   string
		body      []byte
		now       time.Time
		wantError string
	}{
		"valid":                 {secret, sig, ts, body, now, ""},
		"valid, receiver late":  {secret, sig, ts, body, now.Add(maxAge), ""},
		"valid, receiver early": {secret, sig, ts, body, now.Add(-maxAge), ""},
		"no signature":          {secret, "", ts, body, now, "missing"},
		"no timestamp":          {secret, sig, "", body, now, "missing"},
		"other scheme":          {secret, strings.TrimPrefix(sig, "sha256="), ts, body, now, "sha256="},
		"garbage timestamp":     {secret, sig, "yesterday", body, now, "malformed timestamp"},
		"wrong key":             {[]byte("other"), sig, ts, body, now, "does not match"},
		"changed body":          {secret, sig, ts, append(append([]byte{}, body...), ' '), now, "does not match"},
		"changed timestamp":     {secret, sig, webhooksig.Timestamp(now.Add(time.Second)), body, now, "does not match"},
		"replayed later":        {secret, sig, ts, body, now.Add(maxAge + time.Second), "stale"},
		"from the future":       {secret, sig, ts, body, now.Add(-maxAge - time.Second), "stale"},
	} {
		err := webhooksig.Verify(tc.secret, tc.sig, tc.ts, tc.body, tc.now, maxAge)
		switch {
		case tc.wantError == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.wantError != "" && (err == nil || !strings.Contains(err.Error(), tc.wantError)):
			t.Errorf("%s: err = %v, want %q", name, err, tc.wantError)
		}
	}
}
