package ftpd

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

// dialProxied connects from src, writes hdr (a PROXY header, or anything)
// and reads the greeting; code is 0 when the server closed instead.
func dialProxied(t *testing.T, src, addr string, hdr []byte) (*raw, int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(hdr); err != nil {
		return nil, 0
	}
	r := &raw{conn: c, r: bufio.NewReader(c), addr: addr}
	rep, err := ftpwire.ReadReply(r.r)
	if err != nil {
		return r, 0
	}
	return r, rep.Code
}

// proxyV2 is a hand-built PROXY protocol v2 header (PROXY command, TCP
// over IPv4).
func proxyV2(src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21, 0x11, 0, 12) // version 2 PROXY, AF_INET STREAM, 12 address bytes
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	b = append(b, s4[:]...)
	b = append(b, d4[:]...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Perm("/=*")))
	addr := start(t, env, Options{TLSMode: TLSOff, ProxyProtocol: true, DataTimeout: 2 * time.Second,
		ProxyTrusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	_, port, _ := net.SplitHostPort(addr)
	sessionFrom := func(want string) {
		t.Helper()
		for _, s := range env.Engine.Sessions() {
			if strings.HasPrefix(s.Remote, want+":") {
				return
			}
		}
		t.Errorf("no session from %s in core: %+v", want, env.Engine.Sessions())
	}

	t.Run("v1", func(t *testing.T) {
		r, code := dialProxied(t, "127.0.0.1", addr, []byte("PROXY TCP4 198.51.100.7 127.0.0.1 40001 "+port+"\r\n"))
		mustCode(t, ftpwire.Reply{Code: code}, 220, "greeting")
		if err := r.login("alice", "pw"); err != nil {
			t.Fatal(err)
		}
		if rep := r.cmd("STAT"); !strings.Contains(rep.Text(), "Connected to 198.51.100.7") {
			t.Fatalf("STAT: %q", rep.Text())
		}
		sessionFrom("198.51.100.7")
		// Active mode may name only the header's client address.
		mustCode(t, r.cmd("PORT 127,0,0,1,156,64"), 501, "PORT to the proxy's address")
		mustCode(t, r.cmd("EPRT |1|198.51.100.7|40000|"), 200, "EPRT to the client")
	})

	t.Run("v2", func(t *testing.T) {
		hdr := proxyV2(netip.MustParseAddrPort("203.0.113.9:50000"), netip.MustParseAddrPort("127.0.0.1:"+port))
		r, code := dialProxied(t, "127.0.0.1", addr, hdr)
		mustCode(t, ftpwire.Reply{Code: code}, 220, "greeting")
		if err := r.login("alice", "pw"); err != nil {
			t.Fatal(err)
		}
		if rep := r.cmd("STAT"); !strings.Contains(rep.Text(), "Connected to 203.0.113.9") {
			t.Fatalf("STAT: %q", rep.Text())
		}
		sessionFrom("203.0.113.9")
	})

	t.Run("passive data from the header's client", func(t *testing.T) {
		// The header names 127.0.0.2 as the client: a data connection
		// from 127.0.0.2 is served, one from the proxy (127.0.0.1) not.
		r, code := dialProxied(t, "127.0.0.1", addr, []byte("PROXY TCP4 127.0.0.2 127.0.0.1 40002 "+port+"\r\n"))
		mustCode(t, ftpwire.Reply{Code: code}, 220, "greeting")
		if err := r.login("alice", "pw"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			from string
			want int
		}{{"127.0.0.2", 226}, {"127.0.0.1", 425}} {
			rep := r.cmd("EPSV")
			mustCode(t, rep, 229, "EPSV")
			dport, _ := ftpwire.ParseEPSV(rep.Lines[0])
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.from)}, Timeout: 10 * time.Second}
			dc, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", itoa(int(dport))))
			if err != nil {
				t.Fatal(err)
			}
			r.send("LIST")
			go io.Copy(io.Discard, dc)
			if rep := r.read(); rep.Code == 150 {
				rep = r.read()
				mustCode(t, rep, tc.want, "LIST with data from "+tc.from)
			} else {
				mustCode(t, rep, tc.want, "LIST with data from "+tc.from)
			}
			dc.Close()
		}
	})

	t.Run("untrusted sender refused", func(t *testing.T) {
		if _, code := dialProxied(t, "127.0.0.2", addr, []byte("PROXY TCP4 198.51.100.8 127.0.0.1 40003 "+port+"\r\n")); code != 0 {
			t.Fatalf("untrusted sender with a header got %d", code)
		}
		if _, code := dialProxied(t, "127.0.0.2", addr, []byte("USER alice\r\n")); code != 0 {
			t.Fatalf("untrusted sender without a header got %d", code)
		}
	})

	t.Run("trusted sender without a header refused", func(t *testing.T) {
		if _, code := dialProxied(t, "127.0.0.1", addr, []byte("USER alice\r\n")); code != 0 {
			t.Fatalf("headerless connection got %d", code)
		}
	})
}

func TestProxyProtocolNeedsTrustedSenders(t *testing.T) {
	env := ferrytest.NewEngine(t)
	if _, err := New(Options{Engine: env.Engine, ProxyProtocol: true}); err == nil {
		t.Fatal("PROXY protocol without trusted senders accepted")
	}
}
