package app

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// clientTrust is one service's client-certificate trust: the CA
// certificates in caFile and the CRLs in crlFile (optional). Both are read
// when the service is built and again on every Certs.Reload (SIGHUP, ferry
// reload) while the service serves; a file that fails to load keeps its
// previous value in force, so a bad edit never takes the service down.
type clientTrust struct {
	service, caFile, crlFile string
	log                      *slog.Logger
	cas                      atomic.Pointer[caSet]
	crls                     atomic.Pointer[[]*x509.RevocationList]
}

// caSet is the parsed client_ca file: the certificates (to check CRL
// signatures) and the pool built from them (for TLS).
type caSet struct {
	certs []*x509.Certificate
	pool  *x509.CertPool
}

// newClientTrust loads caFile and crlFile; errors name the option and file.
func newClientTrust(service, caFile, crlFile string, log *slog.Logger) (*clientTrust, error) {
	t := &clientTrust{service: service, caFile: caFile, crlFile: crlFile, log: log}
	cas, err := loadCAs(caFile)
	if err != nil {
		return nil, fmt.Errorf("option client_ca: %w", err)
	}
	t.cas.Store(cas)
	if crlFile != "" {
		crls, err := t.loadCRLs(cas)
		if err != nil {
			return nil, fmt.Errorf("option client_crl: %w", err)
		}
		t.crls.Store(&crls)
	}
	return t, nil
}

// Pool returns the CA pool in force.
func (t *clientTrust) Pool() *x509.CertPool { return t.cas.Load().pool }

// CRLs returns the revocation lists in force.
func (t *clientTrust) CRLs() []*x509.RevocationList {
	if p := t.crls.Load(); p != nil {
		return *p
	}
	return nil
}

// reload re-reads both files. Each one that fails keeps its previous value;
// the errors name the service and the file, and are logged (the server's
// log) as well as returned (to ferry reload).
func (t *clientTrust) reload() error {
	var errs []error
	if cas, err := loadCAs(t.caFile); err != nil {
		errs = append(errs, fmt.Errorf("service %s: option client_ca: %w (the previous CAs stay in force)", t.service, err))
	} else {
		t.cas.Store(cas)
	}
	if t.crlFile != "" {
		if crls, err := t.loadCRLs(t.cas.Load()); err != nil {
			errs = append(errs, fmt.Errorf("service %s: option client_crl: %w (the previous CRLs stay in force)", t.service, err))
		} else {
			t.crls.Store(&crls)
		}
	}
	for _, err := range errs {
		t.log.Error("client certificate trust not reloaded", "err", err)
	}
	return errors.Join(errs...)
}

// loadCAs reads the PEM CERTIFICATE blocks of file.
func loadCAs(file string) (*caSet, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: client CA: %w", err)
	}
	set := &caSet{pool: x509.NewCertPool()}
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA %s: certificate %d: %w", file, len(set.certs)+1, err)
		}
		set.certs = append(set.certs, cert)
		set.pool.AddCert(cert)
	}
	if len(set.certs) == 0 {
		return nil, fmt.Errorf("tls: client CA %s holds no PEM certificate", file)
	}
	return set, nil
}

// loadCRLs reads crlFile and checks that a CA of cas signed each of its
// lists (anything else is a mistake: it would never apply). A list already
// past its nextUpdate, or whose thisUpdate is still to come, loads with a
// warning: unless its issuer has a valid list beside it, the front end
// refuses every certificate of that issuer until it is refreshed (or its
// thisUpdate comes).
func (t *clientTrust) loadCRLs(cas *caSet) ([]*x509.RevocationList, error) {
	lists, err := loadCRL(t.crlFile)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, crl := range lists {
		if !signedByOneOf(crl, cas.certs) {
			return nil, fmt.Errorf("tls: CRL %s: issued by %q, not signed by any CA in %s", t.crlFile, crl.Issuer, t.caFile)
		}
		if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
			t.log.Warn(fmt.Sprintf("CRL %s expired at %s; refusing client certificates until it is refreshed",
				t.crlFile, crl.NextUpdate.UTC().Format(time.RFC3339)),
				"crl", t.crlFile, "issuer", crl.Issuer.String(), "next_update", crl.NextUpdate)
		}
		if now.Before(crl.ThisUpdate) {
			t.log.Warn(fmt.Sprintf("CRL %s is not yet valid (thisUpdate %s); refusing client certificates until then",
				t.crlFile, crl.ThisUpdate.UTC().Format(time.RFC3339)),
				"crl", t.crlFile, "issuer", crl.Issuer.String(), "this_update", crl.ThisUpdate)
		}
	}
	return lists, nil
}

func signedByOneOf(crl *x509.RevocationList, cas []*x509.Certificate) bool {
	for _, ca := range cas {
		if bytes.Equal(crl.RawIssuer, ca.RawSubject) && crl.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}
