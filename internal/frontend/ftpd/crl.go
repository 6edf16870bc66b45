package ftpd

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// checkRevoked fails when every verified chain holds a certificate that a
// CRL signed by that certificate's issuer lists, or whose issuer's CRLs
// are all past their nextUpdate at now (OpenSSL's default: a stale CRL may
// hide revocations). A chain's last element (the trust anchor) is not
// checked; a certificate whose issuer published no CRL here passes.
func checkRevoked(chains [][]*x509.Certificate, crls []*x509.RevocationList, now time.Time) error {
	if len(crls) == 0 || len(chains) == 0 {
		return nil
	}
	var first error
	for _, chain := range chains {
		err := chainRevoked(chain, crls, now)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

func chainRevoked(chain []*x509.Certificate, crls []*x509.RevocationList, now time.Time) error {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		var expired *crlExpiredError
		current := false
		for _, crl := range crls {
			if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || crl.CheckSignatureFrom(issuer) != nil {
				continue
			}
			if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
				if expired == nil || crl.NextUpdate.After(expired.at) {
					expired = &crlExpiredError{at: crl.NextUpdate}
				}
			} else {
				current = true
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
					return fmt.Errorf("ftpd: client certificate %q (serial %s): %w",
						cert.Subject.CommonName, cert.SerialNumber, errRevoked)
				}
			}
		}
		if expired != nil && !current {
			return expired
		}
	}
	return nil
}

var errRevoked = errors.New("revoked by its issuer's CRL")

// crlExpiredError is a chain checked against an issuer whose every CRL is
// past its nextUpdate; the server names the file (Options.ClientCRLFile).
type crlExpiredError struct{ at time.Time }

func (e *crlExpiredError) Error() string {
	return fmt.Sprintf("CRL expired at %s", e.at.UTC().Format(time.RFC3339))
}
