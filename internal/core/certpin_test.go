package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// TestLoginClientCertPins: an account with pinned certificates accepts a
// certificate login only with a pinned certificate; passwords are not
// affected; an account without pins accepts any verified certificate.
func TestLoginClientCertPins(t *testing.T) {
	t.Parallel()
	pinA, pinB := ferry.CertPin([]byte("cert A")), ferry.CertPin([]byte("cert B"))
	env := ferrytest.NewEngine(t,
		ferrytest.User("pinned", "pw", func(u *ferry.User) { u.TLSCertPins = []string{strings.Repeat("0", 64), pinA} }),
		ferrytest.User("free", "pw"))
	ctx := context.Background()
	login := func(user, pin, pw string) error {
		req := core.LoginRequest{Protocol: ferry.FTPS, User: user, Password: pw, Remote: remote, TLS: true}
		if pw == "" {
			req.ClientCertCN, req.ClientCertPin = user, pin
		}
		s, err := env.Engine.Login(ctx, req)
		if err == nil {
			s.Close()
		}
		return err
	}
	if err := login("pinned", pinA, ""); err != nil {
		t.Errorf("pinned certificate: %v", err)
	}
	for _, pin := range []string{pinB, ""} {
		if err := login("pinned", pin, ""); !errors.Is(err, ferry.ErrAuth) {
			t.Errorf("certificate %q not pinned: %v, want ErrAuth", pin, err)
		}
	}
	if err := login("pinned", "", "pw"); err != nil {
		t.Errorf("password login of an account with pins: %v", err)
	}
	if err := login("free", pinB, ""); err != nil {
		t.Errorf("account without pins: %v", err)
	}
}

func TestParseCertPin(t *testing.T) {
	t.Parallel()
	want := strings.Repeat("ab", 32)
	for _, in := range []string{want, strings.ToUpper(want), "sha256:" + want,
		"sha256 Fingerprint=" + strings.TrimSuffix(strings.Repeat("AB:", 32), ":")} {
		if got, err := ferry.ParseCertPin(in); err != nil || got != want {
			t.Errorf("ParseCertPin(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "abc", strings.Repeat("ab", 31), strings.Repeat("zz", 32)} {
		if _, err := ferry.ParseCertPin(in); !errors.Is(err, ferry.ErrInvalid) {
			t.Errorf("ParseCertPin(%q): %v, want ErrInvalid", in, err)
		}
	}
}
