package ftpd

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

// dialFrom connects from a chosen loopback source address and reads the
// greeting; it returns the reply code (0 when the server closed at once).
func dialFrom(t *testing.T, src, addr string) (net.Conn, *bufio.Reader, int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	rep, err := ftpwire.ReadReply(r)
	if err != nil {
		return c, r, 0
	}
	return c, r, rep.Code
}

// TestDefenderBansOneAddress: after repeated failed logins from 127.0.0.2
// that address is refused at connect time while 127.0.0.1 keeps working.
func TestDefenderBansOneAddress(t *testing.T) {
	t.Parallel()
	bans := &ferrytest.Bans{}
	env := ferrytest.NewEngineWith(t, func(o *core.Options) {
		o.Defender = auth.NewDefender(auth.DefenderOptions{Store: bans, Threshold: 4})
	}, ferrytest.User("alice", "pw"))
	addr := start(t, env, Options{TLSMode: TLSOff})

	c, r, code := dialFrom(t, "127.0.0.2", addr)
	if code != 220 {
		t.Fatalf("greeting from 127.0.0.2 = %d", code)
	}
	for i := range 4 {
		c.Write([]byte("USER alice\r\n"))
		ftpwire.ReadReply(r)
		c.Write([]byte("PASS wrong\r\n"))
		rep, err := ftpwire.ReadReply(r)
		if err != nil {
			break // the server may hang up once the address is banned
		}
		if rep.Code != 530 {
			t.Fatalf("failure %d answered %d", i, rep.Code)
		}
	}
	if _, _, code := dialFrom(t, "127.0.0.2", addr); code != 0 {
		t.Errorf("banned address got a %d greeting, want the connection closed", code)
	}
	r2 := mustRaw(t, addr, nil)
	if err := r2.login("alice", "pw"); err != nil {
		t.Fatalf("127.0.0.1 after 127.0.0.2 was banned: %v", err)
	}
	if got := bans.List(); len(got) != 1 || got[0].Network != "127.0.0.2/32" {
		t.Errorf("stored bans = %+v", got)
	}
}

// TestAnonymousFTP: USER anonymous (any case) reaches the account marked
// anonymous with any password (even none), and its rules stay in force.
func TestAnonymousFTP(t *testing.T) {
	t.Parallel()
	yes := true
	env := ferrytest.NewEngine(t, ferrytest.User("anonymous", "", ferrytest.Perm("/=list,download"),
		ferrytest.WithPolicy(func(p *ferry.Policy) { p.Anonymous = &yes })))
	env.WriteFile(t, "anonymous", "pub/readme.txt", []byte("welcome"))
	addr := start(t, env, Options{TLSMode: TLSOff})
	for _, name := range []string{"anonymous", "ANONYMOUS"} {
		r := mustRaw(t, addr, nil)
		mustCode(t, r.cmd("USER "+name), 331, "USER")
		mustCode(t, r.cmd("PASS"), 230, "PASS with no password")
		mustCode(t, r.cmd("MKD /x"), 550, "MKD as anonymous")
		mustCode(t, r.cmd("SIZE /pub/readme.txt"), 213, "SIZE")
	}
	r := mustRaw(t, addr, nil)
	mustCode(t, r.cmd("USER nobody"), 331, "USER")
	mustCode(t, r.cmd("PASS"), 530, "empty password for a normal account")
}

// TestPreHookReasonReachesClient: a pre-hook's refusal is answered with its
// reason, so the user knows why.
func TestPreHookReasonReachesClient(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	env.Gate.Set(func(context.Context, ferry.Event) error {
		return &ferry.Refusal{Rule: "scan", Reason: "infected: EICAR\r\n250 fake"}
	})
	addr := start(t, env, Options{TLSMode: TLSOff})
	r := mustRaw(t, addr, nil)
	if err := r.login("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	rep := r.cmd("STOR x.exe")
	if rep.Code != 550 || !strings.Contains(rep.Text(), "Refused by policy: infected: EICAR") || strings.Contains(rep.Text(), "\n250") {
		t.Fatalf("STOR refused by a pre-hook = %d %q", rep.Code, rep.Text())
	}
}

// TestProbesAreScored: garbage before login and connections that leave
// without trying to log in count toward a ban, as failed logins do.
func TestProbesAreScored(t *testing.T) {
	t.Parallel()
	bans := &ferrytest.Bans{}
	env := ferrytest.NewEngineWith(t, func(o *core.Options) {
		o.Defender = auth.NewDefender(auth.DefenderOptions{Store: bans, Threshold: 3})
	}, ferrytest.User("alice", "pw"))
	addr := start(t, env, Options{TLSMode: TLSOff})
	c, r, _ := dialFrom(t, "127.0.0.2", addr)
	c.Write([]byte("GET / HTTP/1.1\r\n"))
	if rep, _ := ftpwire.ReadReply(r); rep.Code != 500 {
		t.Fatalf("garbage answered %d", rep.Code)
	}
	c.Close()
	// One garbage line and its silent disconnect score 2; one more probe
	// reaches the threshold of 3.
	c2, _, code := dialFrom(t, "127.0.0.2", addr)
	if code != 220 {
		t.Fatalf("second connection greeted %d", code)
	}
	c2.Close()
	deadline := time.Now().Add(10 * time.Second)
	for len(bans.List()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the disconnect is scored when the server notices it
	}
	if got := bans.List(); len(got) != 1 || got[0].Network != "127.0.0.2/32" {
		t.Fatalf("bans after probes = %+v", got)
	}
	r2 := mustRaw(t, addr, nil)
	if err := r2.login("alice", "pw"); err != nil {
		t.Fatalf("127.0.0.1 still works: %v", err)
	}
}
