package roman

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"time"
)

// Role is an API key's role. Each role includes the ones before it.
type Role int

// Roles in increasing order of power.
const (
	RoleNone Role = iota
	RoleRead
	RoleDeploy
	RoleRollback
	RoleAdmin
)

// String returns the role's name.
func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleDeploy:
		return "deploy"
	case RoleRollback:
		return "rollback"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole parses a role name; ok is false for an unknown name.
func ParseRole(s string) (Role, bool) {
	switch s {
	case "read":
		return RoleRead, true
	case "deploy":
		return RoleDeploy, true
	case "rollback":
		return RoleRollback, true
	case "admin":
		return RoleAdmin, true
	}
	return RoleNone, false
}

// APIKey is a stored API key: only its SHA-256 hash is kept.
type APIKey struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"-"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// MinKeyLength is the least length of an API key. Shorter keys are refused
// at start (configured keys) and never match (stored keys, of which only the
// hash is known), because a short key can be guessed.
const MinKeyLength = 16

// GoodKeyAdvice tells an operator how to make a key that is long and random
// enough; start-up errors about short keys end with it.
const GoodKeyAdvice = "make a good one with `openssl rand -hex 32`"

// HashKey returns the hex SHA-256 of a key. Keys are random high-entropy
// tokens, so a fast hash is sufficient and keeps auth off the hot path.
func HashKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Keyring resolves tokens to roles by comparing hashes in constant time.
type Keyring struct {
	keys []APIKey
}

// NewKeyring returns a keyring of the given keys.
func NewKeyring(keys []APIKey) *Keyring { return &Keyring{keys: append([]APIKey(nil), keys...)} }

// Len returns the number of keys.
func (k *Keyring) Len() int { return len(k.keys) }

// Lookup returns the key whose hash matches token. Every key is compared, in
// constant time, so timing does not reveal which key nearly matched. A token
// shorter than MinKeyLength never matches, whatever is stored.
func (k *Keyring) Lookup(token string) (APIKey, bool) {
	if len(token) < MinKeyLength {
		return APIKey{}, false
	}
	h := []byte(HashKey(token))
	var found APIKey
	ok := 0
	for _, key := range k.keys {
		if subtle.ConstantTimeCompare(h, []byte(key.Hash)) == 1 {
			found = key
			ok = 1
		}
	}
	return found, ok == 1
}
