package sshd

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/pkg/sftp"

	"github.com/ferrymft/ferry/internal/ferrytest"
)

// fsync@openssh.com flushes an open upload; the file still appears under
// its name only on close.
func TestSFTPFsync(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	env.WriteFile(t, "alice", "r.txt", []byte("read me"))
	addr := startServer(t, env)
	c := dialSFTP(t, addr, "alice", "pw")
	defer c.Close()
	f, err := c.c.OpenFile("/synced.bin", os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 10000)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if _, err := c.c.Stat("/synced.bin"); err == nil {
		t.Error("an atomic upload is visible before close")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(env.Home("alice", "synced.bin")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("after fsync and close: %d bytes, %v", len(got), err)
	}
	r, err := c.c.Open("/r.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(); err != nil {
		t.Errorf("fsync of a read handle: %v", err)
	}
	r.Close()
}

// users-groups-by-id@openssh.com names the session's ids after the account;
// every file carries them.
func TestSFTPUsersGroupsByID(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	env.WriteFile(t, "alice", "f.txt", []byte("x"))
	addr := startServer(t, env)
	c := dialSFTP(t, addr, "alice", "pw")
	defer c.Close()
	fi, err := c.c.Stat("/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*sftp.FileStat); !ok || st.UID != sessionUID || st.GID != sessionGID {
		t.Errorf("owner ids: %+v", fi.Sys())
	}

	conn, err := dialSSH(t, addr, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := openRaw(t, conn)
	ids := func(v ...uint32) string {
		var b []byte
		for _, x := range v {
			b = binary.BigEndian.AppendUint32(b, x)
		}
		return string(b)
	}
	r.sendRaw(req(fxpExtended, 5, "users-groups-by-id@openssh.com", ids(sessionUID, 0), ids(7, sessionGID)))
	typ, b := r.recv()
	want := req(fxpExtendedReply, 5, string(putStr(putStr(nil, "alice"), "")), string(putStr(putStr(nil, ""), "alice")))[1:]
	if typ != fxpExtendedReply || !bytes.Equal(b, want) {
		t.Errorf("reply %d %q, want %q", typ, b, want)
	}
	r.sendRaw(req(fxpExtended, 6, "users-groups-by-id@openssh.com", "abc", ""))
	if code := r.status(6); code != fxBadMessage {
		t.Errorf("ids not a multiple of 4 bytes: status %d", code)
	}
}

// md5sum and friends without a path (or with "-") hash standard input, as
// coreutils do: rclone detects the commands by hashing empty input.
func TestExecChecksumStdin(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startServer(t, env)
	conn, err := dialSSH(t, addr, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, tt := range []struct{ cmd, in, want string }{
		{"md5sum", "", "d41d8cd98f00b204e9800998ecf8427e  -\n"},
		{"sha1sum", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709  -\n"},
		{"sha256sum -", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n"},
	} {
		s, err := conn.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		s.Stdin = strings.NewReader(tt.in)
		out, err := s.Output(tt.cmd)
		if err != nil || string(out) != tt.want {
			t.Errorf("%s with %q on stdin: %q %v, want %q", tt.cmd, tt.in, out, err, tt.want)
		}
		s.Close()
	}
}
