package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ftpCRLPKI is a client CA that signs certificates and CRLs in dir.
type ftpCRLPKI struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newFTPCRLPKI(t *testing.T) *ftpCRLPKI {
	t.Helper()
	p := &ftpCRLPKI{t: t, dir: t.TempDir()}
	var err error
	if p.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CRL CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	p.cert, _ = x509.ParseCertificate(der)
	p.write("ca.pem", "CERTIFICATE", der)
	return p
}

func (p *ftpCRLPKI) path(name string) string { return filepath.Join(p.dir, name) }

func (p *ftpCRLPKI) write(name, typ string, der []byte) {
	if err := os.WriteFile(p.path(name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
}

// issue writes name.pem and name.key, a client certificate for cn.
func (p *ftpCRLPKI) issue(name, cn string, serial int64) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write(name+".pem", "CERTIFICATE", der)
	p.write(name+".key", "PRIVATE KEY", kder)
}

// crl writes crl.pem revoking the serials.
func (p *ftpCRLPKI) crl(number int64, serials ...int64) {
	rl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}
	for _, s := range serials {
		rl.RevokedCertificateEntries = append(rl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, rl, p.cert, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write("crl.pem", "X509 CRL", der)
}

// TestFTPClientCertPinAndCRLCurl: a user pinned to one certificate
// (ferry user set --tls-cert) logs in with it but not with another
// certificate for the same CN; after the CA revokes the pinned one and the
// server reloads (ferry reload, as SIGHUP), curl's handshake fails.
func TestFTPClientCertPinAndCRLCurl(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	p := newFTPCRLPKI(t)
	p.issue("alice", "alice", 2)
	p.issue("alice2", "alice", 3)
	p.issue("bob", "bob", 4)
	p.crl(1)
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddUser("bob", "bob-pw")
	s.MustFerry("user", "set", "alice", "--tls-cert", p.path("alice.pem"))
	if out := s.MustFerry("user", "show", "alice"); !strings.Contains(out, "tls cert pin") {
		t.Fatalf("user show: no pin:\n%s", out)
	}
	s.AddService("certs", "ftp", "--tls", "required", "--option", "client_certs=required",
		"--option", "client_ca="+p.path("ca.pem"), "--option", "cert_login=cert", "--option", "client_crl="+p.path("crl.pem"))
	s.Start()
	list := func(name, user string) error {
		_, err := run(t, "", "curl", "-sS", "--ssl-reqd", "-k", "--cert", p.path(name+".pem"), "--key", p.path(name+".key"),
			"--user", user+":", "ftp://"+s.Addr("certs")+"/")
		return err
	}
	if err := list("alice", "alice"); err != nil {
		t.Fatalf("pinned certificate: %v", err)
	}
	if err := list("alice2", "alice"); err == nil {
		t.Fatal("another certificate for alice (not pinned) logged in")
	}
	if err := list("bob", "bob"); err != nil {
		t.Fatalf("bob (no pins): %v", err)
	}
	p.crl(2, 2)
	s.MustFerry("reload")
	if err := list("alice", "alice"); err == nil {
		t.Fatal("revoked certificate logged in after reload")
	}
	if err := list("bob", "bob"); err != nil {
		t.Fatalf("bob after alice's revocation: %v", err)
	}
}
