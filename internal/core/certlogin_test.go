package core_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// TestLoginClientCert: a verified client certificate whose CN is the user
// authenticates alone (method tls-cert) unless the account's login_methods
// leave it out; combined with a password it takes two steps.
func TestLoginClientCert(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t,
		ferrytest.User("any", "pw"),
		ferrytest.User("pwonly", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.LoginMethods = []string{"password"} })),
		ferrytest.User("certonly", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.LoginMethods = []string{"tls-cert"} })),
		ferrytest.User("both", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
			p.LoginMethods = []string{"tls-cert", "password"}
			p.RequireAllMethods = ptr(true)
		})))
	ctx := context.Background()
	cert := func(user, cn string) core.LoginRequest {
		return core.LoginRequest{Protocol: ferry.FTPS, User: user, ClientCertCN: cn, Remote: remote, TLS: true}
	}
	login := func(req core.LoginRequest) error {
		s, err := env.Engine.Login(ctx, req)
		if err == nil {
			s.Close()
		}
		return err
	}
	if err := login(cert("any", "any")); err != nil {
		t.Errorf("certificate for the user, default methods: %v", err)
	}
	if err := login(cert("certonly", "certonly")); err != nil {
		t.Errorf("certificate, login_methods=tls-cert: %v", err)
	}
	for _, req := range []core.LoginRequest{
		cert("any", "other"),     // CN is another user
		cert("pwonly", "pwonly"), // method not allowed
		cert("both", "both"),     // needs the password too
		cert("nobody", "nobody"), // unknown user
		{Protocol: ferry.FTPS, User: "any", ClientCertCN: "any", Password: "pw", Remote: remote}, // one step only
	} {
		if err := login(req); !errors.Is(err, ferry.ErrAuth) {
			t.Errorf("%s with certificate %q: %v, want ErrAuth", req.User, req.ClientCertCN, err)
		}
	}
	if err := login(core.LoginRequest{Protocol: ferry.FTPS, User: "certonly", Password: "pw", Remote: remote}); !errors.Is(err, ferry.ErrAuth) {
		t.Errorf("password for a tls-cert-only account: %v", err)
	}
	// Certificate then password, as cert+password logins do.
	g, err := env.Engine.Authenticate(ctx, cert("both", "both"))
	if err != nil {
		t.Fatal(err)
	}
	if r := g.Remaining(); !slices.Equal(r, []string{"password"}) {
		t.Fatalf("remaining after the certificate = %v", r)
	}
	req := core.LoginRequest{Protocol: ferry.FTPS, User: "both", Password: "pw", Remote: remote, TLS: true, Prior: g}
	g2, err := env.Engine.Authenticate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	s, err := env.Engine.Open(ctx, g2, req)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
