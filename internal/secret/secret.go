// Package secret seals the credentials Ferry stores for its remote
// locations: AES-256-GCM under a 32-byte key kept in <data-dir>/secret.key
// (created 0600 on first use) or given in the environment variable
// FERRY_SECRET_KEY (base64). Sealed text starts with ferry.SealedPrefix and
// is bound to what it protects (the associated data), so a sealed password
// copied onto another location's row does not open.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// EnvKey names the environment variable that may hold the key.
const EnvKey = "FERRY_SECRET_KEY"

// KeyFile is the key's file name in the data directory.
const KeyFile = "secret.key"

// ErrOpen means sealed text could not be opened: another key, or altered.
var ErrOpen = errors.New("secret: cannot open sealed value (wrong FERRY_SECRET_KEY or secret.key, or altered data)")

// Box seals and opens secrets with one key.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret: key is %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &Box{aead: g}, nil
}

// Load returns the Box for a data directory: the key from env (the value
// of FERRY_SECRET_KEY, base64) when set, else from dataDir/secret.key,
// created with a random key (mode 0600) when create is true and the file
// does not exist.
func Load(dataDir, env string, create bool) (*Box, error) {
	if env != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(env))
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("secret: %s must be 32 bytes in base64 (openssl rand -base64 32)", EnvKey)
		}
		return New(key)
	}
	p := filepath.Join(dataDir, KeyFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) && create {
		return createKey(p)
	}
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("secret: %s: want 32 bytes in base64", p)
	}
	return New(key)
}

// createKey writes a new random key; O_EXCL makes a concurrent creator
// lose, and the loser reads the winner's key.
func createKey(p string) (*Box, error) {
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Load(filepath.Dir(p), "", false)
	}
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return nil, fmt.Errorf("secret: write %s: %w", p, err)
	}
	return New(key)
}

// Seal encrypts plain, bound to ad (e.g. "location bank password").
func (b *Box) Seal(plain, ad string) string {
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce)
	ct := b.aead.Seal(nonce, nonce, []byte(plain), []byte(ad))
	return ferry.SealedPrefix + base64.RawStdEncoding.EncodeToString(ct)
}

// Open decrypts what Seal returned for the same ad; "" opens to "".
func (b *Box) Open(sealed, ad string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	rest, ok := strings.CutPrefix(sealed, ferry.SealedPrefix)
	if !ok {
		return "", ErrOpen
	}
	ct, err := base64.RawStdEncoding.DecodeString(rest)
	n := b.aead.NonceSize()
	if err != nil || len(ct) < n {
		return "", ErrOpen
	}
	plain, err := b.aead.Open(nil, ct[:n], ct[n:], []byte(ad))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}
