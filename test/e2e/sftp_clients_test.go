package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// cutUpload starts an atomic upload of data[:n] to name with pkg/sftp and
// drops the connection before CLOSE, leaving a partial behind.
func cutUpload(t *testing.T, addr, user, pw, name string, data []byte) {
	t.Helper()
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

// TestOpenSSHReputAtomicResumable: with upload mode atomic-resumable, an
// interrupted upload is continued by OpenSSH's reput (which stats the
// partial, then appends), and the file appears only when complete.
func TestOpenSSHReputAtomicResumable(t *testing.T) {
	requireTool(t, "sftp", "sshpass")
	t.Parallel()
	s := newServer(t)
	s.AddUser("rita", "pw-rita", "--perm", "/=all", "--upload-mode", "atomic-resumable")
	s.AddService("ssh", "sftp")
	s.Start()
	addr := s.Addr("ssh")
	host, port, _ := net.SplitHostPort(addr)
	local := t.TempDir()
	big := randomFile(t, local, "big.bin", 4<<20+99)
	const cut = 1<<20 + 3
	cutUpload(t, addr, "rita", "pw-rita", "big.bin", big[:cut])
	WaitFor(t, "the interrupted upload's partial", func() bool {
		m, _ := filepath.Glob(s.Home("rita", ".ferry-upload.*.part"))
		if len(m) != 1 {
			return false
		}
		fi, err := os.Stat(m[0])
		return err == nil && fi.Size() == cut
	})
	WaitFor(t, "the interrupted session to end", func() bool {
		return !strings.Contains(s.MustFerry("who"), "rita")
	})
	if _, err := os.Stat(s.Home("rita", "big.bin")); err == nil {
		t.Fatal("the interrupted upload is visible under its name")
	}
	bf := filepath.Join(local, "batch")
	os.WriteFile(bf, []byte("reput "+filepath.Join(local, "big.bin")+" big.bin\n"), 0o644)
	out, err := run(t, "", "sshpass", append([]string{"-p", "pw-rita", "sftp"}, sshOpts(port, "-b", bf, "rita@"+host)...)...)
	if err != nil {
		t.Fatalf("reput: %v\n%s", err, out)
	}
	mustSame(t, s.Home("rita", "big.bin"), big)
	if m, _ := filepath.Glob(s.Home("rita", ".ferry-upload.*.part")); len(m) != 0 {
		t.Errorf("partials left: %v", m)
	}
}
