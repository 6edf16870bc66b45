package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// An account with login_requires_all and login_methods publickey,password
// needs both in one SSH login, in either order, through partial success.
func TestAuthPublicKeyAndPassword(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	yes := true
	env := ferrytest.NewEngine(t, ferrytest.User("both", "pw", ferrytest.PublicKey(line),
		ferrytest.WithPolicy(func(p *ferry.Policy) {
			p.LoginMethods = []string{ferry.MethodPublicKey, ferry.MethodPassword}
			p.RequireAllMethods = &yes
		})))
	addr := startServer(t, env)
	kbd := ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
		return []string{"pw"}, nil
	})

	for _, tt := range []struct {
		name string
		auth []ssh.AuthMethod
		ok   bool
	}{
		{"key then password", []ssh.AuthMethod{ssh.PublicKeys(signer), ssh.Password("pw")}, true},
		{"password then key", []ssh.AuthMethod{ssh.Password("pw"), ssh.PublicKeys(signer)}, true},
		{"key then keyboard-interactive", []ssh.AuthMethod{ssh.PublicKeys(signer), kbd}, true},
		{"key only", []ssh.AuthMethod{ssh.PublicKeys(signer)}, false},
		{"password only", []ssh.AuthMethod{ssh.Password("pw")}, false},
		{"key then wrong password", []ssh.AuthMethod{ssh.PublicKeys(signer), ssh.Password("nope")}, false},
		{"password then wrong key", []ssh.AuthMethod{ssh.Password("pw"), ssh.PublicKeys(otherSigner)}, false},
	} {
		c, err := ssh.Dial("tcp", addr, clientConfig("both", tt.auth...))
		if tt.ok != (err == nil) {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err == nil {
			if _, err := c.NewSession(); err != nil {
				t.Errorf("%s: session: %v", tt.name, err)
			}
			c.Close()
		}
	}

	// A service offering only passwords cannot complete the login.
	addr2 := startServer(t, env, func(o *Options) { o.AuthMethods = []string{MethodPassword} })
	if _, err := ssh.Dial("tcp", addr2, clientConfig("both", ssh.Password("pw"), ssh.PublicKeys(signer))); err == nil {
		t.Error("login completed on a password-only service")
	}
}
