package remote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/frontend/ftpd"
	"github.com/ferrymft/ferry/internal/frontend/httpd"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/remote/remotetest"
)

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

func serve(t *testing.T, run func(ctx context.Context, ln net.Listener) error) string {
	t.Helper()
	ln := ferrytest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func startFTPD(t *testing.T, env *ferrytest.Env, mode ftpd.TLSMode) string {
	t.Helper()
	opts := ftpd.Options{Engine: env.Engine, Logger: ferrytest.Logger(t), Service: "ftp", TLSMode: mode}
	if mode != ftpd.TLSOff {
		opts.TLS = selfSigned(t)
	}
	srv, err := ftpd.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv.Serve)
}

func TestFTPConformanceFerry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, scheme string
		mode         ftpd.TLSMode
		active       bool
	}{
		{"plain", "ftp", ftpd.TLSOff, false},
		{"plain active", "ftp", ftpd.TLSOff, true},
		{"explicit TLS with session reuse", "ftps", ftpd.TLSRequired, false},
		{"implicit TLS", "ftps-implicit", ftpd.TLSImplicit, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
			addr := startFTPD(t, env, tc.mode)
			l, err := remote.Parse(tc.scheme + "://alice@" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			remotetest.Run(t, func(t *testing.T) remotetest.Target {
				f, err := remote.Dial(context.Background(), l, remote.Options{Password: "pw", Insecure: true, Active: tc.active})
				if err != nil {
					t.Fatal(err)
				}
				return remotetest.Target{FS: f, Root: freshDir(t, f)}
			})
		})
	}
}

func TestFTPBadLogin(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startFTPD(t, env, ftpd.TLSOff)
	l, _ := remote.Parse("ftp://alice:wrong@" + addr + "/")
	if _, err := remote.Dial(context.Background(), l, remote.Options{}); err == nil || !isAuth(err) {
		t.Fatalf("Dial with a wrong password = %v, want ErrAuth", err)
	}
}

func TestWebDAVConformanceFerry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, scheme string
		tls          bool
	}{{"http", "webdav", false}, {"https", "webdavs", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
			opts := httpd.Options{Engine: env.Engine, Logger: ferrytest.Logger(t), Service: "http", DAV: true}
			if tc.tls {
				opts.TLS = selfSigned(t)
			}
			srv, err := httpd.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			addr := serve(t, srv.Serve)
			l, _ := remote.Parse(tc.scheme + "://alice@" + addr + "/dav/")
			remotetest.Run(t, func(t *testing.T) remotetest.Target {
				f, err := remote.Dial(context.Background(), l, remote.Options{Password: "pw", Insecure: true})
				if err != nil {
					t.Fatal(err)
				}
				return remotetest.Target{FS: f, Root: freshDirUnder(t, f, "/dav/"), NoResumeUpload: true}
			})
		})
	}
}
