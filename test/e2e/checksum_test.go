package e2e

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// TestUploadChecksumSurvivesRestart: the SHA-256 computed while a file was
// uploaded over SFTP is kept in the store; after `ferry serve` is stopped
// and started again, FTP XSHA256 and the REST API's ?hash=sha256 answer it
// without reading the file (proved by swapping the bytes behind Ferry's
// back while keeping size and time).
func TestUploadChecksumSurvivesRestart(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("ssh", "sftp")
	s.AddService("ftp", "ftp", "--tls", "off")
	s.AddService("http", "http")
	s.Start()

	data := make([]byte, 100000)
	rand.Read(data)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	conn, err := ssh.Dial("tcp", s.Addr("ssh"), &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.Password("alice-pw")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Create("/up.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	// Stop the server, then replace the bytes keeping size and time.
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Process.Wait()
	p := s.Home("alice", "up.bin")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	other := make([]byte, len(data))
	if err := os.WriteFile(p, other, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, fi.ModTime(), fi.ModTime())

	s.Start()
	if got := ftpXSHA256(t, s.Addr("ftp"), "/up.bin"); got != want {
		t.Errorf("FTP HASH/XSHA256 after a restart = %q, want the recorded %q", got, want)
	}
	if got := apiHash(t, "http://"+s.Addr("http"), "/up.bin"); got != want {
		t.Errorf("API hash after a restart = %q, want the recorded %q", got, want)
	}
}

// ftpXSHA256 logs in as alice over plain FTP and returns the digest HASH
// and XSHA256 answer for p.
func ftpXSHA256(t *testing.T, addr, p string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	reply := func() string {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("FTP reply: %v", err)
			}
			if len(line) >= 4 && line[3] == ' ' {
				return strings.TrimSpace(line)
			}
		}
	}
	cmd := func(line, code string) string {
		if line != "" {
			fmt.Fprintf(c, "%s\r\n", line)
		}
		rep := reply()
		if !strings.HasPrefix(rep, code) {
			t.Fatalf("FTP %q: %s, want %s", line, rep, code)
		}
		return rep
	}
	cmd("", "220")
	cmd("USER alice", "331")
	cmd("PASS alice-pw", "230")
	// HASH answers "213 SHA-256 0-SIZE HEX PATH"; XSHA256 "251 HEX".
	h := strings.Fields(cmd("HASH "+p, "213"))
	x := strings.Fields(cmd("XSHA256 "+p, "251"))
	if len(h) < 4 || !strings.EqualFold(h[3], x[len(x)-1]) {
		t.Errorf("HASH %v and XSHA256 %v disagree", h, x)
	}
	return strings.ToLower(x[len(x)-1])
}

func apiHash(t *testing.T, base, p string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/fs"+p+"?hash=sha256", nil)
	req.SetBasicAuth("alice", "alice-pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Hash string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET ?hash: %s, %v", resp.Status, err)
	}
	return out.Hash
}
