package e2e

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
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

// TestRcloneSFTP runs rclone's sftp backend: copy, sync, check, lsjson and
// hash sums through the md5sum/sha1sum commands, which rclone detects by
// running them on empty input.
func TestRcloneSFTP(t *testing.T) {
	requireTool(t, "rclone", "md5sum", "sha1sum")
	t.Parallel()
	s, host, port := startSFTP(t)
	local := t.TempDir()
	src := filepath.Join(local, "src")
	os.MkdirAll(filepath.Join(src, "sub dir"), 0o755)
	files := map[string][]byte{
		"a.bin":         randomFile(t, src, "a.bin", 3<<20+1),
		"b.txt":         randomFile(t, src, "b.txt", 1234),
		"sub dir/c.bin": randomFile(t, filepath.Join(src, "sub dir"), "c.bin", 70000),
		"sub dir/empty": randomFile(t, filepath.Join(src, "sub dir"), "empty", 0),
	}
	conf := filepath.Join(local, "rclone.conf")
	rclone := func(args ...string) string {
		t.Helper()
		out, err := run(t, "", "rclone", append([]string{"--config", conf}, args...)...)
		if err != nil {
			t.Fatalf("rclone %v: %v\n%s", args, err, out)
		}
		return out
	}
	obscured := strings.TrimSpace(rclone("obscure", "pw-alice"))
	// key=value pairs: an obscured password may start with '-', which
	// rclone would otherwise read as a flag.
	rclone("config", "create", "ferry", "sftp", "host="+host, "port="+port, "user=alice", "pass="+obscured)

	rclone("copy", src, "ferry:dst")
	for name, data := range files {
		mustSame(t, s.Home("alice", "dst", filepath.FromSlash(name)), data)
	}
	out := rclone("lsjson", "-R", "ferry:dst")
	var entries []struct {
		Path  string
		Size  int64
		IsDir bool
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("lsjson: %v\n%s", err, out)
	}
	seen := map[string]int64{}
	for _, e := range entries {
		if !e.IsDir {
			seen[e.Path] = e.Size
		}
	}
	for name, data := range files {
		if size, ok := seen[name]; !ok || size != int64(len(data)) {
			t.Errorf("lsjson: %s: size %d, listed %v", name, len(data), ok)
		}
	}
	if len(seen) != len(files) {
		t.Errorf("lsjson lists %d files, want %d: %v", len(seen), len(files), seen)
	}

	// Hashes: one file first, so that rclone's detection of the commands
	// (it runs `md5sum` and `sha1sum` on empty input) settles and is saved.
	rclone("md5sum", "ferry:dst/b.txt")
	if c, _ := os.ReadFile(conf); !strings.Contains(string(c), "md5sum_command = md5sum") ||
		!strings.Contains(string(c), "sha1sum_command = sha1sum") {
		t.Errorf("rclone did not detect the hash commands:\n%s", c)
	}
	for _, algo := range []string{"md5", "sha1"} {
		out := rclone("hashsum", algo, "ferry:dst")
		want, err := run(t, "", "sh", "-c", "cd '"+src+"' && "+algo+"sum a.bin b.txt 'sub dir/c.bin' 'sub dir/empty'")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
			if !strings.Contains(out, line) {
				t.Errorf("rclone hashsum %s lacks %q:\n%s", algo, line, out)
			}
		}
	}
	rclone("check", src, "ferry:dst") // sizes and md5 hashes

	// sync: a changed file, a removed file and a new one.
	os.Remove(filepath.Join(src, "b.txt"))
	changed := randomFile(t, src, "a.bin", 1<<20)
	added := randomFile(t, filepath.Join(src, "sub dir"), "new.bin", 4096)
	rclone("sync", src, "ferry:dst")
	mustSame(t, s.Home("alice", "dst", "a.bin"), changed)
	mustSame(t, s.Home("alice", "dst", "sub dir", "new.bin"), added)
	if _, err := os.Stat(s.Home("alice", "dst", "b.txt")); err == nil {
		t.Error("sync did not delete b.txt")
	}
	rclone("check", "--download", src, "ferry:dst")
	back := filepath.Join(local, "back")
	rclone("copy", "ferry:dst", back)
	mustSame(t, filepath.Join(back, "sub dir", "c.bin"), files["sub dir/c.bin"])
}

// paramikoPython finds a python3 that can import paramiko (Debian's
// python3-paramiko is for /usr/bin/python3).
func paramikoPython(t *testing.T) string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import paramiko").Run() == nil {
			return py
		}
	}
	if os.Getenv("FERRY_E2E") == "1" {
		t.Fatal("no python3 with paramiko (apt package python3-paramiko); FERRY_E2E=1 requires it")
	}
	t.Skip("no python3 with paramiko")
	return ""
}

const paramikoScript = `
import os, sys, paramiko
host, port, user, pw, local, workdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
t = paramiko.Transport((host, port))
try:
    t.connect(username=user, password=pw)
except paramiko.AuthenticationException:
    print("auth failed")
    sys.exit(3)
sftp = paramiko.SFTPClient.from_transport(t)
sftp.mkdir("py")
sftp.put(local, "py/up.bin")
st = sftp.stat("py/up.bin")
assert st.st_size == os.path.getsize(local), st
assert sftp.listdir("py") == ["up.bin"], sftp.listdir("py")
sftp.get("py/up.bin", os.path.join(workdir, "down.bin"))
with sftp.open("py/up.bin", "rb") as f:
    f.seek(10)
    assert f.read(5) == open(local, "rb").read()[10:15]
sftp.rename("py/up.bin", "py/moved.bin")
assert [(a.filename, a.st_size) for a in sftp.listdir_attr("py")] == [("moved.bin", st.st_size)]
try:
    sftp.stat("py/missing")
    sys.exit("stat of a missing file succeeded")
except FileNotFoundError:
    pass
sftp.close()
t.close()
print("ok")
`

// TestParamikoSFTP drives Python's paramiko: put, get, listdir, stat,
// seek and read, rename; a wrong password is refused.
func TestParamikoSFTP(t *testing.T) {
	py := paramikoPython(t)
	t.Parallel()
	s, host, port := startSFTP(t)
	local := t.TempDir()
	data := randomFile(t, local, "f.bin", 2<<20+9)
	script := filepath.Join(local, "client.py")
	os.WriteFile(script, []byte(paramikoScript), 0o644)
	out, err := run(t, "", py, script, host, port, "alice", "pw-alice", filepath.Join(local, "f.bin"), local)
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("paramiko: %v\n%s", err, out)
	}
	mustSame(t, filepath.Join(local, "down.bin"), data)
	mustSame(t, s.Home("alice", "py", "moved.bin"), data)
	out, err = run(t, "", py, script, host, port, "alice", "wrong", filepath.Join(local, "f.bin"), local)
	if err == nil || !strings.Contains(out, "auth failed") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
}
