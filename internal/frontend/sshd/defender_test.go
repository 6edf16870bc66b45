package sshd

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// recDefender is the real defender that also tells each score.
type recDefender struct {
	*auth.Defender
	rec chan string // "ADDR WHY"
}

func (d recDefender) Record(ctx context.Context, addr netip.Addr, score int, why string) {
	d.Defender.Record(ctx, addr, score, why)
	d.rec <- addr.Unmap().String() + " " + why
}

func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

func loginFrom(t *testing.T, src, addr, user, pw string) error {
	t.Helper()
	c := dialFrom(t, src, addr)
	sc, chans, reqs, err := ssh.NewClientConn(c, addr, clientConfig(user, ssh.Password(pw)))
	if err != nil {
		return err
	}
	ssh.NewClient(sc, chans, reqs).Close()
	return nil
}

// TestDefenderPreAuth: connections from 127.0.0.2 that break the protocol
// or leave without trying to log in are scored, and once over the
// threshold 127.0.0.2 is refused (even with the right password) while
// 127.0.0.1 keeps working.
func TestDefenderPreAuth(t *testing.T) {
	t.Parallel()
	bans := &ferrytest.Bans{}
	def := recDefender{auth.NewDefender(auth.DefenderOptions{Store: bans, Threshold: 4}), make(chan string, 100)}
	env := ferrytest.NewEngineWith(t, func(o *core.Options) { o.Defender = def },
		ferrytest.User("alice", "pw", ferrytest.Perm("/=all")))
	addr := startServer(t, env)
	want := func(what, score string) {
		t.Helper()
		if got := <-def.rec; got != score {
			t.Errorf("%s: scored %q, want %q", what, got, score)
		}
	}

	// Garbage instead of a version line: scored before the server closes.
	c := dialFrom(t, "127.0.0.2", addr)
	c.Write([]byte(strings.Repeat("x", 300) + "\r\n"))
	io.Copy(io.Discard, c)
	want("garbage", "127.0.0.2 protocol")

	// A full handshake, then gone after the "none" method.
	c = dialFrom(t, "127.0.0.2", addr)
	if _, _, _, err := ssh.NewClientConn(c, addr, clientConfig("alice")); err == nil {
		t.Fatal("a login without any method succeeded")
	}
	c.Close()
	want("no method tried", "127.0.0.2 no-auth")

	// Connected and closed at once.
	dialFrom(t, "127.0.0.2", addr).Close()
	want("closed at once", "127.0.0.2 no-auth")

	// A wrong password is scored by core, not again by the front end.
	if err := loginFrom(t, "127.0.0.2", addr, "alice", "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if got := <-def.rec; !strings.HasPrefix(got, "127.0.0.2 ") || strings.HasSuffix(got, "no-auth") {
		t.Errorf("wrong password: scored %q", got)
	}

	if err := loginFrom(t, "127.0.0.2", addr, "alice", "pw"); err == nil {
		t.Error("127.0.0.2 logged in after being banned")
	}
	if err := loginFrom(t, "127.0.0.1", addr, "alice", "pw"); err != nil {
		t.Errorf("127.0.0.1 after 127.0.0.2 was banned: %v", err)
	}
	if got, _ := bans.ListBans(t.Context(), time.Now()); len(got) != 1 || got[0].Network != "127.0.0.2/32" {
		t.Errorf("stored bans = %+v", got)
	}
	select {
	case got := <-def.rec:
		t.Errorf("unexpected score %q (a good login, or a refused banned address)", got)
	default:
	}
}
