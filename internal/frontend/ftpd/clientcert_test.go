package ftpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// testCA issues client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature, // CRLs too (crl_test.go)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a client certificate for cn signed by ca (self-signed
// when ca is nil).
func (ca *testCA) issue(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// withCert presents c whatever CAs the server names (a Go client would
// otherwise skip a certificate from another CA).
func withCert(c tls.Certificate) *tls.Config {
	cfg := clientTLS()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	return cfg
}

func TestClientCertLogin(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	env := ferrytest.NewEngine(t,
		ferrytest.User("alice", "alice-pw", ferrytest.Perm("/=*")),
		ferrytest.User("bob", "bob-pw", ferrytest.Perm("/=*")),
		ferrytest.User("pwonly", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.LoginMethods = []string{"password"} })))
	addr := start(t, env, Options{TLSMode: TLSExplicit, ClientCerts: ClientCertOptional, ClientCAs: ca.pool, CertLogin: CertLoginCert})
	alice := withCert(ca.issue(t, "alice"))

	// USER <CN> logs in with the certificate alone; a pipelined PASS is fine.
	r := mustRaw(t, addr, alice)
	mustCode(t, r.cmd("USER alice"), 232, "USER with alice's certificate")
	mustCode(t, r.cmd("PASS whatever"), 230, "PASS after a certificate login")
	mustCode(t, r.cmd("PBSZ 0"), 200, "PBSZ")
	mustCode(t, r.cmd("PROT P"), 200, "PROT P")
	// The protected data connection resumes the session (with its certificate).
	dc, err := r.pasv()
	if err != nil {
		t.Fatal(err)
	}
	r.send("LIST")
	mustCode(t, r.read(), 150, "LIST")
	if _, err := io.ReadAll(dc); err != nil {
		t.Fatal(err)
	}
	dc.Close()
	mustCode(t, r.read(), 226, "LIST end")

	// Another name than the certificate's: an ordinary password login.
	r = mustRaw(t, addr, alice)
	mustCode(t, r.cmd("USER bob"), 331, "USER bob with alice's certificate")
	mustCode(t, r.cmd("PASS bob-pw"), 230, "bob's password")
	// No certificate: passwords as usual.
	r = mustRaw(t, addr, clientTLS())
	mustCode(t, r.cmd("USER alice"), 331, "USER without a certificate")
	mustCode(t, r.cmd("PASS alice-pw"), 230, "PASS")
	// The account's login_methods may leave certificates out.
	r = mustRaw(t, addr, withCert(ca.issue(t, "pwonly")))
	mustCode(t, r.cmd("USER pwonly"), 530, "certificate for a password-only account")
	// A certificate for an unknown user is a failed login.
	r = mustRaw(t, addr, withCert(ca.issue(t, "mallory")))
	mustCode(t, r.cmd("USER mallory"), 530, "certificate for an unknown user")

	// A certificate from another CA fails the handshake.
	if r, err := dialRaw(addr, withCert((*testCA)(nil).issue(t, "alice"))); err == nil {
		rep := r.cmd("USER alice")
		r.close()
		if rep.Code != 0 {
			t.Fatalf("self-signed certificate accepted: USER got %d", rep.Code)
		}
	}
}

func TestClientCertRequiredWithPassword(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	env := ferrytest.NewEngine(t,
		ferrytest.User("alice", "alice-pw", ferrytest.Perm("/=*")),
		ferrytest.User("bob", "bob-pw", ferrytest.Perm("/=*")))
	addr := start(t, env, Options{TLSMode: TLSExplicit, ClientCerts: ClientCertRequired, ClientCAs: ca.pool, CertLogin: CertLoginCertPassword})
	alice := withCert(ca.issue(t, "alice"))

	// Plain text login is refused: a certificate needs TLS.
	r := mustRaw(t, addr, nil)
	mustCode(t, r.cmd("USER alice"), 530, "USER before AUTH TLS")
	// No certificate: the handshake fails (TLS 1.3 reports it at the first read).
	if r, err := dialRaw(addr, clientTLS()); err == nil {
		if rep := r.cmd("USER alice"); rep.Code != 0 {
			t.Fatalf("TLS without a certificate: USER got %d", rep.Code)
		}
		r.close()
	}
	// The certificate and the password are both checked.
	r = mustRaw(t, addr, alice)
	mustCode(t, r.cmd("USER alice"), 331, "USER alice")
	mustCode(t, r.cmd("PASS wrong"), 530, "wrong password")
	mustCode(t, r.cmd("USER alice"), 331, "USER alice")
	mustCode(t, r.cmd("PASS alice-pw"), 230, "certificate and password")
	// Someone else's password with alice's certificate fails.
	r = mustRaw(t, addr, alice)
	mustCode(t, r.cmd("USER bob"), 331, "USER bob")
	mustCode(t, r.cmd("PASS bob-pw"), 530, "bob's password with alice's certificate")
}

func TestClientCertOptionsChecked(t *testing.T) {
	env := ferrytest.NewEngine(t)
	for _, o := range []Options{
		{TLSMode: TLSOff, ClientCerts: ClientCertOptional, ClientCAs: x509.NewCertPool()},
		{TLSMode: TLSExplicit, TLS: serverTLS(t), ClientCerts: ClientCertOptional},
		{TLSMode: TLSExplicit, TLS: serverTLS(t), CertLogin: CertLoginCert, ClientCAs: x509.NewCertPool()},
	} {
		o.Engine = env.Engine
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// TestSessionReuseAcrossConnections: a protected data connection may
// resume the TLS session of another live control connection of the same
// address and user (clients that share one session cache), not of
// another user's.
func TestSessionReuseAcrossConnections(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=*")), ferrytest.User("bob", "pw", ferrytest.Perm("/=*")))
	addr := start(t, env, Options{TLSMode: TLSRequired})
	aliceCache := clientTLS()
	r1 := mustRaw(t, addr, aliceCache)
	if err := r1.login("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	list := func(r *raw, data *tls.Config) int {
		t.Helper()
		r.tls = data
		dc, err := r.pasv()
		if err != nil {
			t.Fatal(err)
		}
		defer dc.Close()
		r.send("LIST")
		mustCode(t, r.read(), 150, "LIST")
		_, _ = io.ReadAll(dc)
		return r.read().Code
	}
	for _, tc := range []struct {
		user string
		want int
	}{{"alice", 226}, {"bob", 522}} {
		r := mustRaw(t, addr, clientTLS())
		if err := r.login(tc.user, "pw"); err != nil {
			t.Fatal(err)
		}
		if got := list(r, aliceCache); got != tc.want {
			t.Errorf("%s's data connection resuming alice's other session: %d, want %d", tc.user, got, tc.want)
		}
	}
}

// TestClientCAPoolSwap: with ClientCAPool (what the app's reload swaps), a
// certificate of a CA not yet in the pool is refused and accepted once the
// pool holds it; a session connected before keeps working after its CA is
// dropped, its protected data connections included (they resume the
// control session against the pool it was verified with).
func TestClientCAPoolSwap(t *testing.T) {
	t.Parallel()
	old, added := newTestCA(t), newTestCA(t)
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "alice-pw", ferrytest.Perm("/=*")))
	var pool atomic.Pointer[x509.CertPool]
	pool.Store(old.pool)
	addr := start(t, env, Options{TLSMode: TLSExplicit, ClientCerts: ClientCertOptional, ClientCAPool: pool.Load,
		CertLogin: CertLoginCert})
	oldCert, newCert := old.issue(t, "alice"), added.issue(t, "alice")

	r := mustRaw(t, addr, withCert(oldCert))
	mustCode(t, r.cmd("USER alice"), 232, "USER with a certificate of the CA in the pool")
	if got := certUser(t, addr, newCert, "alice"); got != 0 {
		t.Errorf("certificate of a CA not in the pool: USER got %d, want a failed handshake", got)
	}

	pool.Store(added.pool)
	if got := certUser(t, addr, newCert, "alice"); got != 232 {
		t.Errorf("certificate of the CA added to the pool: %d, want 232", got)
	}
	if got := certUser(t, addr, oldCert, "alice"); got != 0 {
		t.Errorf("certificate of the CA dropped from the pool: USER got %d, want a failed handshake", got)
	}

	mustCode(t, r.cmd("PBSZ 0"), 200, "PBSZ")
	mustCode(t, r.cmd("PROT P"), 200, "PROT P")
	dc, err := r.pasv()
	if err != nil {
		t.Fatal(err)
	}
	r.send("LIST")
	mustCode(t, r.read(), 150, "LIST of the session connected before the swap")
	if _, err := io.ReadAll(dc); err != nil {
		t.Fatalf("data connection of the session connected before the swap: %v", err)
	}
	dc.Close()
	mustCode(t, r.read(), 226, "LIST end")
}
