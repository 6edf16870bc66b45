package app

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/servicemgr"
)

// fileCA is a CA whose certificate and CRLs these tests write to files
// (the front end's handshake tests have their own in package ftpd).
type fileCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newFileCA(t *testing.T, cn string) *fileCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &fileCA{cert: cert, key: key}
}

func (ca *fileCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// crl returns a DER CRL valid until next listing serials.
func (ca *fileCA) crl(t *testing.T, next time.Time, serials ...int64) []byte {
	t.Helper()
	rl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: next.Add(-2 * time.Hour), NextUpdate: next}
	for _, s := range serials {
		rl.RevokedCertificateEntries = append(rl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now()})
	}
	b, err := x509.CreateRevocationList(rand.Reader, rl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// issue returns a client certificate for cn signed by ca.
func (ca *fileCA) issue(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writeFile(t *testing.T, file string, b []byte) {
	t.Helper()
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func revokedCount(lists []*x509.RevocationList) int {
	n := 0
	for _, l := range lists {
		n += len(l.RevokedCertificateEntries)
	}
	return n
}

// TestClientTrustReload: the CA and CRL files load (CRL as PEM or DER),
// Reload picks up new versions, and a broken file or a CRL no configured
// CA signed keeps the old value in force, with an error naming the file
// and the service.
func TestClientTrustReload(t *testing.T) {
	t.Parallel()
	ca, other := newFileCA(t, "CA"), newFileCA(t, "Other CA")
	dir := t.TempDir()
	caFile, crlFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "crl.pem")
	writeFile(t, caFile, ca.pem())
	next := time.Now().Add(time.Hour)
	writeFile(t, crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: ca.crl(t, next, 7)}))
	tr, err := newClientTrust("ftps", caFile, crlFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCerts()
	defer c.watch(tr)()
	if n := revokedCount(tr.CRLs()); n != 1 {
		t.Fatalf("PEM CRL: %d entries, want 1", n)
	}
	writeFile(t, crlFile, ca.crl(t, next, 7, 8, 9)) // DER
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := revokedCount(tr.CRLs()); n != 3 {
		t.Fatalf("after reload: %d entries, want 3", n)
	}

	mustErr := func(err error, what string, words ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %q", what, err, w)
			}
		}
	}
	writeFile(t, crlFile, []byte("garbage"))
	mustErr(c.Reload(), "reload of a broken CRL", crlFile, "ftps")
	if n := revokedCount(tr.CRLs()); n != 3 {
		t.Fatalf("after a failed reload: %d entries, want the old 3", n)
	}
	writeFile(t, crlFile, other.crl(t, next, 1))
	mustErr(c.Reload(), "reload of a CRL signed by another CA", crlFile, "ftps")
	if n := revokedCount(tr.CRLs()); n != 3 {
		t.Fatalf("after a foreign CRL: %d entries, want the old 3", n)
	}
	_, err = newClientTrust("ftps", caFile, crlFile, slog.New(slog.DiscardHandler))
	mustErr(err, "loading a CRL signed by another CA", crlFile, "client_crl")

	// The CA file: a new one replaces the pool, a broken one keeps it.
	writeFile(t, crlFile, ca.crl(t, next))
	writeFile(t, caFile, append(ca.pem(), other.pem()...))
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.cas.Load().certs); n != 2 {
		t.Fatalf("after adding a CA: %d CAs, want 2", n)
	}
	for _, broken := range [][]byte{[]byte("no certificate here"), nil} {
		writeFile(t, caFile, broken)
		mustErr(c.Reload(), "reload of a CA file without certificates", caFile, "ftps")
		if n := len(tr.cas.Load().certs); n != 2 {
			t.Fatalf("after a failed CA reload: %d CAs, want the old 2", n)
		}
	}
	os.Remove(caFile)
	mustErr(c.Reload(), "reload of a missing CA file", caFile, "ftps")
	if tr.Pool() == nil || len(tr.cas.Load().certs) != 2 {
		t.Fatal("a missing CA file dropped the pool")
	}

	// An expired CRL loads (the front end refuses certificates with it).
	writeFile(t, caFile, ca.pem())
	writeFile(t, crlFile, ca.crl(t, time.Now().Add(-time.Minute)))
	if err := c.Reload(); err != nil {
		t.Fatalf("reload of an expired CRL: %v", err)
	}
	if _, err := newClientTrust("ftps", caFile, filepath.Join(dir, "none.pem"), slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a missing CRL file: no error")
	}
}

// TestFTPClientCAReload: an FTPS service's client_ca is re-read by the
// app's reload (what SIGHUP and ferry reload call). A certificate from a
// CA added to the file is refused before the reload and accepted after; a
// session connected before is unaffected; a broken file on reload keeps
// the pool and the service serving.
func TestFTPClientCAReload(t *testing.T) {
	t.Parallel()
	old, added := newFileCA(t, "Old partner CA"), newFileCA(t, "New partner CA")
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	writeFile(t, caFile, old.pem())
	l := startLiveApp(t, time.Second, loopSvc("ftps", ferry.ServiceFTP, map[string]string{
		"tls": "required", "client_certs": "required", "client_ca": caFile}))
	addr := l.waitState("ftps", servicemgr.StateRunning).Address
	login := func(cert tls.Certificate) (*ftp.ServerConn, error) {
		cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}
		c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second), ftp.DialWithExplicitTLS(cfg))
		if err != nil {
			return nil, err
		}
		if err := c.Login("alice", "pw"); err != nil {
			c.Quit()
			return nil, err
		}
		return c, nil
	}
	oldCert, newCert := old.issue(t, "alice"), added.issue(t, "alice")

	before, err := login(oldCert)
	if err != nil {
		t.Fatalf("certificate of the configured CA: %v", err)
	}
	defer before.Quit()
	if c, err := login(newCert); err == nil {
		c.Quit()
		t.Fatal("certificate of a CA not yet in client_ca accepted")
	}

	writeFile(t, caFile, added.pem()) // the old partner leaves, a new one joins
	if err := l.a.Reload(l.ctx); err != nil {
		t.Fatalf("reload: %v", err)
	}
	c, err := login(newCert)
	if err != nil {
		t.Fatalf("certificate of the CA added by the reload: %v", err)
	}
	c.Quit()
	if c, err := login(oldCert); err == nil {
		c.Quit()
		t.Fatal("certificate of a CA removed by the reload accepted")
	}
	if err := before.NoOp(); err != nil {
		t.Fatalf("session connected before the reload: %v", err)
	}

	writeFile(t, caFile, []byte("-----BEGIN NOTHING-----\n"))
	err = l.a.Reload(l.ctx)
	if err == nil || !strings.Contains(err.Error(), caFile) || !strings.Contains(err.Error(), "ftps") {
		t.Fatalf("reload of a broken client_ca: %v, want an error naming %s and the service", err, caFile)
	}
	c, err = login(newCert)
	if err != nil {
		t.Fatalf("after a failed reload (the previous pool stays): %v", err)
	}
	c.Quit()
}

// TestClientTrustWarnsInvalidCRL: a CRL not yet valid (thisUpdate to come)
// or expired (past nextUpdate) loads, and the load or reload logs a
// warning naming the file and the date.
func TestClientTrustWarnsInvalidCRL(t *testing.T) {
	t.Parallel()
	ca := newFileCA(t, "CA")
	dir := t.TempDir()
	caFile, crlFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "crl.der")
	writeFile(t, caFile, ca.pem())
	next := time.Now().Add(3 * time.Hour).Truncate(time.Second) // thisUpdate in an hour
	writeFile(t, crlFile, ca.crl(t, next))
	var logs bytes.Buffer
	tr, err := newClientTrust("ftps", caFile, crlFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("a CRL not yet valid: %v", err)
	}
	want := "CRL " + crlFile + " is not yet valid (thisUpdate " + next.Add(-2*time.Hour).UTC().Format(time.RFC3339) +
		"); refusing client certificates until then"
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, want) {
		t.Errorf("load: log %q lacks a warning %q", got, want)
	}

	logs.Reset()
	next = time.Now().Add(-time.Minute).Truncate(time.Second)
	writeFile(t, crlFile, ca.crl(t, next))
	if err := tr.reload(); err != nil {
		t.Fatalf("reload of an expired CRL: %v", err)
	}
	want = "CRL " + crlFile + " expired at " + next.UTC().Format(time.RFC3339)
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, want) {
		t.Errorf("reload: log %q lacks a warning %q", got, want)
	}
}
