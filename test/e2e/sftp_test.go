package e2e

import (
	"bytes"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sshOpts are the OpenSSH client options for a throwaway test server.
func sshOpts(port string, extra ...string) []string {
	return append([]string{"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no", "-P", port}, extra...)
}

func randomFile(t *testing.T, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustSame(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d expected", path, len(got), len(want))
	}
}

func startSFTP(t *testing.T) (*Server, string, string) {
	t.Helper()
	s := newServer(t)
	s.AddUser("alice", "pw-alice", "--perm", "/=all,symlink")
	s.AddService("ssh", "sftp")
	s.Start()
	host, port, err := net.SplitHostPort(s.Addr("ssh"))
	if err != nil {
		t.Fatal(err)
	}
	return s, host, port
}

// TestOpenSSHSFTPBatch drives OpenSSH's sftp in batch mode.
func TestOpenSSHSFTPBatch(t *testing.T) {
	requireTool(t, "sftp", "sshpass")
	t.Parallel()
	s, host, port := startSFTP(t)
	local := t.TempDir()
	big := randomFile(t, local, "big.bin", 5<<20+123)
	os.WriteFile(filepath.Join(local, "half.bin"), big[:1<<20], 0o644)
	os.WriteFile(filepath.Join(local, "partial.bin"), big[:2<<20+5], 0o644)
	batch := strings.Join([]string{
		"put " + filepath.Join(local, "big.bin") + " up.bin",
		"get up.bin " + filepath.Join(local, "down.bin"),
		"mkdir dir",
		"rename up.bin dir/moved.bin",
		"ln -s dir/moved.bin link.bin",
		"chmod 600 dir/moved.bin",
		"ls -l dir",
		"df",
		"get link.bin " + filepath.Join(local, "via-link.bin"),
		"put " + filepath.Join(local, "big.bin") + " 'name with spaces.bin'",
		"rm 'name with spaces.bin'",
		"put " + filepath.Join(local, "half.bin") + " resumed.bin",
		"reput " + filepath.Join(local, "big.bin") + " resumed.bin",
		"reget resumed.bin " + filepath.Join(local, "partial.bin"),
		"put -f " + filepath.Join(local, "big.bin") + " synced.bin", // fsync@openssh.com
	}, "\n") + "\n"
	bf := filepath.Join(local, "batch")
	os.WriteFile(bf, []byte(batch), 0o644)
	out, err := run(t, "", "sshpass", append([]string{"-p", "pw-alice", "sftp"},
		sshOpts(port, "-b", bf, "alice@"+host)...)...)
	if err != nil {
		t.Fatalf("sftp -b: %v\n%s", err, out)
	}
	mustSame(t, filepath.Join(local, "down.bin"), big)
	mustSame(t, filepath.Join(local, "via-link.bin"), big)
	mustSame(t, s.Home("alice", "resumed.bin"), big)
	mustSame(t, filepath.Join(local, "partial.bin"), big)
	mustSame(t, s.Home("alice", "synced.bin"), big)
	mustSame(t, s.Home("alice", "dir", "moved.bin"), big)
	if fi, err := os.Stat(s.Home("alice", "dir", "moved.bin")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("chmod: %v %v", fi.Mode(), err)
	}
	if !strings.Contains(out, "-rw-------") || !strings.Contains(out, "moved.bin") || !strings.Contains(out, " alice    alice ") {
		t.Errorf("ls -l output:\n%s", out)
	}
	if _, err := os.Stat(s.Home("alice", "name with spaces.bin")); err == nil {
		t.Error("rm did not remove the file")
	}

	// A wrong password is refused.
	out, err = run(t, "", "sshpass", append([]string{"-p", "wrong", "sftp"}, sshOpts(port, "-b", bf, "alice@"+host)...)...)
	if err == nil {
		t.Fatalf("wrong password accepted:\n%s", out)
	}
}

// TestOpenSSHSCP runs scp in its legacy (-O) and SFTP modes.
func TestOpenSSHSCP(t *testing.T) {
	requireTool(t, "scp", "sshpass")
	t.Parallel()
	s, host, port := startSFTP(t)
	local := t.TempDir()
	data := randomFile(t, local, "f.bin", 3<<20+7)
	tree := filepath.Join(local, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	treeA := randomFile(t, tree, "a.txt", 1000)
	treeB := randomFile(t, filepath.Join(tree, "sub"), "b.bin", 200000)
	os.Chmod(filepath.Join(tree, "a.txt"), 0o640)

	scp := func(args ...string) string {
		t.Helper()
		out, err := run(t, "", "sshpass", append([]string{"-p", "pw-alice", "scp"}, sshOpts(port, args...)...)...)
		if err != nil {
			t.Fatalf("scp %v: %v\n%s", args, err, out)
		}
		return out
	}
	remote := "alice@" + host + ":"
	for _, mode := range [][]string{{"-O"}, nil} {
		name := "legacy"
		if mode == nil {
			name = "sftp"
		}
		t.Run(name, func(t *testing.T) {
			dst := name + " x;echo pwned.bin"
			scp(append(mode, filepath.Join(local, "f.bin"), remote+dst)...)
			mustSame(t, s.Home("alice", dst), data)
			back := filepath.Join(local, name+"-back.bin")
			scp(append(mode, remote+dst, back)...)
			mustSame(t, back, data)
			scp(append(mode, "-r", "-p", tree, remote+name+"-tree")...)
			mustSame(t, s.Home("alice", name+"-tree", "a.txt"), treeA)
			mustSame(t, s.Home("alice", name+"-tree", "sub", "b.bin"), treeB)
			if fi, err := os.Stat(s.Home("alice", name+"-tree", "a.txt")); err != nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("-p mode: %v %v", fi.Mode(), err)
			}
			got := filepath.Join(local, name+"-got")
			scp(append(mode, "-r", remote+name+"-tree", got)...)
			mustSame(t, filepath.Join(got, "sub", "b.bin"), treeB)
		})
	}
}

// TestOpenSSHExecAndShell checks the checksum command and the refusals.
func TestOpenSSHExecAndShell(t *testing.T) {
	requireTool(t, "ssh", "sshpass", "sha256sum")
	t.Parallel()
	s, host, port := startSFTP(t)
	os.WriteFile(s.Home("alice", "h.txt"), []byte("hash me\n"), 0o644)
	sshArgs := func(cmd ...string) []string {
		o := sshOpts(port)
		o[len(o)-2] = "-p" // ssh spells the port -p
		return append(append([]string{"-p", "pw-alice", "ssh"}, o...), append([]string{"alice@" + host}, cmd...)...)
	}
	out, err := run(t, "", "sshpass", sshArgs("sha256sum", "h.txt")...)
	want, _ := exec.Command("sha256sum", s.Home("alice", "h.txt")).Output()
	if err != nil || strings.Fields(out)[0] != strings.Fields(string(want))[0] {
		t.Fatalf("sha256sum: %v %q want %q", err, out, want)
	}
	out, err = run(t, "", "sshpass", sshArgs("ls", "/")...)
	if err == nil || !strings.Contains(out, "SFTP and SCP only") {
		t.Fatalf("exec ls: %v %q", err, out)
	}
	out, err = run(t, "", "sshpass", sshArgs()...)
	if err == nil || !strings.Contains(out, "SFTP and SCP only") {
		t.Fatalf("shell: %v %q", err, out)
	}
}

// keyOpts are OpenSSH client options that log in with the private key file
// key, then, when the server asks for more, with a password.
func keyOpts(port, key string, extra ...string) []string {
	return append([]string{"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "BatchMode=no", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "PreferredAuthentications=publickey,password", "-i", key, "-P", port}, extra...)
}

// sshKeygen makes an ed25519 key pair in dir and returns the private key's path.
func sshKeygen(t *testing.T, dir, name string) string {
	t.Helper()
	key := filepath.Join(dir, name)
	if out, err := run(t, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return key
}

// TestOpenSSHPublicKeyLogins logs in with a key generated by ssh-keygen (a
// wrong key is refused), and with key plus password for an account that
// requires both.
func TestOpenSSHPublicKeyLogins(t *testing.T) {
	requireTool(t, "sftp", "sshpass", "ssh-keygen")
	t.Parallel()
	s := newServer(t)
	dir := t.TempDir()
	key := sshKeygen(t, dir, "id_alice")
	wrong := sshKeygen(t, dir, "id_wrong")
	both := sshKeygen(t, dir, "id_both")
	s.AddUser("alice", "pw-alice", "--perm", "/=all", "--public-key", key+".pub")
	s.AddUser("both", "pw-both", "--perm", "/=all", "--public-key", both+".pub",
		"--login-methods", "publickey,password", "--login-requires-all", "true")
	s.AddService("ssh", "sftp")
	s.Start()
	host, port, err := net.SplitHostPort(s.Addr("ssh"))
	if err != nil {
		t.Fatal(err)
	}
	bf := filepath.Join(dir, "batch")
	os.WriteFile(bf, []byte("put "+bf+" uploaded.txt\nls\n"), 0o644)
	sftpAs := func(pw, key, user string) (string, error) {
		return run(t, "", "sshpass", append([]string{"-p", pw, "sftp"},
			keyOpts(port, key, "-b", bf, user+"@"+host)...)...)
	}

	// The key alone logs alice in: sshpass never answers a prompt.
	if out, err := sftpAs("not-asked", key, "alice"); err != nil {
		t.Fatalf("key login: %v\n%s", err, out)
	}
	if _, err := os.Stat(s.Home("alice", "uploaded.txt")); err != nil {
		t.Fatal(err)
	}
	// A key that is not alice's, and then a wrong password, are refused.
	if out, err := sftpAs("wrong", wrong, "alice"); err == nil {
		t.Fatalf("wrong key accepted:\n%s", out)
	}
	// "both" needs the key and the password in one login.
	if out, err := sftpAs("pw-both", both, "both"); err != nil {
		t.Fatalf("key+password login: %v\n%s", err, out)
	}
	if _, err := os.Stat(s.Home("both", "uploaded.txt")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, pw, key string }{
		{"right key, wrong password", "wrong", both},
		{"wrong key, right password", "pw-both", wrong},
	} {
		if out, err := sftpAs(tt.pw, tt.key, "both"); err == nil {
			t.Errorf("%s accepted:\n%s", tt.name, out)
		}
	}
	// The password alone is not enough either.
	out, err := run(t, "", "sshpass", append([]string{"-p", "pw-both", "sftp"},
		sshOpts(port, "-b", bf, "both@"+host)...)...)
	if err == nil {
		t.Errorf("password alone accepted:\n%s", out)
	}
}
