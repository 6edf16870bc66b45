package cli

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"slices"

	"github.com/ferrymft/ferry/internal/ferry"
)

// applyPins applies --clear-tls-cert-pins, --tls-cert-pin and --tls-cert.
func (f *userFlags) applyPins(u *ferry.User) error {
	if f.clearPins {
		u.TLSCertPins = nil
	}
	add := func(p string) {
		if !slices.Contains(u.TLSCertPins, p) {
			u.TLSCertPins = append(u.TLSCertPins, p)
		}
	}
	for _, v := range f.certPins {
		p, err := ferry.ParseCertPin(v)
		if err != nil {
			return usagef("--tls-cert-pin: %v", err)
		}
		add(p)
	}
	for _, file := range f.certFiles {
		pins, err := readCertPins(file)
		if err != nil {
			return err
		}
		for _, p := range pins {
			add(p)
		}
	}
	return nil
}

// readCertPins returns the pins of the PEM certificates in file.
func readCertPins(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("--tls-cert: %v", err)
	}
	var pins []string
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, usagef("--tls-cert %s: %v", file, err)
		}
		pins = append(pins, ferry.CertPin(block.Bytes))
	}
	if len(pins) == 0 {
		return nil, usagef("--tls-cert %s: no PEM certificate found", file)
	}
	return pins, nil
}
