package discord

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Interaction request headers (interactions/overview.mdx).
const (
	HeaderSignature = "X-Signature-Ed25519"
	HeaderTimestamp = "X-Signature-Timestamp"
)

// MaxSignatureAge is how far an interaction's timestamp may be from now, in
// either direction, before it is refused as stale (a replay).
const MaxSignatureAge = 5 * time.Minute

// ParsePublicKey parses an application's public key as Discord shows it (64
// hexadecimal digits).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("discord: public key must be 64 hexadecimal digits")
	}
	return ed25519.PublicKey(b), nil
}

// Verify checks an interaction's signature: sigHex must be the Ed25519
// signature of timestamp+body by key, and timestamp (Unix seconds) must be
// within MaxSignatureAge of now. The error says which check failed, for
// logs; callers answer every failure with the same 401.
func Verify(key ed25519.PublicKey, sigHex, timestamp string, body []byte, now time.Time) error {
	if sigHex == "" || timestamp == "" {
		return errors.New("missing signature headers")
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("malformed signature")
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("malformed timestamp")
	}
	msg := make([]byte, 0, len(timestamp)+len(body))
	msg = append(append(msg, timestamp...), body...)
	if !ed25519.Verify(key, msg, sig) {
		return errors.New("signature does not verify")
	}
	if age := now.Sub(time.Unix(secs, 0)); age > MaxSignatureAge || age < -MaxSignatureAge {
		return fmt.Errorf("stale timestamp (%s from now)", age.Round(time.Second))
	}
	return nil
}
