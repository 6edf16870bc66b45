package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// svcState is one service as `ferry status --json` reports it.
func (s *Server) svcState(name string) (state, addr, errText string, sessions int, found bool) {
	st, ok := s.status()
	if !ok {
		return "", "", "", 0, false
	}
	for _, v := range st.Services {
		if v.Name == name {
			return v.State, v.Address, v.Error, v.Sessions, true
		}
	}
	return "", "", "", 0, false
}

func sftpLogin(t *testing.T, addr, user, pw string) (*sftp.Client, *ssh.Client) {
	t.Helper()
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("ssh %s: %v", addr, err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, conn
}

// ftpGreets reports whether an FTP server answers 220 at addr.
func ftpGreets(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "220")
}

func closedPort(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
	}
	return err != nil
}

// TestServiceLiveChangesDuringSFTPTransfer drives a real `ferry serve`
// with the CLI while an SFTP download and upload are half done: another
// service is added, stopped and removed, a third (FTP) gets a new passive
// range and restarts, a service on a port in use fails with the reason.
// The transfers then complete byte-exact. Last, the SFTP service itself
// is stopped: its session finishes within services.stop_grace while new
// connections are refused.
func TestServiceLiveChangesDuringSFTPTransfer(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("sftp1", "sftp")
	s.AddService("ftp1", "ftp", "--tls", "off")
	data := make([]byte, 8<<20)
	rand.Read(data)
	if err := os.MkdirAll(s.Home("alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Home("alice", "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.Start()
	sftpAddr, ftpAddr := s.Addr("sftp1"), s.Addr("ftp1")

	c, _ := sftpLogin(t, sftpAddr, "alice", "alice-pw")
	down, err := c.Open("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	half := len(data) / 2
	got := make([]byte, half)
	if _, err := io.ReadFull(down, got); err != nil {
		t.Fatal(err)
	}
	up, err := c.Create("/up.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(data[:half]); err != nil {
		t.Fatal(err)
	}

	// Add another service: it starts within a poll interval and answers.
	s.MustFerry("service", "add", "extra", "--protocol", "http", "--listen", "127.0.0.1:0")
	var extraAddr string
	WaitFor(t, "extra running", func() bool {
		var state string
		state, extraAddr, _, _, _ = s.svcState("extra")
		return state == "running"
	})
	res, err := http.Get("http://" + extraAddr + "/")
	if err != nil {
		t.Fatalf("the added service does not answer: %v", err)
	}
	res.Body.Close()

	// Update the third: a passive range restarts only it.
	s.MustFerry("service", "set", "ftp1", "--passive-ports", "40000-40100")
	var newFTP string
	WaitFor(t, "ftp1 restarted", func() bool {
		state, addr, errText, _, _ := s.svcState("ftp1")
		newFTP = addr
		return state == "running" && errText == "" && addr != ftpAddr && addr != ""
	})
	if !ftpGreets(newFTP) {
		t.Errorf("ftp1 does not answer at its new address %s", newFTP)
	}

	// Stop and remove the added one.
	s.MustFerry("service", "stop", "extra")
	WaitFor(t, "extra closed", func() bool { return closedPort(extraAddr) })
	s.MustFerry("service", "remove", "extra")
	WaitFor(t, "extra gone", func() bool { _, _, _, _, found := s.svcState("extra"); return !found })

	// A port in use: failed with the reason.
	s.MustFerry("service", "add", "clash", "--protocol", "ftp", "--listen", sftpAddr)
	WaitFor(t, "clash failed", func() bool {
		state, _, errText, _, _ := s.svcState("clash")
		return state == "failed" && strings.Contains(errText, "address already in use")
	})

	// The others kept answering; the SFTP service never moved.
	if state, addr, _, n, _ := s.svcState("sftp1"); state != "running" || addr != sftpAddr || n != 1 {
		t.Errorf("sftp1 = %s at %s with %d sessions, want running at %s with 1", state, addr, n, sftpAddr)
	}
	other, _ := sftpLogin(t, sftpAddr, "alice", "alice-pw")
	if _, err := other.ReadDir("/"); err != nil {
		t.Errorf("a new SFTP session: %v", err)
	}
	other.Close()
	if !ftpGreets(newFTP) {
		t.Error("ftp1 stopped answering")
	}

	// Both transfers complete byte-exact.
	if _, err := up.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(down)
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	if !bytes.Equal(append(got, rest...), data) {
		t.Error("the download differs from the file")
	}
	if b, err := os.ReadFile(s.Home("alice", "up.bin")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("the upload on disk: %d bytes, %v", len(b), err)
	}

	// Stop the SFTP service itself: new connections are refused at once,
	// the open session keeps working within the grace period (30s by
	// default) and the service is done when it leaves.
	s.MustFerry("service", "stop", "sftp1")
	WaitFor(t, "sftp1 closed", func() bool { return closedPort(sftpAddr) })
	f, err := c.Create("/after-stop.txt")
	if err != nil {
		t.Fatalf("the session of a stopped service, within its grace: %v", err)
	}
	if _, err := f.Write([]byte("finished\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(s.Home("alice", "after-stop.txt")); err != nil || string(b) != "finished\n" {
		t.Errorf("upload after stop: %q %v", b, err)
	}
	c.Close()
}
