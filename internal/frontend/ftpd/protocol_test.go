package ftpd

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

func newEnv(t *testing.T) *ferrytest.Env {
	return ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
}

func loggedIn(t *testing.T, addr string) *raw {
	r := mustRaw(t, addr, nil)
	if err := r.login("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRepliesBeforeLogin(t *testing.T) {
	t.Parallel()
	addr := start(t, newEnv(t), Options{TLSMode: TLSOff})
	r := mustRaw(t, addr, nil)
	for _, tt := range []struct {
		line string
		code int
	}{
		{"PWD", 530}, {"RETR /x", 530}, {"LIST", 530}, {"PORT 127,0,0,1,4,1", 530},
		{"FOO", 500}, {"NOOP", 200}, {"SYST", 215}, {"ACCT x", 502}, {"AUTH TLS", 502},
		{"PASS x", 503}, {"USER", 501}, {"HELP", 214}, {"OPTS UTF8 ON", 200}, {"ABOR", 225},
		{"USER alice", 331}, {"PASS wrong", 530}, {"PWD", 530},
		{strings.Repeat("A", 10<<10), 500}, {"\x00\x01\x02garbage", 500}, {"NOOP", 200},
		{"USER alice", 331}, {"PASS pw", 230}, {"PWD", 257}, {"USER bob", 530},
	} {
		mustCode(t, r.cmd(tt.line), tt.code, strconv.Quote(ftpwire.StripTelnet(tt.line[:min(len(tt.line), 20)])))
	}
	if rep := r.cmd("QUIT"); rep.Code != 221 {
		t.Fatalf("QUIT: %d", rep.Code)
	}
}

func TestMultiLineReplies(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.WriteFile(t, "alice", "d/a.txt", []byte("hello"))
	addr := start(t, env, Options{TLSMode: TLSExplicit})
	r := mustRaw(t, addr, nil)
	r.send("FEAT")
	var raw []string
	for {
		line, err := ftpwire.ReadLine(r.r)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, line)
		if strings.HasPrefix(line, "211 ") {
			break
		}
	}
	if raw[0] != "211-Features:" || raw[len(raw)-1] != "211 End" {
		t.Fatalf("FEAT framing: %q", raw)
	}
	for _, want := range []string{" AUTH TLS", " EPSV", " MLST type*;size*;modify*;perm*;UNIX.mode*;unique;", " REST STREAM", " UTF8", " MFMT", " SIZE"} {
		found := false
		for _, l := range raw {
			found = found || l == want
		}
		if !found {
			t.Errorf("FEAT lacks %q: %q", want, raw)
		}
	}
	if err := r.login("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	rep := r.cmd("MLST d/a.txt")
	mustCode(t, rep, 250, "MLST")
	if len(rep.Lines) != 3 || !strings.HasPrefix(rep.Lines[1], " type=file;size=5;modify=") || !strings.HasSuffix(rep.Lines[1], "; /d/a.txt") {
		t.Fatalf("MLST = %q", rep.Lines)
	}
	mustCode(t, r.cmd("STAT"), 211, "STAT")
	rep = r.cmd("STAT /d")
	mustCode(t, rep, 213, "STAT dir")
	if len(rep.Lines) != 3 || !strings.HasSuffix(rep.Lines[1], " a.txt") {
		t.Fatalf("STAT /d = %q", rep.Lines)
	}
	mustCode(t, r.cmd("SIZE d/a.txt"), 213, "SIZE")
	mustCode(t, r.cmd("SIZE d"), 550, "SIZE dir")
	mustCode(t, r.cmd("CWD d"), 250, "CWD")
	rep = r.cmd("PWD")
	if rep.Code != 257 || !strings.HasPrefix(rep.Lines[0], `"/d"`) {
		t.Fatalf("PWD = %d %q", rep.Code, rep.Text())
	}
	mustCode(t, r.cmd("CDUP"), 250, "CDUP")
	mustCode(t, r.cmd("CDUP"), 250, "CDUP at root stays")
	mustCode(t, r.cmd("CWD a-missing"), 550, "CWD missing")
	mustCode(t, r.cmd("MFMT 20200102030405 d/a.txt"), 213, "MFMT")
	rep = r.cmd("MDTM d/a.txt")
	if rep.Code != 213 || rep.Lines[0] != "20200102030405" {
		t.Fatalf("MDTM = %d %q", rep.Code, rep.Text())
	}
	rep = r.cmd("XCRC d/a.txt")
	if rep.Code != 250 || rep.Lines[0] != "3610A686" {
		t.Fatalf("XCRC = %d %q", rep.Code, rep.Text())
	}
	rep = r.cmd("HASH d/a.txt")
	if rep.Code != 213 || rep.Lines[0] != "SHA-256 0-5 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 d/a.txt" {
		t.Fatalf("HASH = %d %q", rep.Code, rep.Text())
	}
	mustCode(t, r.cmd("OPTS HASH MD5"), 200, "OPTS HASH")
	mustCode(t, r.cmd("AVBL"), 213, "AVBL")
	mustCode(t, r.cmd("SITE CHMOD 600 d/a.txt"), 200, "SITE CHMOD")
	if fi, _ := os.Stat(env.Home("alice", "d/a.txt")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after SITE CHMOD = %v", fi.Mode())
	}
	mustCode(t, r.cmd("SITE SYMLINK a b"), 502, "SITE SYMLINK disabled")
	mustCode(t, r.cmd("SITE HELP"), 214, "SITE HELP")
	mustCode(t, r.cmd("TYPE E"), 504, "TYPE E")
	mustCode(t, r.cmd("TYPE L 8"), 200, "TYPE L 8")
	mustCode(t, r.cmd("MODE B"), 504, "MODE B")
	mustCode(t, r.cmd("STRU R"), 504, "STRU R")
	mustCode(t, r.cmd("ALLO 100"), 202, "ALLO")
	mustCode(t, r.cmd("REST abc"), 501, "REST bad")
	mustCode(t, r.cmd("RNTO x"), 503, "RNTO without RNFR")
	mustCode(t, r.cmd("RNFR d/a.txt"), 350, "RNFR")
	mustCode(t, r.cmd("RNTO d/b.txt"), 250, "RNTO")
	mustCode(t, r.cmd("MKD new"), 257, "MKD")
	mustCode(t, r.cmd("MKD new"), 550, "MKD exists")
	mustCode(t, r.cmd("RMD new"), 250, "RMD")
	mustCode(t, r.cmd("DELE d/b.txt"), 250, "DELE")
	mustCode(t, r.cmd("DELE d/b.txt"), 550, "DELE missing")
	mustCode(t, r.cmd("REIN"), 220, "REIN")
	mustCode(t, r.cmd("PWD"), 530, "PWD after REIN")
}

func TestBadDataAddresses(t *testing.T) {
	t.Parallel()
	addr := start(t, newEnv(t), Options{TLSMode: TLSOff})
	r := loggedIn(t, addr)
	for _, tt := range []struct {
		line string
		code int
	}{
		{"PORT 1,2,3", 501},
		{"PORT 127,0,0,1,300,1", 501},
		{"PORT 127,0,0,2,200,1", 501},    // another host: bounce
		{"PORT 10,0,0,1,200,1", 501},     // another host: bounce
		{"PORT 127,0,0,1,0,21", 501},     // privileged port
		{"EPRT |1|127.0.0.2|5000|", 501}, // bounce
		{"EPRT |3|x|1|", 522},
		{"EPRT garbage", 522},
		{"EPSV 3", 522},
		{"PORT 127,0,0,1,200,1", 200},
		{"EPRT |1|127.0.0.1|51201|", 200},
		{"EPSV ALL", 200},
		{"PASV", 503},
		{"PORT 127,0,0,1,200,1", 503},
		{"RETR x", 550},
	} {
		mustCode(t, r.cmd(tt.line), tt.code, tt.line)
	}
}

func TestTraversalRefused(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	addr := start(t, env, Options{TLSMode: TLSOff})
	r := loggedIn(t, addr)
	mustCode(t, r.cmd("CWD ../../.."), 250, "CWD above root")
	rep := r.cmd("PWD")
	if !strings.HasPrefix(rep.Lines[0], `"/"`) {
		t.Fatalf("PWD after climbing = %q", rep.Text())
	}
	for _, p := range []string{"../../etc/passwd", "/../../../etc/passwd", "..\\..\\etc\\passwd"} {
		mustCode(t, r.cmd("SIZE "+p), 550, "SIZE "+p)
		mustCode(t, r.cmd("RETR "+p), 550, "RETR "+p)
	}
	mustCode(t, r.cmd("MKD a\x01b"), 501, "control character")
}

func TestPassiveFromForeignAddressGetsNoData(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.WriteFile(t, "alice", "f.txt", []byte("secret bytes"))
	addr := start(t, env, Options{TLSMode: TLSOff})
	r := loggedIn(t, addr)
	rep := r.cmd("PASV")
	mustCode(t, rep, 227, "PASV")
	ap, err := ftpwire.ParsePASV(rep.Lines[0])
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	foreign, err := d.Dial("tcp", ap.String())
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2: %v", err)
	}
	defer foreign.Close()
	r.send("RETR f.txt")
	mustCode(t, r.read(), 150, "RETR")
	_ = foreign.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, _ := io.ReadAll(foreign); len(b) > 0 {
		t.Fatalf("foreign data connection got %q", b)
	}
	own, err := net.Dial("tcp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(own)
	own.Close()
	if string(b) != "secret bytes" {
		t.Fatalf("own data connection got %q", b)
	}
	mustCode(t, r.read(), 226, "after RETR")
}

func TestRestartAndAbort(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	big := make([]byte, 64<<20)
	_, _ = rand.Read(big[:1<<20])
	env.WriteFile(t, "alice", "big.bin", big)
	env.WriteFile(t, "alice", "s.txt", []byte("0123456789"))
	addr := start(t, env, Options{TLSMode: TLSOff})
	r := loggedIn(t, addr)

	// REST + RETR
	dc, err := r.pasv()
	if err != nil {
		t.Fatal(err)
	}
	mustCode(t, r.cmd("REST 4"), 350, "REST")
	mustCode(t, r.cmd("RETR s.txt"), 150, "RETR")
	b, _ := io.ReadAll(dc)
	dc.Close()
	mustCode(t, r.read(), 226, "RETR done")
	if string(b) != "456789" {
		t.Fatalf("REST 4 + RETR = %q", b)
	}

	// REST + STOR continues the file.
	dc, _ = r.pasv()
	mustCode(t, r.cmd("REST 10"), 350, "REST")
	mustCode(t, r.cmd("STOR s.txt"), 150, "STOR")
	dc.Write([]byte("abc"))
	dc.Close()
	mustCode(t, r.read(), 226, "STOR done")
	if got, _ := os.ReadFile(env.Home("alice", "s.txt")); string(got) != "0123456789abc" {
		t.Fatalf("after REST+STOR: %q", got)
	}
	// REST beyond the size is refused.
	mustCode(t, r.cmd("REST 1000"), 350, "REST")
	if _, err := r.pasv(); err != nil {
		t.Fatal(err)
	}
	mustCode(t, r.cmd("RETR s.txt"), 501, "RETR beyond end")

	// ABOR while the server is blocked sending: 426 then 226.
	dc, _ = r.pasv()
	mustCode(t, r.cmd("RETR big.bin"), 150, "RETR big")
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(dc, buf); err != nil {
		t.Fatal(err)
	}
	r.send("\xff\xf4\xff\xf2ABOR")
	mustCode(t, r.read(), 426, "transfer reply after ABOR")
	mustCode(t, r.read(), 226, "ABOR reply")
	dc.Close()
	mustCode(t, r.cmd("NOOP"), 200, "NOOP after ABOR")

	// STAT during a transfer answers on the control connection.
	dc, _ = r.pasv()
	mustCode(t, r.cmd("RETR big.bin"), 150, "RETR big")
	io.ReadFull(dc, buf)
	rep := r.cmd("STAT")
	if rep.Code != 213 || !strings.Contains(rep.Text(), "RETR big.bin") {
		t.Fatalf("STAT during transfer = %d %q", rep.Code, rep.Text())
	}
	n, _ := io.Copy(io.Discard, dc)
	dc.Close()
	mustCode(t, r.read(), 226, "RETR big done")
	if n+1000 != int64(len(big)) {
		t.Fatalf("got %d bytes after STAT, want %d", n+1000, len(big))
	}
}

func TestASCIIAndListing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for _, n := range []string{"a.txt", "b.txt", "c.log", ".dot"} {
		env.WriteFile(t, "alice", "l/"+n, []byte("x"))
	}
	addr := start(t, env, Options{TLSMode: TLSOff})
	r := loggedIn(t, addr)
	data := func(line string, code int, send []byte) string {
		t.Helper()
		dc, err := r.pasv()
		if err != nil {
			t.Fatal(err)
		}
		mustCode(t, r.cmd(line), 150, line)
		if send != nil {
			dc.Write(send)
			dc.Close()
			mustCode(t, r.read(), code, line)
			return ""
		}
		b, _ := io.ReadAll(dc)
		dc.Close()
		mustCode(t, r.read(), code, line)
		return string(b)
	}
	mustCode(t, r.cmd("TYPE A"), 200, "TYPE A")
	data("STOR t.txt", 226, []byte("one\r\ntwo\r\nlone\rcr\r\n"))
	if got, _ := os.ReadFile(env.Home("alice", "t.txt")); string(got) != "one\ntwo\nlone\rcr\n" {
		t.Fatalf("ASCII upload stored %q", got)
	}
	if got := data("RETR t.txt", 226, nil); got != "one\r\ntwo\r\nlone\rcr\r\n" {
		t.Fatalf("ASCII download = %q", got)
	}
	mustCode(t, r.cmd("TYPE I"), 200, "TYPE I")
	if got := data("RETR t.txt", 226, nil); got != "one\ntwo\nlone\rcr\n" {
		t.Fatalf("binary download = %q", got)
	}
	if got := data("NLST l/*.txt", 226, nil); got != "l/a.txt\r\nl/b.txt\r\n" && got != "l/b.txt\r\nl/a.txt\r\n" {
		t.Fatalf("NLST wildcard = %q", got)
	}
	got := data("LIST -la l", 226, nil)
	if strings.Count(got, "\r\n") != 4 || !strings.Contains(got, " .dot\r\n") || !strings.HasPrefix(got, "-rw") {
		t.Fatalf("LIST -la = %q", got)
	}
	if got := data("LIST l/c.*", 226, nil); strings.Count(got, "\r\n") != 1 || !strings.HasSuffix(got, " c.log\r\n") {
		t.Fatalf("LIST wildcard = %q", got)
	}
	got = data("MLSD l", 226, nil)
	if strings.Count(got, "\r\n") != 4 || !strings.Contains(got, "type=file;size=1;") {
		t.Fatalf("MLSD = %q", got)
	}
	rep := r.cmd("STOU")
	mustCode(t, rep, 425, "STOU without PASV")
	dc, _ := r.pasv()
	rep = r.cmd("STOU")
	if rep.Code != 150 || !strings.HasPrefix(rep.Lines[0], "FILE: ferry.") {
		t.Fatalf("STOU = %d %q", rep.Code, rep.Text())
	}
	dc.Write([]byte("unique"))
	dc.Close()
	mustCode(t, r.read(), 226, "STOU done")
	name := strings.TrimPrefix(rep.Lines[0], "FILE: ")
	if got, _ := os.ReadFile(env.Home("alice", name)); string(got) != "unique" {
		t.Fatalf("STOU stored %q", got)
	}
}

func TestTLSPolicy(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.WriteFile(t, "alice", "f.txt", []byte("tls data"))
	addr := start(t, env, Options{TLSMode: TLSRequired})
	r := mustRaw(t, addr, nil)
	mustCode(t, r.cmd("USER alice"), 530, "USER before AUTH TLS")
	mustCode(t, r.cmd("PBSZ 0"), 503, "PBSZ before AUTH")

	// A client that resumes its control session gets data.
	cfg := clientTLS()
	r2 := mustRaw(t, addr, cfg)
	if err := r2.login("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	mustCode(t, r2.cmd("PROT C"), 534, "PROT C on a required service")
	dc, _ := r2.pasv()
	mustCode(t, r2.cmd("RETR f.txt"), 150, "RETR")
	b, err := io.ReadAll(dc)
	dc.Close()
	mustCode(t, r2.read(), 226, "RETR over TLS with reuse")
	if string(b) != "tls data" || err != nil {
		t.Fatalf("TLS data = %q, %v", b, err)
	}

	// A data connection with a fresh TLS session is refused.
	r3 := mustRaw(t, addr, clientTLS())
	if err := r3.login("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	dc, _ = r3.pasv()
	dc.(*lazyTLS).cfg = &tls.Config{InsecureSkipVerify: true}
	mustCode(t, r3.cmd("RETR f.txt"), 150, "RETR")
	b, _ = io.ReadAll(dc)
	dc.Close()
	mustCode(t, r3.read(), 522, "RETR without session reuse")
	if len(b) > 0 {
		t.Fatalf("unresumed data connection got %q", b)
	}
	mustCode(t, r3.cmd("CCC"), 200, "CCC")
}

func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	addr := start(t, newEnv(t), Options{TLSMode: TLSOff, MaxConnsPerIP: 1})
	mustRaw(t, addr, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rep, _ := ftpwire.ReadReply(newReader(c))
	if rep.Code != 421 {
		t.Fatalf("second connection got %d %q, want 421", rep.Code, rep.Text())
	}
}

func TestActiveMode(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.WriteFile(t, "alice", "f.txt", []byte("active"))
	addr := start(t, env, Options{TLSMode: TLSOff})
	r := loggedIn(t, addr)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	mustCode(t, r.cmd("EPRT "+ftpwire.FormatEPRT(addrPort(ln.Addr()))), 200, "EPRT")
	mustCode(t, r.cmd("RETR f.txt"), 150, "RETR")
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	mustCode(t, r.read(), 226, "RETR active")
	if !bytes.Equal(b, []byte("active")) {
		t.Fatalf("active RETR = %q", b)
	}
}
