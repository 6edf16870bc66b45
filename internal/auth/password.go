// Package auth checks credentials: password hashes (argon2id, and bcrypt for
// imported accounts) and OpenSSH authorized_keys lines. It is pure apart from
// reading crypto/rand, holds no state, and imports no protocol library: the
// SSH front end hands it a key's wire bytes, not an ssh.PublicKey. Core calls
// it during Login; the CLI and admin API call it to hash and validate.
package auth

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/ferrymft/ferry/internal/ferry"
)

// The argon2id parameters of new hashes. 32 MiB and two passes on two lanes
// cost about 40–60 ms on a two-core machine: slow for a guesser, fast enough
// for a login (64 MiB with one pass measured over 100 ms there). Memory is
// also the per-login peak, so concurrent logins multiply it.
const (
	argonMemory  = 32 * 1024 // KiB
	argonTime    = 2
	argonThreads = 2
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on the parameters of a stored hash, so that a bad or hostile hash
// cannot make a single verification take minutes or gigabytes.
const (
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
	maxArgonTime   = 64
	minSaltLen     = 8
	maxSaltLen     = 64
	minKeyLen      = 16
	maxKeyLen      = 128
	maxBcryptCost  = 16
)

const (
	argonVersion    = argon2.Version
	argonPrefix     = "$argon2id$"
	argonHashFormat = "$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s"
)

// HashPassword returns an argon2id hash of pw in the PHC string format,
// "$argon2id$v=19$m=32768,t=2,p=2$<salt>$<key>", with a random 16-byte salt
// and a 32-byte key, both unpadded standard base64. An empty pw is refused
// with an error wrapping ferry.ErrInvalid.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", fmt.Errorf("%w: password must not be empty", ferry.ErrInvalid)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf(argonHashFormat, argonVersion, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches hash. It accepts argon2id PHC
// strings and bcrypt hashes ($2a$, $2b$, $2y$, as imported from other
// servers; bcrypt only looks at the first 72 bytes of pw). The comparison is
// constant-time. A hash in an unknown or malformed format, or with
// parameters beyond sane bounds, gives an error wrapping ferry.ErrInvalid;
// the error never quotes the hash or the password.
func VerifyPassword(hash, pw string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, argonPrefix):
		h, err := parseArgon(hash)
		if err != nil {
			return false, err
		}
		key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
		return subtle.ConstantTimeCompare(key, h.key) == 1, nil
	case isBcrypt(hash):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return false, fmt.Errorf("%w: bcrypt hash: malformed", ferry.ErrInvalid)
		}
		if cost > maxBcryptCost {
			return false, fmt.Errorf("%w: bcrypt hash: cost %d above %d", ferry.ErrInvalid, cost, maxBcryptCost)
		}
		err = bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		}
		return false, fmt.Errorf("%w: bcrypt hash: malformed", ferry.ErrInvalid)
	}
	return false, fmt.Errorf("%w: password hash: unknown format (accepted: $argon2id$, bcrypt $2a$, $2b$, $2y$)", ferry.ErrInvalid)
}

// DummyVerify costs what VerifyPassword costs on a hash made by
// HashPassword, and answers nothing. Login calls it for an unknown user so
// that the time taken does not tell which user names exist.
func DummyVerify(pw string) {
	key := argon2.IDKey([]byte(pw), []byte(dummySalt), argonTime, argonMemory, argonThreads, argonKeyLen)
	subtle.ConstantTimeCompare(key, []byte(dummyKey))
}

// A fixed salt and key for DummyVerify; their values do not matter.
const (
	dummySalt = "ferry/dummy/salt"
	dummyKey  = "ferry/dummy/key/ferry/dummy/key/"
)

// NeedsRehash reports whether hash should be replaced by a fresh
// HashPassword of the same password (after a successful VerifyPassword):
// true for bcrypt, for argon2id with other parameters than new hashes use,
// and for anything unparsable.
func NeedsRehash(hash string) bool {
	if !strings.HasPrefix(hash, argonPrefix) {
		return true
	}
	h, err := parseArgon(hash)
	if err != nil {
		return true
	}
	return h.memory != argonMemory || h.time != argonTime || h.threads != argonThreads ||
		len(h.salt) != argonSaltLen || len(h.key) != argonKeyLen
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseArgon parses "$argon2id$v=19$m=M,t=T,p=P$salt$key".
func parseArgon(hash string) (argonHash, error) {
	var h argonHash
	bad := func(what string) (argonHash, error) {
		return argonHash{}, fmt.Errorf("%w: argon2id hash: %s", ferry.ErrInvalid, what)
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return bad("want $argon2id$v=19$m=…,t=…,p=…$salt$key")
	}
	if parts[2] != "v="+strconv.Itoa(argonVersion) {
		return bad("unsupported version (only v=19)")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return bad("want parameters m=…,t=…,p=…")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		s, ok := strings.CutPrefix(params[i], name)
		v, err := strconv.ParseUint(s, 10, 32)
		if !ok || err != nil {
			return bad("want parameters m=…,t=…,p=…")
		}
		vals[i] = v
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case p < 1 || p > 255:
		return bad("parallelism out of range 1..255")
	case t < 1 || t > maxArgonTime:
		return bad(fmt.Sprintf("time out of range 1..%d", maxArgonTime))
	case m < 8*p || m > maxArgonMemory:
		return bad(fmt.Sprintf("memory out of range 8*p..%d KiB", maxArgonMemory))
	}
	h.memory, h.time, h.threads = uint32(m), uint32(t), uint8(p)
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(parts[4], "=")); err != nil ||
		len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return bad(fmt.Sprintf("salt must be %d to %d bytes of base64", minSaltLen, maxSaltLen))
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(parts[5], "=")); err != nil ||
		len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return bad(fmt.Sprintf("key must be %d to %d bytes of base64", minKeyLen, maxKeyLen))
	}
	return h, nil
}

// PasswordPolicy is what a new password must satisfy.
type PasswordPolicy struct {
	MinLength int
	// Blocklist holds refused passwords, in clear or as upper-case SHA-1
	// hex (the form breached-password lists ship in).
	Blocklist map[string]bool
}

// LoadBlocklist reads a file of refused passwords, one per line.
func LoadBlocklist(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("password blocklist: %w", err)
	}
	out := make(map[string]bool)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if h, _, ok := strings.Cut(line, ":"); ok && len(h) == 40 {
			line = h // "HASH:COUNT" as HIBP ships it
		}
		if line != "" {
			out[line] = true
		}
	}
	return out, nil
}

// Check returns an error naming what a new password lacks.
func (p PasswordPolicy) Check(pw string) error {
	if n := utf8.RuneCountInString(pw); n < p.MinLength {
		return fmt.Errorf("%w: password has %d characters, at least %d are required", ferry.ErrInvalid, n, p.MinLength)
	}
	if len(p.Blocklist) > 0 {
		sum := sha1.Sum([]byte(pw))
		if p.Blocklist[pw] || p.Blocklist[strings.ToUpper(hex.EncodeToString(sum[:]))] {
			return fmt.Errorf("%w: password appears in the list of breached passwords; choose another", ferry.ErrInvalid)
		}
	}
	return nil
}
