package ftpd

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
)

// checkRevoked fails when every verified chain holds a certificate that a
// CRL signed by that certificate's issuer lists. A chain's last element
// (the trust anchor) is not checked; a certificate whose issuer published
// no CRL here passes.
func checkRevoked(chains [][]*x509.Certificate, crls []*x509.RevocationList) error {
	if len(crls) == 0 || len(chains) == 0 {
		return nil
	}
	var first error
	for _, chain := range chains {
		err := chainRevoked(chain, crls)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

func chainRevoked(chain []*x509.Certificate, crls []*x509.RevocationList) error {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		for _, crl := range crls {
			if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || crl.CheckSignatureFrom(issuer) != nil {
				continue
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
					return fmt.Errorf("ftpd: client certificate %q (serial %s): %w",
						cert.Subject.CommonName, cert.SerialNumber, errRevoked)
				}
			}
		}
	}
	return nil
}

var errRevoked = errors.New("revoked by its issuer's CRL")
