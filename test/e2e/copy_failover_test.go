package e2e

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCopyFailover: `ferry copy` to a stored location that names a
// failover goes to the backup when the primary refuses the login or is
// down, and says so on stderr; a host key mismatch on the primary fails
// the copy and never reaches the backup.
func TestCopyFailover(t *testing.T) {
	t.Parallel()
	primary := sftpServer(t, "bob", "bob-pw")
	s := sftpServer(t, "carol", "carol-pw")
	pAddr, bAddr := primary.Addr("ssh"), s.Addr("ssh")
	if err := os.MkdirAll(s.Home("carol", "dr"), 0o755); err != nil {
		t.Fatal(err)
	}
	addLoc := func(pw string, args ...string) {
		t.Helper()
		if r := s.FerryIn(pw+"\n", append([]string{"location", "add"}, append(args, "--password-stdin")...)...); r.Code != 0 {
			t.Fatalf("location add %v: %d %s", args, r.Code, r.Stderr)
		}
	}
	addLoc("carol-pw", "erp-dr", "sftp://carol@"+bAddr+"/dr")
	addLoc("bob-pw", "erp", "sftp://bob@"+pAddr+"/", "--failover", "erp-dr")
	addLoc("not-bobs-pw", "erp-badlogin", "sftp://bob@"+pAddr+"/", "--failover", "erp-dr")
	addLoc("bob-pw", "erp-pinned", "sftp://bob@"+pAddr+"/", "--failover", "erp-dr",
		"--host-key", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")

	local := t.TempDir()
	file := func(name string) (string, []byte) {
		b := xferRandom(t, 64<<10)
		p := filepath.Join(local, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p, b
	}
	onBackup := func(name string, want []byte) {
		t.Helper()
		if got, err := os.ReadFile(s.Home("carol", "dr", "in", name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s on the backup: %v", name, err)
		}
	}

	// The primary up: it gets the file, nothing is said about a backup.
	p, a := file("a.csv")
	if r := s.Ferry("copy", p, "location:erp/in/"); r.Code != 0 || strings.Contains(r.Stderr, "via backup") {
		t.Fatalf("copy to the primary: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if got, err := os.ReadFile(primary.Home("bob", "in", "a.csv")); err != nil || !bytes.Equal(got, a) {
		t.Errorf("a.csv on the primary: %v", err)
	}

	// A refused login: the backup.
	p, b := file("b.csv")
	if r := s.Ferry("copy", p, "location:erp-badlogin/in/"); r.Code != 0 || !strings.Contains(r.Stderr, "via backup erp-dr") {
		t.Fatalf("copy with a refused login: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	onBackup("b.csv", b)

	// A host key mismatch: an error, never the backup.
	p, _ = file("c.csv")
	r := s.Ferry("copy", p, "location:erp-pinned/in/")
	if r.Code != 1 || !strings.Contains(r.Stderr, "host key") || strings.Contains(r.Stderr, "via backup") {
		t.Errorf("copy with a host key mismatch: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if _, err := os.Stat(s.Home("carol", "dr", "in", "c.csv")); !os.IsNotExist(err) {
		t.Errorf("c.csv went to the backup despite the host key mismatch: %v", err)
	}

	// The primary down: the backup, and a download from it too.
	primary.cmd.Process.Kill()
	WaitFor(t, "the primary to be down", func() bool {
		c, err := net.DialTimeout("tcp", pAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	p, d := file("d.csv")
	if r := s.Ferry("copy", p, "location:erp/in/"); r.Code != 0 || !strings.Contains(r.Stderr, "via backup erp-dr") {
		t.Fatalf("copy with the primary down: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	onBackup("d.csv", d)
	back := filepath.Join(t.TempDir(), "d.csv")
	if r := s.Ferry("copy", "location:erp/in/d.csv", back); r.Code != 0 || !strings.Contains(r.Stderr, "via backup erp-dr") {
		t.Fatalf("copy from the primary down: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, d) {
		t.Errorf("d.csv downloaded through the backup: %v", err)
	}
}
