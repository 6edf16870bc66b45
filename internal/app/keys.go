package app

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// HostKeyFiles are the SSH host keys `ferry init` creates under
// <data-dir>/hostkeys, in the order the SSH service offers them.
var HostKeyFiles = []string{"ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key"}

// ensureHostKeys creates missing host keys (ed25519, ECDSA P-256, RSA 3072).
func ensureHostKeys(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("host keys: %w", err)
	}
	for _, name := range HostKeyFiles {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		var key crypto.Signer
		var err error
		switch name {
		case "ssh_host_ed25519_key":
			_, key, err = ed25519.GenerateKey(rand.Reader)
		case "ssh_host_ecdsa_key":
			key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		default:
			key, err = rsa.GenerateKey(rand.Reader, 3072)
		}
		if err != nil {
			return fmt.Errorf("host key %s: %w", name, err)
		}
		block, err := ssh.MarshalPrivateKey(key, "ferry host key")
		if err != nil {
			return fmt.Errorf("host key %s: %w", name, err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return fmt.Errorf("host key %s: %w", name, err)
		}
		pub, err := ssh.NewPublicKey(key.Public())
		if err != nil {
			return fmt.Errorf("host key %s: %w", name, err)
		}
		if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
			return fmt.Errorf("host key %s: %w", name, err)
		}
	}
	return nil
}

// ensureSelfSigned creates tls/cert.pem and tls/key.pem for first use: an
// ECDSA P-256 certificate for localhost, the loopback addresses and the host
// name, valid for ten years. Replace them with a real certificate (same
// paths, or per-service cert/key options) and send SIGHUP.
func ensureSelfSigned(dir string) error {
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(certPath); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "ferry self-signed", Organization: []string{"Ferry"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// Certs loads certificate/key pairs once and reloads them all on SIGHUP, so
// a renewed certificate is served without restarting anything. Front ends
// get a tls.Config whose GetCertificate reads the current pair.
type Certs struct {
	mu    sync.RWMutex
	pairs map[[2]string]*tls.Certificate
	// trusts are the client-certificate trusts of the services serving
	// now (clienttrust.go).
	trusts map[*clientTrust]struct{}
}

// watch adds t to what Reload re-reads, until the returned func is called.
func (c *Certs) watch(t *clientTrust) (unwatch func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trusts == nil {
		c.trusts = make(map[*clientTrust]struct{})
	}
	c.trusts[t] = struct{}{}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.trusts, t)
	}
}

// NewCerts returns an empty set.
func NewCerts() *Certs { return &Certs{pairs: make(map[[2]string]*tls.Certificate)} }

// Config returns a server tls.Config (TLS 1.2+, AEAD suites) serving the
// pair at certFile/keyFile, loading it now so a bad file fails early.
func (c *Certs) Config(certFile, keyFile string) (*tls.Config, error) {
	k := [2]string{certFile, keyFile}
	c.mu.RLock()
	_, ok := c.pairs[k]
	c.mu.RUnlock()
	if !ok {
		pair, err := loadPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.pairs[k] = pair
		c.mu.Unlock()
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c.mu.RLock()
			defer c.mu.RUnlock()
			return c.pairs[k], nil
		},
	}, nil
}

// Reload re-reads every pair and the client CAs and CRLs of the services
// serving; one that fails keeps its old value and the errors are returned
// together.
func (c *Certs) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for k := range c.pairs {
		pair, err := loadPair(k[0], k[1])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.pairs[k] = pair
	}
	for t := range c.trusts {
		errs = append(errs, t.reload())
	}
	return errors.Join(errs...)
}

func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tls: certificate %s or key %s does not exist", certFile, keyFile)
		}
		return nil, fmt.Errorf("tls: certificate %s / key %s: %w", certFile, keyFile, err)
	}
	return &pair, nil
}
