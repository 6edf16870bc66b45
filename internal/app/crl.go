package app

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// loadCRL reads the certificate revocation lists in file: PEM "X509 CRL"
// blocks, or one DER CRL (clienttrust.go checks who signed them).
func loadCRL(file string) ([]*x509.RevocationList, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: CRL: %w", err)
	}
	var out []*x509.RevocationList
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			continue
		}
		crl, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: CRL %s: %w", file, err)
		}
		out = append(out, crl)
	}
	if out == nil {
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("tls: CRL %s: neither PEM \"X509 CRL\" blocks nor a DER CRL: %w", file, err)
		}
		out = append(out, crl)
	}
	return out, nil
}
