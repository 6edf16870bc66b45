package ftpd

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

// greet connects and returns the greeting with the connection.
func greet(t *testing.T, addr string) (*raw, ftpwire.Reply) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := &raw{conn: c, r: bufio.NewReader(c), addr: addr}
	t.Cleanup(r.close)
	return r, trimmed(r.read())
}

// trimmed drops the space that prefixes the middle lines of a
// multi-line reply on the wire.
func trimmed(rep ftpwire.Reply) ftpwire.Reply {
	for i, l := range rep.Lines {
		rep.Lines[i] = strings.TrimPrefix(l, " ")
	}
	return rep
}

// TestGreetingAndLoginMessage: the banner file's lines and "user N of M"
// make the 220; the login message the 230, which a real client accepts.
func TestGreetingAndLoginMessage(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	file := filepath.Join(t.TempDir(), "banner.txt")
	if err := os.WriteFile(file, []byte("Welcome to Example Corp.\r\n220 is not an end\nAuthorised use only.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := start(t, env, Options{TLSMode: TLSOff, BannerFile: file, Banner: "unused", ShowUserCount: true,
		MaxConns: 5, LoginMessage: "Read /README first.\nQuota: 1 GiB."})

	r1, rep := greet(t, addr)
	want := []string{"Welcome to Example Corp.", "220 is not an end", "Authorised use only.", "You are user number 1 of 5 allowed."}
	if rep.Code != 220 || !slices.Equal(rep.Lines, want) {
		t.Fatalf("greeting %d %q, want %q", rep.Code, rep.Lines, want)
	}
	mustCode(t, r1.cmd("USER alice"), 331, "USER")
	rep = trimmed(r1.cmd("PASS pw"))
	if want := []string{"Read /README first.", "Quota: 1 GiB.", "User alice logged in."}; rep.Code != 230 || !slices.Equal(rep.Lines, want) {
		t.Fatalf("login reply %d %q, want %q", rep.Code, rep.Lines, want)
	}
	mustCode(t, r1.cmd("NOOP"), 200, "NOOP after the multi-line 230")

	// The logged-in session counts.
	_, rep = greet(t, addr)
	if last := rep.Lines[len(rep.Lines)-1]; last != "You are user number 2 of 5 allowed." {
		t.Fatalf("second greeting ends %q", last)
	}
	// A real client logs in through both multi-line replies.
	g, err := dialGo(t, addr, "alice", "pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Upload("/x.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	g.Close()

	// An unreadable banner file falls back to the banner text; no count
	// line when not asked, no "of M" when unlimited.
	addr2 := start(t, env, Options{TLSMode: TLSOff, BannerFile: filepath.Join(t.TempDir(), "missing"), Banner: "Plain banner."})
	if _, rep := greet(t, addr2); !slices.Equal(rep.Lines, []string{"Plain banner."}) {
		t.Fatalf("fallback greeting %q", rep.Lines)
	}
	addr3 := start(t, env, Options{TLSMode: TLSOff, ShowUserCount: true, Service: "other"})
	if _, rep := greet(t, addr3); !slices.Equal(rep.Lines, []string{"Ferry FTP server ready.", "You are user number 1."}) {
		t.Fatalf("default greeting %q", rep.Lines)
	}
}
