package ferry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// CertPin returns the pin of a certificate: the lowercase hex SHA-256 of its
// DER encoding, as User.TLSCertPins holds it.
func CertPin(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ParseCertPin normalizes a SHA-256 certificate fingerprint written as hex,
// with or without colons, in either case, optionally prefixed "sha256:" or
// as openssl prints it ("sha256 Fingerprint=AB:CD:…").
func ParseCertPin(s string) (string, error) {
	v := strings.TrimSpace(s)
	if j := strings.IndexAny(v, "=:"); j >= 0 && strings.HasPrefix(strings.ToLower(v), "sha256") {
		v = v[j+1:] // "sha256:…" or "SHA256 Fingerprint=…": drop the label
	}
	v = strings.ToLower(strings.ReplaceAll(v, ":", ""))
	if b, err := hex.DecodeString(v); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%w: certificate pin %q: accepted values are SHA-256 fingerprints as 64 hex digits, colons allowed", ErrInvalid, s)
	}
	return v, nil
}
