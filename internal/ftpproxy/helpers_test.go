package ftpproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/frontend/ftpd"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

var (
	certOnce sync.Once
	testCert tls.Certificate
)

// serverTLS is a self-signed certificate for localhost, 127.0.0.1, ::1.
func serverTLS(t testing.TB) *tls.Config {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return &tls.Config{Certificates: []tls.Certificate{testCert}, MinVersion: tls.VersionTLS12}
}

// trustTest verifies the test certificate.
func trustTest(t testing.TB) *tls.Config {
	serverTLS(t)
	leaf, err := x509.ParseCertificate(testCert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func clientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost",
		ClientSessionCache: tls.NewLRUClientSessionCache(8)}
}

func listenOn(t testing.TB, addr string) net.Listener {
	t.Helper()
	if addr == "" {
		return ferrytest.Listen(t)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// startBackend runs Ferry's FTP server on env and returns its address.
func startBackend(t testing.TB, env *ferrytest.Env, mode ftpd.TLSMode, listen string) string {
	t.Helper()
	opts := ftpd.Options{Engine: env.Engine, Service: "ftp", Logger: ferrytest.Logger(t),
		TLSMode: mode, FailDelay: time.Millisecond}
	if mode != ftpd.TLSOff {
		opts.TLS = serverTLS(t)
	}
	srv, err := ftpd.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv.Serve, listenOn(t, listen))
}

func serve(t testing.TB, fn func(context.Context, net.Listener) error, ln net.Listener) string {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// startProxy runs a proxy with opts (logger and test TLS filled in).
func startProxy(t testing.TB, opts Options, listen string) string {
	t.Helper()
	opts.Logger = ferrytest.Logger(t)
	opts.Verbose = true
	if opts.BackendTLSConfig == nil {
		opts.BackendTLSConfig = trustTest(t)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, p.Serve, listenOn(t, listen))
}

// goClient adapts jlaffaye/ftp to ferrytest.Client.
type goClient struct{ c *ftp.ServerConn }

func dialGo(addr, user, pass string, tlsCfg *tls.Config, opts ...ftp.DialOption) (*goClient, error) {
	opts = append(opts, ftp.DialWithTimeout(10*time.Second))
	if tlsCfg != nil {
		opts = append(opts, ftp.DialWithExplicitTLS(tlsCfg))
	}
	c, err := ftp.Dial(addr, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Login(user, pass); err != nil {
		c.Quit()
		return nil, err
	}
	return &goClient{c: c}, nil
}

func mustDial(t testing.TB, addr, user, pass string, tlsCfg *tls.Config, opts ...ftp.DialOption) *goClient {
	t.Helper()
	c, err := dialGo(addr, user, pass, tlsCfg, opts...)
	if err != nil {
		t.Fatalf("login %s via %s: %v", user, addr, err)
	}
	t.Cleanup(func() { c.c.Quit() })
	return c
}

func (g *goClient) Upload(p string, data []byte) error { return g.c.Stor(p, bytes.NewReader(data)) }
func (g *goClient) Download(p string) ([]byte, error)  { return g.DownloadFrom(p, 0) }
func (g *goClient) DownloadFrom(p string, off int64) ([]byte, error) {
	r, err := g.c.RetrFrom(p, uint64(off))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return b, err
}
func (g *goClient) UploadFrom(p string, off int64, data []byte) error {
	return g.c.StorFrom(p, bytes.NewReader(data), uint64(off))
}
func (g *goClient) Rename(from, to string) error { return g.c.Rename(from, to) }
func (g *goClient) Remove(p string) error        { return g.c.Delete(p) }
func (g *goClient) Mkdir(p string) error         { return g.c.MakeDir(p) }
func (g *goClient) Rmdir(p string) error         { return g.c.RemoveDir(p) }
func (g *goClient) List(dir string) ([]string, error) {
	es, err := g.c.List(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range es {
		if e.Name != "." && e.Name != ".." {
			names = append(names, e.Name)
		}
	}
	return names, nil
}
func (g *goClient) Close() error { return g.c.Quit() }

// raw is a hand-driven control connection (for PORT/EPRT, which
// jlaffaye/ftp does not send, and for refusals).
type raw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t testing.TB, addr string) (*raw, ftpwire.Reply) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := &raw{t: t, conn: c, r: bufio.NewReader(c)}
	return r, r.read()
}

func (r *raw) read() ftpwire.Reply {
	r.t.Helper()
	rep, err := ftpwire.ReadReply(r.r)
	if err != nil {
		r.t.Fatalf("read reply: %v", err)
	}
	return rep
}

func (r *raw) cmd(format string, args ...any) ftpwire.Reply {
	r.t.Helper()
	if _, err := fmt.Fprintf(r.conn, format+"\r\n", args...); err != nil {
		r.t.Fatalf("write: %v", err)
	}
	return r.read()
}

func (r *raw) want(rep ftpwire.Reply, code int) {
	r.t.Helper()
	if rep.Code != code {
		r.t.Fatalf("got %d %s, want %d", rep.Code, rep.Text(), code)
	}
}

func (r *raw) login(user, pass string) {
	r.t.Helper()
	r.want(r.cmd("USER %s", user), 331)
	r.want(r.cmd("PASS %s", pass), 230)
	r.want(r.cmd("TYPE I"), 200)
}

// local is the client's side of the control connection.
func (r *raw) local() netip.AddrPort { return addrPort(r.conn.LocalAddr()) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
