package ftpproxy

import (
	"bufio"
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/ftpwire"
)

// A relayed reply, whatever a hostile server put in it, reads back as
// exactly one reply with the same code: a server cannot inject replies
// the client would take for the proxy's.
func FuzzRelayedReply(f *testing.F) {
	f.Add("220-Welcome\n220 ready", 3)
	f.Add("211-Features:\n EPSV\n211 End", 0)
	f.Add("227 Entering Passive Mode (10,0,0,1,4,1)", 0)
	f.Fuzz(func(t *testing.T, wire string, extra int) {
		rep, err := ftpwire.ReadReply(bufio.NewReader(strings.NewReader(wire + "\r\n")))
		if err != nil {
			return
		}
		for i := 0; i < extra%4; i++ {
			rep.Lines = append(rep.Lines[:len(rep.Lines):len(rep.Lines)], "230 injected")
		}
		b := appendReply(nil, rep)
		r := bufio.NewReader(bytes.NewReader(b))
		got, err := ftpwire.ReadReply(r)
		if err != nil {
			t.Fatalf("relayed %q does not read back: %v", b, err)
		}
		if got.Code != rep.Code || len(got.Lines) != len(rep.Lines) {
			t.Fatalf("relayed %q read back as %d with %d lines, want %d with %d", b, got.Code, len(got.Lines), rep.Code, len(rep.Lines))
		}
		if r.Buffered() != 0 {
			t.Fatalf("relayed %q holds more than one reply", b)
		}
	})
}

func FuzzHostRules(f *testing.F) {
	for _, s := range []string{"*", "*.example.com:21", "[2001:db8::/32]:21", "10.0.0.0/8", "host:0", "[::1"} {
		f.Add(s, "ftp.example.com", 21)
	}
	f.Fuzz(func(t *testing.T, rule, host string, port int) {
		r, err := ParseHostRule(rule)
		if err != nil {
			return
		}
		r2, err := ParseHostRule(r.String())
		if err != nil {
			t.Fatalf("ParseHostRule(%q).String() = %q does not parse: %v", rule, r.String(), err)
		}
		ip, _ := netip.ParseAddr(host)
		if r.match(host, ip, uint16(port)) != r2.match(host, ip, uint16(port)) {
			t.Fatalf("%q and its String %q match differently", rule, r.String())
		}
		_, _, _ = splitHostPort(host, 21)
	})
}
