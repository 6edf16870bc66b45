package ftpd

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"
)

// checkRevoked fails when every verified chain holds a certificate that a
// CRL signed by that certificate's issuer lists, or whose issuer has no
// CRL valid at now: each is past its nextUpdate (a stale CRL may hide
// revocations) or before its thisUpdate (not yet valid), as OpenSSL's
// X509_V_ERR_CRL_HAS_EXPIRED and X509_V_ERR_CRL_NOT_YET_VALID. A chain's
// last element (the trust anchor) is not checked; a certificate whose
// issuer published no CRL here passes.
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
		var expired, early *crlInvalidError
		current := false
		for _, crl := range crls {
			if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || crl.CheckSignatureFrom(issuer) != nil {
				continue
			}
			switch {
			case !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate):
				if expired == nil || crl.NextUpdate.After(expired.at) {
					expired = &crlInvalidError{at: crl.NextUpdate}
				}
			case now.Before(crl.ThisUpdate):
				if early == nil || crl.ThisUpdate.Before(early.at) {
					early = &crlInvalidError{at: crl.ThisUpdate, notYet: true}
				}
			default:
				current = true
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
					return fmt.Errorf("ftpd: client certificate %q (serial %s): %w",
						cert.Subject.CommonName, cert.SerialNumber, errRevoked)
				}
			}
		}
		if !current {
			// A list not yet valid is the newer one: name it first.
			if early != nil {
				return early
			}
			if expired != nil {
				return expired
			}
		}
	}
	return nil
}

var errRevoked = errors.New("revoked by its issuer's CRL")

// crlInvalidError is a chain checked against an issuer none of whose CRLs
// is valid now: at is the latest nextUpdate passed, or, when notYet, the
// earliest thisUpdate to come. The server names the file
// (Options.ClientCRLFile).
type crlInvalidError struct {
	at     time.Time
	notYet bool
}

func (e *crlInvalidError) Error() string {
	if e.notYet {
		return fmt.Sprintf("CRL not yet valid (thisUpdate %s)", e.at.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("CRL expired at %s", e.at.UTC().Format(time.RFC3339))
}

// refusal is the message of a handshake refused for want of a valid CRL
// in file, which the operator must act on.
func (e *crlInvalidError) refusal(file string) string {
	at := e.at.UTC().Format(time.RFC3339)
	if e.notYet {
		return fmt.Sprintf("CRL %s is not yet valid (thisUpdate %s); refusing client certificates until then", file, at)
	}
	return fmt.Sprintf("CRL %s expired at %s; refusing client certificates until it is refreshed", file, at)
}

// crlLogLimit rate-limits the error logged on each handshake refused for
// want of a valid CRL: one line per CRL file every `every`, the next one
// carrying how many refusals were not logged meanwhile. The refusals
// themselves are not limited.
type crlLogLimit struct {
	now   func() time.Time
	every time.Duration

	mu         sync.Mutex
	last       time.Time // when a line was last logged; zero: never
	suppressed int       // refusals not logged since
}

// allow reports whether a refusal at now is logged and, if so, how many
// were suppressed before it.
func (l *crlLogLimit) allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}
