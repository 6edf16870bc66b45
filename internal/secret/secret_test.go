package secret_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/secret"
)

func TestRoundTripAndKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := secret.Load(dir, "", true)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, secret.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", fi, err)
	}
	s := b.Seal("hunter2", "location bank password")
	if !strings.HasPrefix(s, ferry.SealedPrefix) || strings.Contains(s, "hunter2") {
		t.Fatalf("sealed = %q", s)
	}
	if s2 := b.Seal("hunter2", "location bank password"); s2 == s {
		t.Errorf("two seals of the same text are equal (nonce reuse)")
	}
	again, err := secret.Load(dir, "", true) // reads the same key
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open(s, "location bank password"); err != nil || got != "hunter2" {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := again.Open(s, "location other password"); !errors.Is(err, secret.ErrOpen) {
		t.Errorf("Open with other associated data: %v, want ErrOpen", err)
	}
}

func TestWrongKeyFails(t *testing.T) {
	t.Parallel()
	k1 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	k2 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 32)))
	b1, err := secret.Load(t.TempDir(), k1, false)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := secret.Load(t.TempDir(), k2, false)
	if err != nil {
		t.Fatal(err)
	}
	s := b1.Seal("pw", "ad")
	if _, err := b2.Open(s, "ad"); !errors.Is(err, secret.ErrOpen) {
		t.Errorf("Open with the wrong key: %v, want ErrOpen", err)
	}
	if _, err := b1.Open(s[:len(s)-2]+"AA", "ad"); !errors.Is(err, secret.ErrOpen) {
		t.Errorf("Open of altered text: %v, want ErrOpen", err)
	}
	if _, err := secret.Load(t.TempDir(), "short", false); err == nil {
		t.Errorf("a bad FERRY_SECRET_KEY was accepted")
	}
	if _, err := secret.Load(t.TempDir(), "", false); err == nil {
		t.Errorf("a missing key file was accepted without create")
	}
}
