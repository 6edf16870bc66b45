package ftpd

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// revoke returns a CRL signed by ca listing the certificates.
func (ca *testCA) revoke(t *testing.T, number int64, certs ...tls.Certificate) *x509.RevocationList {
	t.Helper()
	return ca.crlUntil(t, number, time.Now().Add(time.Hour), certs...)
}

// crlUntil returns a CRL signed by ca listing the certificates, whose
// nextUpdate is next.
func (ca *testCA) crlUntil(t *testing.T, number int64, next time.Time, certs ...tls.Certificate) *x509.RevocationList {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: next.Add(-2 * time.Hour), NextUpdate: next}
	for _, c := range certs {
		x, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: x.SerialNumber, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

// certUser tries a certificate-only login and returns the reply code, 0
// when the TLS handshake (or its first read, in TLS 1.3) fails.
func certUser(t *testing.T, addr string, cert tls.Certificate, user string) int {
	t.Helper()
	r, err := dialRaw(addr, withCert(cert))
	if err != nil {
		return 0
	}
	defer r.close()
	return r.cmd("USER " + user).Code
}

// TestClientCertPinsAndCRL: an account with pinned certificates logs in
// only with one of them; a CRL (swapped at run time, as SIGHUP does)
// refuses the certificates it lists at the handshake, also on a resumed
// TLS session.
func TestClientCertPinsAndCRL(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	alice1, alice2, bob := ca.issue(t, "alice"), ca.issue(t, "alice"), ca.issue(t, "bob")
	env := ferrytest.NewEngine(t,
		ferrytest.User("alice", "alice-pw", ferrytest.Perm("/=*"), func(u *ferry.User) {
			u.TLSCertPins = []string{ferry.CertPin(alice1.Certificate[0])}
		}),
		ferrytest.User("bob", "bob-pw", ferrytest.Perm("/=*")))
	var crls atomic.Pointer[[]*x509.RevocationList]
	crls.Store(&[]*x509.RevocationList{ca.revoke(t, 1)}) // empty list
	addr := start(t, env, Options{TLSMode: TLSExplicit, ClientCerts: ClientCertOptional, ClientCAs: ca.pool,
		CertLogin: CertLoginCert, ClientCRLs: func() []*x509.RevocationList { return *crls.Load() }})

	if got := certUser(t, addr, alice1, "alice"); got != 232 {
		t.Errorf("alice's pinned certificate: %d, want 232", got)
	}
	if got := certUser(t, addr, alice2, "alice"); got != 530 {
		t.Errorf("alice's other certificate (same CA and CN, not pinned): %d, want 530", got)
	}
	if got := certUser(t, addr, bob, "bob"); got != 232 {
		t.Errorf("bob (no pins): %d, want 232", got)
	}
	// A session ticket issued before the revocation.
	bobCfg := withCert(bob)
	bobCfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	r := mustRaw(t, addr, bobCfg)
	mustCode(t, r.cmd("USER bob"), 232, "bob before revocation")
	r.close()

	crls.Store(&[]*x509.RevocationList{ca.revoke(t, 2, bob)})
	if got := certUser(t, addr, bob, "bob"); got != 0 {
		t.Errorf("revoked certificate: USER got %d, want a failed handshake", got)
	}
	if r, err := dialRaw(addr, bobCfg); err == nil {
		if got := r.cmd("USER bob").Code; got != 0 {
			t.Errorf("revoked certificate on a resumed session: USER got %d, want a failed handshake", got)
		}
		r.close()
	}
	if got := certUser(t, addr, alice1, "alice"); got != 232 {
		t.Errorf("alice after bob's revocation: %d, want 232", got)
	}
	// A CRL from another CA does not count.
	other := newTestCA(t)
	crls.Store(&[]*x509.RevocationList{other.revoke(t, 1, bob)})
	if got := certUser(t, addr, bob, "bob"); got != 232 {
		t.Errorf("bob with a foreign CRL listing his serial: %d, want 232", got)
	}
}

// TestExpiredCRL: a CRL past its nextUpdate refuses every certificate of
// its issuer at the handshake, revoked or not (a stale CRL may hide
// revocations); a current CRL of the same issuer beside it restores the
// ordinary check, and a stale CRL that the issuer did not sign does not
// count.
func TestExpiredCRL(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	alice := ca.issue(t, "alice")
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "alice-pw", ferrytest.Perm("/=*")))
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	var crls atomic.Pointer[[]*x509.RevocationList]
	crls.Store(&[]*x509.RevocationList{ca.crlUntil(t, 1, past)}) // revokes nothing
	addr := start(t, env, Options{TLSMode: TLSExplicit, ClientCerts: ClientCertOptional, ClientCAs: ca.pool,
		CertLogin: CertLoginCert, ClientCRLs: func() []*x509.RevocationList { return *crls.Load() }})

	if got := certUser(t, addr, alice, "alice"); got != 0 {
		t.Errorf("certificate checked against an expired CRL: USER got %d, want a failed handshake", got)
	}
	// Without a certificate, passwords still work (client_certs=optional).
	r := mustRaw(t, addr, clientTLS())
	if err := r.login("alice", "alice-pw"); err != nil {
		t.Errorf("password login beside an expired CRL: %v", err)
	}
	crls.Store(&[]*x509.RevocationList{ca.crlUntil(t, 1, past), ca.crlUntil(t, 2, future)})
	if got := certUser(t, addr, alice, "alice"); got != 232 {
		t.Errorf("expired CRL beside a current one: %d, want 232", got)
	}
	crls.Store(&[]*x509.RevocationList{ca.crlUntil(t, 3, future, alice)})
	if got := certUser(t, addr, alice, "alice"); got != 0 {
		t.Errorf("revoked by a current CRL: USER got %d, want a failed handshake", got)
	}
	other := newTestCA(t) // same subject name, another key
	crls.Store(&[]*x509.RevocationList{other.crlUntil(t, 1, past)})
	if got := certUser(t, addr, alice, "alice"); got != 232 {
		t.Errorf("stale CRL signed by another CA: %d, want 232", got)
	}
}

// TestExpiredCRLMessage: the refusal names the CRL file and when it
// expired, in the error and in the service's log.
func TestExpiredCRLMessage(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	leaf, err := x509.ParseCertificate(ca.issue(t, "alice").Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(-time.Minute).Truncate(time.Second)
	crl := ca.crlUntil(t, 1, next)
	var logs bytes.Buffer
	env := ferrytest.NewEngine(t)
	srv, err := New(Options{Engine: env.Engine, TLSMode: TLSExplicit, TLS: serverTLS(t), ClientCerts: ClientCertOptional,
		ClientCAs: ca.pool, ClientCRLs: func() []*x509.RevocationList { return []*x509.RevocationList{crl} },
		ClientCRLFile: "/etc/ferry/partners.crl", Service: "ftps", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.opts.TLS.VerifyConnection(tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf, ca.cert}}})
	want := "CRL /etc/ferry/partners.crl expired at " + next.UTC().Format(time.RFC3339) +
		"; refusing client certificates until it is refreshed"
	if err == nil || err.Error() != want {
		t.Fatalf("VerifyConnection = %v, want %q", err, want)
	}
	if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log %q lacks an error %q", logs.String(), want)
	}
}

// TestNotYetValidCRL: a CRL whose thisUpdate is still to come does not
// count for its issuer (OpenSSL's X509_V_ERR_CRL_NOT_YET_VALID): alone, it
// refuses every certificate of its issuer at the handshake, with an error
// logged naming the file and its thisUpdate; a current CRL beside it
// restores the ordinary check; once the clock reaches its thisUpdate it
// applies.
func TestNotYetValidCRL(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	alice := ca.issue(t, "alice")
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "alice-pw", ferrytest.Perm("/=*")))
	clock := &testClock{t: time.Now()}
	early := ca.crlUntil(t, 2, clock.Now().Add(3*time.Hour)) // thisUpdate in an hour
	var crls atomic.Pointer[[]*x509.RevocationList]
	crls.Store(&[]*x509.RevocationList{early})
	logs := &lockedBuffer{}
	addr := start(t, env, Options{TLSMode: TLSExplicit, ClientCerts: ClientCertOptional, ClientCAs: ca.pool,
		CertLogin: CertLoginCert, ClientCRLs: func() []*x509.RevocationList { return *crls.Load() },
		ClientCRLFile: "/etc/ferry/partners.crl", Now: clock.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))})

	if got := certUser(t, addr, alice, "alice"); got != 0 {
		t.Errorf("certificate checked against a CRL not yet valid: USER got %d, want a failed handshake", got)
	}
	want := "CRL /etc/ferry/partners.crl is not yet valid (thisUpdate " + early.ThisUpdate.UTC().Format(time.RFC3339) +
		"); refusing client certificates until then"
	if got := logs.String(); !strings.Contains(got, want) || !strings.Contains(got, "level=ERROR") {
		t.Errorf("log %q lacks an error %q", got, want)
	}
	r := mustRaw(t, addr, clientTLS())
	if err := r.login("alice", "alice-pw"); err != nil {
		t.Errorf("password login beside a CRL not yet valid: %v", err)
	}
	r.close()
	crls.Store(&[]*x509.RevocationList{early, ca.crlUntil(t, 1, clock.Now().Add(time.Hour))})
	if got := certUser(t, addr, alice, "alice"); got != 232 {
		t.Errorf("CRL not yet valid beside a current one: %d, want 232", got)
	}
	crls.Store(&[]*x509.RevocationList{early})
	clock.Add(90 * time.Minute) // past its thisUpdate, before its nextUpdate
	if got := certUser(t, addr, alice, "alice"); got != 232 {
		t.Errorf("CRL once its thisUpdate has come: %d, want 232", got)
	}
}

// TestCRLRefusalLogLimited: while the only CRL of an issuer is expired,
// every handshake with one of its certificates is refused, but the error
// is logged at most once a minute per CRL file; the next line counts the
// refusals not logged. (Each refused connection still has its own
// info-level "TLS handshake failed" line.)
func TestCRLRefusalLogLimited(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	alice := ca.issue(t, "alice")
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "alice-pw", ferrytest.Perm("/=*")))
	clock := &testClock{t: time.Now()}
	crl := ca.crlUntil(t, 1, clock.Now().Add(-time.Minute))
	logs := &lockedBuffer{}
	addr := start(t, env, Options{TLSMode: TLSExplicit, ClientCerts: ClientCertOptional, ClientCAs: ca.pool,
		CertLogin: CertLoginCert, ClientCRLs: func() []*x509.RevocationList { return []*x509.RevocationList{crl} },
		ClientCRLFile: "/etc/ferry/partners.crl", Now: clock.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	msg := "CRL /etc/ferry/partners.crl expired at " + crl.NextUpdate.UTC().Format(time.RFC3339)
	lines := func() []string {
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "level=ERROR") && strings.Contains(l, msg) {
				out = append(out, l)
			}
		}
		return out
	}
	refuse := func(what string) {
		t.Helper()
		if got := certUser(t, addr, alice, "alice"); got != 0 {
			t.Fatalf("%s: USER got %d, want a failed handshake", what, got)
		}
	}

	refuse("first refusal")
	refuse("second refusal")
	clock.Add(59 * time.Second)
	refuse("third refusal")
	if l := lines(); len(l) != 1 || strings.Contains(l[0], "suppressed=") {
		t.Fatalf("within a minute, logged %q, want one error line", l)
	}
	clock.Add(time.Second)
	refuse("refusal a minute after the first")
	l := lines()
	if len(l) != 2 || !strings.Contains(l[1], "suppressed=2") {
		t.Fatalf("after a minute, logged %q, want a second error line with suppressed=2", l)
	}
	refuse("refusal right after")
	if l := lines(); len(l) != 2 {
		t.Fatalf("logged %q, want still two lines", l)
	}
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedBuffer is a log sink written by the server's goroutines and read by
// the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
