package app

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// CRL returns a function giving the certificate revocation lists in file
// (PEM "X509 CRL" blocks, or one DER CRL), loading them now so a bad file
// fails early. Reload re-reads the file; until it succeeds the old lists
// stay in force.
func (c *Certs) CRL(file string) (func() []*x509.RevocationList, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.crls[file]; !ok {
		lists, err := loadCRL(file)
		if err != nil {
			return nil, err
		}
		if c.crls == nil {
			c.crls = make(map[string][]*x509.RevocationList)
		}
		c.crls[file] = lists
	}
	return func() []*x509.RevocationList {
		c.mu.RLock()
		defer c.mu.RUnlock()
		return c.crls[file]
	}, nil
}

// reloadCRLs re-reads every CRL file; c.mu is held.
func (c *Certs) reloadCRLs() error {
	var errs []error
	for file := range c.crls {
		lists, err := loadCRL(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.crls[file] = lists
	}
	return errors.Join(errs...)
}

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
