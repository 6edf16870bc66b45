package app

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
	"testing"
	"time"
)

// TestCRLReload: a CRL file loads as PEM or DER, Reload picks up a new
// version, and a broken file keeps the old lists in force.
func TestCRLReload(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	crl := func(serials ...int64) []byte {
		rl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}
		for _, s := range serials {
			rl.RevokedCertificateEntries = append(rl.RevokedCertificateEntries,
				x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now()})
		}
		b, err := x509.CreateRevocationList(rand.Reader, rl, ca, key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	file := filepath.Join(t.TempDir(), "crl.pem")
	write := func(b []byte) {
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	revoked := func(get func() []*x509.RevocationList) int {
		n := 0
		for _, l := range get() {
			n += len(l.RevokedCertificateEntries)
		}
		return n
	}
	write(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl(7)}))
	c := NewCerts()
	get, err := c.CRL(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := revoked(get); n != 1 {
		t.Fatalf("PEM CRL: %d entries, want 1", n)
	}
	write(crl(7, 8, 9)) // DER
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := revoked(get); n != 3 {
		t.Fatalf("after reload: %d entries, want 3", n)
	}
	write([]byte("garbage"))
	if err := c.Reload(); err == nil {
		t.Fatal("Reload of a broken CRL: no error")
	}
	if n := revoked(get); n != 3 {
		t.Fatalf("after a failed reload: %d entries, want the old 3", n)
	}
	if _, err := NewCerts().CRL(file); err == nil {
		t.Fatal("CRL of a broken file: no error")
	}
}
