package ftpd

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
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/ftpwire"
	"github.com/jlaffaye/ftp"
)

var (
	certOnce sync.Once
	testCert tls.Certificate
)

// serverTLS returns a TLS config with a self-signed certificate for
// localhost and 127.0.0.1.
func serverTLS(t testing.TB) *tls.Config {
	certOnce.Do(func() {
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
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return &tls.Config{Certificates: []tls.Certificate{testCert}, MinVersion: tls.VersionTLS12}
}

// start runs a server on env's engine and returns its address.
func start(t testing.TB, env *ferrytest.Env, opts Options) string {
	t.Helper()
	opts.Engine = env.Engine
	if opts.Logger == nil {
		opts.Logger = ferrytest.Logger(t)
	}
	if opts.Service == "" {
		opts.Service = "ftp"
	}
	if opts.TLS == nil && opts.TLSMode != TLSOff {
		opts.TLS = serverTLS(t)
	}
	if opts.FailDelay == 0 {
		opts.FailDelay = time.Millisecond
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln := ferrytest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func clientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost",
		ClientSessionCache: tls.NewLRUClientSessionCache(8)}
}

// goClient adapts jlaffaye/ftp to ferrytest.Client.
type goClient struct {
	c          *ftp.ServerConn
	addr       string
	user, pass string
	tls        *tls.Config
}

func dialGo(t testing.TB, addr, user, pass string, tlsCfg *tls.Config) (*goClient, error) {
	opts := []ftp.DialOption{ftp.DialWithTimeout(10 * time.Second)}
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
	return &goClient{c: c, addr: addr, user: user, pass: pass, tls: tlsCfg}, nil
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

// UploadInterrupted sends half an upload on a raw session and drops both
// connections without completing it.
func (g *goClient) UploadInterrupted(p string, data []byte) error {
	r, err := dialRaw(g.addr, g.tls)
	if err != nil {
		return err
	}
	defer r.close()
	if err := r.login(g.user, g.pass); err != nil {
		return err
	}
	dc, err := r.pasv()
	if err != nil {
		return err
	}
	if rep := r.cmd("STOR " + p); rep.Code != 150 {
		return errors.New("STOR: " + rep.Text())
	}
	if _, err := dc.Write(data); err != nil {
		return err
	}
	// RST without close_notify: an interrupted transfer, not an end.
	tcp := dc
	if l, ok := dc.(*lazyTLS); ok {
		tcp = l.Conn
	}
	_ = tcp.(*net.TCPConn).SetLinger(0)
	tcp.Close()
	r.conn.Close()
	// Let the server notice before the scenario looks.
	r2, err := dialRaw(g.addr, g.tls)
	if err != nil {
		return err
	}
	defer r2.close()
	return r2.login(g.user, g.pass)
}

// raw is a hand-driven control connection for protocol tests.
type raw struct {
	conn net.Conn
	r    *bufio.Reader
	tls  *tls.Config
	addr string
}

func dialRaw(addr string, tlsCfg *tls.Config) (*raw, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := &raw{conn: c, r: bufio.NewReader(c), tls: tlsCfg, addr: addr}
	rep, err := ftpwire.ReadReply(r.r)
	if err != nil || rep.Code != 220 {
		c.Close()
		return nil, errors.New("no greeting: " + rep.Text())
	}
	if tlsCfg != nil {
		if rep := r.cmd("AUTH TLS"); rep.Code != 234 {
			c.Close()
			return nil, errors.New("AUTH TLS: " + rep.Text())
		}
		tc := tls.Client(c, tlsCfg)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		r.conn, r.r = tc, bufio.NewReader(tc)
	}
	return r, nil
}

func mustRaw(t testing.TB, addr string, tlsCfg *tls.Config) *raw {
	t.Helper()
	r, err := dialRaw(addr, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

func (r *raw) close() { r.conn.Close() }

func (r *raw) send(line string) {
	_, _ = io.WriteString(r.conn, line+"\r\n")
}

func (r *raw) read() ftpwire.Reply {
	rep, err := ftpwire.ReadReply(r.r)
	if err != nil {
		return ftpwire.Reply{Code: 0, Lines: []string{err.Error()}}
	}
	return rep
}

func (r *raw) cmd(line string) ftpwire.Reply {
	r.send(line)
	return r.read()
}

func (r *raw) login(user, pass string) error {
	if rep := r.cmd("USER " + user); rep.Code != 331 {
		return errors.New("USER: " + rep.Text())
	}
	if rep := r.cmd("PASS " + pass); rep.Code != 230 {
		return errors.New("PASS: " + rep.Text())
	}
	if r.tls != nil {
		r.cmd("PBSZ 0")
		r.cmd("PROT P")
	}
	return nil
}

// pasv sends EPSV and dials the data port (TLS is started by dataTLS
// after the 150, as real clients do; without TLS it is ready).
func (r *raw) pasv() (net.Conn, error) {
	rep := r.cmd("EPSV")
	if rep.Code != 229 {
		return nil, errors.New("EPSV: " + rep.Text())
	}
	port, err := ftpwire.ParseEPSV(rep.Lines[0])
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(r.addr)
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, itoa(int(port))), 10*time.Second)
	if err != nil {
		return nil, err
	}
	if r.tls != nil {
		return &lazyTLS{Conn: c, cfg: r.tls}, nil
	}
	return c, nil
}

// lazyTLS runs the client handshake on first use, after the 150.
type lazyTLS struct {
	net.Conn
	cfg  *tls.Config
	once sync.Once
	tc   *tls.Conn
}

func (l *lazyTLS) conn() net.Conn {
	l.once.Do(func() { l.tc = tls.Client(l.Conn, l.cfg) })
	return l.tc
}
func (l *lazyTLS) Read(p []byte) (int, error)  { return l.conn().Read(p) }
func (l *lazyTLS) Write(p []byte) (int, error) { return l.conn().Write(p) }
func (l *lazyTLS) Close() error                { return l.conn().Close() }

func itoa(n int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + big.NewInt(int64(n)).String())
}

func mustCode(t testing.TB, rep ftpwire.Reply, code int, what string) {
	t.Helper()
	if rep.Code != code {
		t.Fatalf("%s: reply %d %q, want %d", what, rep.Code, rep.Text(), code)
	}
}

var _ = netip.Addr{}
