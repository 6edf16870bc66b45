package ferry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// UserToken is a named API token of a user, for scripts (HTTP
// "Authorization: Bearer"). Only the SHA-256 of its secret is stored.
type UserToken struct {
	ID   int64
	User string // the account it logs in as
	Name string // unique per user
	Hash string // HashUserToken of the secret
	// CreatedAt is set when stored; a zero ExpiresAt never expires; a zero
	// LastUsedAt means never used.
	CreatedAt, ExpiresAt, LastUsedAt time.Time
}

// Expired reports whether t has expired at now.
func (t *UserToken) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// UserTokenPrefix starts every user token's secret, so a leaked one is
// recognisable (and never mistaken for a password).
const UserTokenPrefix = "fyu_"

// NewUserToken returns a new random secret (256 bits) and its hash.
func NewUserToken() (secret, hash string) {
	secret = UserTokenPrefix + strings.ToLower(rand.Text()+rand.Text())
	return secret, HashUserToken(secret)
}

// HashUserToken returns the stored form of a token secret: the lower-case
// hex SHA-256.
func HashUserToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
