package ftpproxy

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/frontend/ftpd"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// The cross-protocol suite through the proxy: a plain client, the proxy
// speaking TLS to Ferry's FTP server behind it.
func TestScenariosReverse(t *testing.T) {
	t.Parallel()
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer {
		backend := startBackend(t, env, ftpd.TLSExplicit, "")
		addr := startProxy(t, Options{Backend: backend, BackendTLS: BackendTLSRequired}, "")
		return func(t *testing.T, user, pw string) ferrytest.Client {
			return mustDial(t, addr, user, pw, nil)
		}
	})
}

// FTPS end to end: TLS terminated at the proxy, TLS again to a server
// that requires it, PASV rewritten inside both.
func TestScenariosReverseTLS(t *testing.T) {
	t.Parallel()
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer {
		backend := startBackend(t, env, ftpd.TLSRequired, "")
		addr := startProxy(t, Options{Backend: backend, TLS: serverTLS(t), RequireTLS: true}, "")
		return func(t *testing.T, user, pw string) ferrytest.Client {
			return mustDial(t, addr, user, pw, clientTLS())
		}
	})
}

func TestScenariosForward(t *testing.T) {
	t.Parallel()
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer {
		backend := startBackend(t, env, ftpd.TLSOff, "")
		rules, err := ParseHostRules("127.0.0.0/8")
		if err != nil {
			t.Fatal(err)
		}
		addr := startProxy(t, Options{Mode: Forward, AllowBackends: rules, BackendData: DataActive}, "")
		return func(t *testing.T, user, pw string) ferrytest.Client {
			return mustDial(t, addr, user+"@"+backend, pw, nil)
		}
	})
}

func TestEPSVOverIPv6(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	backend := startBackend(t, env, ftpd.TLSExplicit, "[::1]:0")
	for _, data := range []BackendData{DataMirror, DataActive} {
		addr := startProxy(t, Options{Backend: backend, BackendData: data, TLS: serverTLS(t)}, "[::1]:0")
		c := mustDial(t, addr, "alice", "pw", clientTLS())
		want := randomBytes(t, 300<<10)
		if err := c.Upload("/v6.bin", want); err != nil {
			t.Fatalf("%v: upload: %v", data, err)
		}
		got, err := c.Download("/v6.bin")
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%v: download: %d bytes, %v", data, len(got), err)
		}
	}
}

// activeTransfer drives PORT or EPRT by hand: the proxy connects to a
// listener of the client's.
func activeTransfer(t *testing.T, r *raw, verb, cmd string, send []byte) []byte {
	t.Helper()
	host := r.local().Addr()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(host, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := addrPort(ln.Addr())
	arg := ftpwire.FormatEPRT(ap)
	if verb == "PORT" {
		arg, _ = ftpwire.FormatPORT(ap)
	}
	r.want(r.cmd("%s %s", verb, arg), 200)
	r.want(r.cmd("%s", cmd), 150)
	dc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if send != nil {
		_, err = dc.Write(send)
	} else {
		got, err = io.ReadAll(dc)
	}
	dc.Close()
	if err != nil {
		t.Fatal(err)
	}
	r.want(r.read(), 226)
	return got
}

func TestActivePORTAndEPRT(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	backend := startBackend(t, env, ftpd.TLSOff, "")
	for _, data := range []BackendData{DataMirror, DataPassive} {
		addr := startProxy(t, Options{Backend: backend, BackendData: data, PortLow: 40000, PortHigh: 40999}, "")
		for _, verb := range []string{"PORT", "EPRT"} {
			r, greet := dialRaw(t, addr)
			r.want(greet, 220)
			r.login("alice", "pw")
			want := randomBytes(t, 1<<20+17)
			activeTransfer(t, r, verb, "STOR /a.bin", want)
			got := activeTransfer(t, r, verb, "RETR /a.bin", nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("%v %s: got %d bytes, want %d", data, verb, len(got), len(want))
			}
			if !strings.Contains(string(activeTransfer(t, r, verb, "LIST /", nil)), "a.bin") {
				t.Fatalf("%v %s: LIST lacks a.bin", data, verb)
			}
		}
	}
}

func TestPassivePortRangeAndRewrite(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	env.WriteFile(t, "alice", "f.txt", []byte("hello"))
	backend := startBackend(t, env, ftpd.TLSOff, "")
	addr := startProxy(t, Options{Backend: backend, PortLow: 41000, PortHigh: 41009}, "")
	r, _ := dialRaw(t, addr)
	r.login("alice", "pw")
	rep := r.cmd("PASV")
	r.want(rep, 227)
	ap, err := ftpwire.ParsePASV(rep.Text())
	if err != nil {
		t.Fatal(err)
	}
	if ap.Addr() != r.conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr() || ap.Port() < 41000 || ap.Port() > 41009 {
		t.Fatalf("PASV gave %s; want the proxy's address and a port in 41000-41009", ap)
	}
	dc, err := net.Dial("tcp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	r.want(r.cmd("RETR /f.txt"), 150)
	b, _ := io.ReadAll(dc)
	r.want(r.read(), 226)
	if string(b) != "hello" {
		t.Fatalf("got %q", b)
	}
}

// A data connection from another address than the control connection's
// is closed; the client's own still works.
func TestForeignDataConnectionRefused(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	env.WriteFile(t, "alice", "f.txt", []byte("secret data"))
	backend := startBackend(t, env, ftpd.TLSOff, "")
	addr := startProxy(t, Options{Backend: backend}, "")
	r, _ := dialRaw(t, addr)
	r.login("alice", "pw")
	rep := r.cmd("EPSV")
	r.want(rep, 229)
	port, err := ftpwire.ParseEPSV(rep.Text())
	if err != nil {
		t.Fatal(err)
	}
	target := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	foreign, err := d.Dial("tcp", target)
	if err != nil {
		t.Skipf("cannot connect from 127.0.0.2: %v", err)
	}
	_ = foreign.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := foreign.Read(make([]byte, 1)); err == nil || n > 0 {
		t.Fatalf("foreign data connection was served: n=%d err=%v", n, err)
	}
	foreign.Close()
	dc, err := net.Dial("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	r.want(r.cmd("RETR /f.txt"), 150)
	b, _ := io.ReadAll(dc)
	r.want(r.read(), 226)
	if string(b) != "secret data" {
		t.Fatalf("got %q", b)
	}
}

func TestPORTToForeignAddressRefused(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startProxy(t, Options{Backend: startBackend(t, env, ftpd.TLSOff, "")}, "")
	r, _ := dialRaw(t, addr)
	r.login("alice", "pw")
	r.want(r.cmd("PORT 127,0,0,2,156,64"), 500)
	r.want(r.cmd("EPRT |1|192.0.2.1|40000|"), 500)
	r.want(r.cmd("NOOP"), 200)
}

func TestAnonymousOnly(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startProxy(t, Options{Backend: startBackend(t, env, ftpd.TLSOff, ""), AnonymousOnly: true}, "")
	r, _ := dialRaw(t, addr)
	r.want(r.cmd("USER alice"), 530)
	r.want(r.cmd("USER ANONYMOUS"), 331) // relayed: the backend decides
	r.want(r.cmd("USER ftp"), 331)
}

func TestForwardAllowList(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	backend := startBackend(t, env, ftpd.TLSOff, "")
	_, port, _ := net.SplitHostPort(backend)
	allow, _ := ParseHostRules("localhost:" + port + ", 192.0.2.0/24")
	deny, _ := ParseHostRules("127.0.0.0/8:1")
	addr := startProxy(t, Options{Mode: Forward, AllowBackends: allow, DenyBackends: deny}, "")
	mustDial(t, addr, "alice@localhost:"+port, "pw", nil)
	for _, user := range []string{"alice@127.0.0.1:" + port, "alice@localhost:1", "alice@localhost"} {
		r, _ := dialRaw(t, addr)
		if rep := r.cmd("USER %s", user); rep.Code != 421 {
			t.Errorf("USER %s: %d %s, want 421", user, rep.Code, rep.Text())
		}
	}
	r, greet := dialRaw(t, addr)
	r.want(greet, 220)
	r.want(r.cmd("PWD"), 530)
	r.want(r.cmd("USER alice"), 530)
	r.want(r.cmd("USER alice@localhost:"+port), 331)
	r.want(r.cmd("PASS pw"), 230)
	r.want(r.cmd("USER alice@otherhost"), 530)
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startProxy(t, Options{Backend: startBackend(t, env, ftpd.TLSOff, ""), IdleTimeout: 100 * time.Millisecond}, "")
	r, _ := dialRaw(t, addr)
	r.login("alice", "pw")
	r.want(r.read(), 421)
	if _, err := r.r.ReadByte(); err == nil {
		t.Fatal("connection still open after the idle timeout")
	}
}

func TestNATModeRelaysPassive(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	env.WriteFile(t, "alice", "f.txt", []byte("direct"))
	addr := startProxy(t, Options{Backend: startBackend(t, env, ftpd.TLSOff, ""), NAT: true}, "")
	c := mustDial(t, addr, "alice", "pw", nil, ftp.DialWithDisabledEPSV(true))
	b, err := c.Download("/f.txt")
	if err != nil || string(b) != "direct" {
		t.Fatalf("download through NAT mode: %q, %v", b, err)
	}
}

func TestBackendTLSRequiredButRefused(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startProxy(t, Options{Backend: startBackend(t, env, ftpd.TLSOff, ""), BackendTLS: BackendTLSRequired}, "")
	r, greet := dialRaw(t, addr)
	r.want(greet, 421)
}

// -v logs commands and replies but never a password.
func TestVerboseLogMasksPassword(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "s3cr3t-pw"))
	var buf syncBuffer
	opts := Options{Backend: startBackend(t, env, ftpd.TLSOff, ""), Verbose: true}
	opts.Logger = newTextLogger(&buf)
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, p.Serve, ferrytest.Listen(t))
	c := mustDial(t, addr, "alice", "s3cr3t-pw", nil)
	if _, err := c.List("/"); err != nil {
		t.Fatal(err)
	}
	c.c.Quit()
	out := buf.String()
	if strings.Contains(out, "s3cr3t-pw") {
		t.Fatalf("password in the log:\n%s", out)
	}
	for _, want := range []string{"PASS ****", "USER alice", "client connected", "data connection closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestMaxConnectionsPerIP(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startProxy(t, Options{Backend: startBackend(t, env, ftpd.TLSOff, ""), MaxConnsPerIP: 1}, "")
	r, greet := dialRaw(t, addr)
	r.want(greet, 220)
	_, greet2 := dialRaw(t, addr)
	if greet2.Code != 421 {
		t.Fatalf("second connection: %d %s, want 421", greet2.Code, greet2.Text())
	}
}

func TestDeniedClient(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	deny, _ := ParsePrefixes("127.0.0.0/8")
	addr := startProxy(t, Options{Backend: startBackend(t, env, ftpd.TLSOff, ""), DenyClients: deny}, "")
	_, greet := dialRaw(t, addr)
	if greet.Code != 421 {
		t.Fatalf("denied client greeted with %d", greet.Code)
	}
}

func TestLargePassiveDownloadByteExact(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	want := randomBytes(t, 8<<20+3)
	if err := os.WriteFile(filepath.Join(env.Home("alice"), "big.bin"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := startProxy(t, Options{Backend: startBackend(t, env, ftpd.TLSOff, "")}, "")
	c := mustDial(t, addr, "alice", "pw", nil)
	got, err := c.Download("/big.bin")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("download: %d bytes, %v", len(got), err)
	}
}
