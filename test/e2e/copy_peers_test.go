package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func requireRoot(t *testing.T, what string) {
	t.Helper()
	if os.Getuid() != 0 {
		if os.Getenv("FERRY_E2E") == "1" {
			t.Fatalf("%s needs root (FERRY_E2E=1 requires it)", what)
		}
		t.Skipf("%s needs root", what)
	}
}

// startDaemon runs a peer server in the foreground and waits for its port.
func startDaemon(t *testing.T, port int, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	WaitFor(t, name+" listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// TestCopyOpenSSH copies to and from OpenSSH's sshd (Debian's sftp-server)
// with a key, learning its host key on first use.
func TestCopyOpenSSH(t *testing.T) {
	requireTool(t, "/usr/sbin/sshd", "ssh-keygen")
	requireRoot(t, "sshd")
	t.Parallel()
	dir := t.TempDir()
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	port := freePort(t)
	me, _ := user.Current()
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers %s
StrictModes no
Subsystem sftp /usr/lib/openssh/sftp-server
`, port, dir, dir, dir, me.Username)
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)
	os.MkdirAll("/run/sshd", 0o755)
	startDaemon(t, port, "/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))

	remoteDir := filepath.Join(t.TempDir(), "remote")
	os.MkdirAll(remoteDir, 0o755)
	local := t.TempDir()
	data := randomFile(t, local, "a.bin", 3<<20+5)
	url := fmt.Sprintf("sftp://%s@127.0.0.1:%d%s", me.Username, port, remoteDir)
	kh := filepath.Join(dir, "known_hosts")
	flags := []string{"--identity", filepath.Join(dir, "client"), "--known-hosts", kh, "--verify", "hash"}
	r := copyRun(t, "", append([]string{"copy", filepath.Join(local, "a.bin"), url + "/in/"}, flags...)...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "added") || !strings.Contains(r.Stdout, "verified sha256:") {
		t.Fatalf("upload: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	mustSame(t, filepath.Join(remoteDir, "in", "a.bin"), data)
	back := filepath.Join(t.TempDir(), "a.bin")
	mustCopy(t, "", append([]string{"copy", url + "/in/a.bin", back}, flags...)...)
	mustSame(t, back, data)
	// Another host key under the same name is refused.
	hostLine, _ := os.ReadFile(kh)
	other, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	f := strings.Fields(string(hostLine))
	os.WriteFile(kh, []byte(f[0]+" "+string(other)), 0o600)
	r = copyRun(t, "", append([]string{"copy", url + "/in/a.bin", back + "2"}, flags...)...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "host key mismatch") {
		t.Fatalf("changed host key: exit %d\n%s", r.Code, r.Stderr)
	}
}

// TestCopyVsftpd copies to and from vsftpd over explicit FTPS with its
// default require_ssl_reuse=YES (anonymous uploads into a writable folder).
func TestCopyVsftpd(t *testing.T) {
	requireTool(t, "vsftpd")
	requireRoot(t, "vsftpd")
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	pub := filepath.Join(root, "pub")
	os.MkdirAll(pub, 0o755)
	os.Chmod(root, 0o555)
	ftpUser, err := user.Lookup("ftp")
	if err != nil {
		t.Skipf("no ftp user: %v", err)
	}
	uid, _ := strconv.Atoi(ftpUser.Uid)
	gid, _ := strconv.Atoi(ftpUser.Gid)
	os.Chown(pub, uid, gid)
	os.Chmod(dir, 0o755)
	writeCert(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	port := freePort(t)
	cfg := fmt.Sprintf(`listen=YES
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=YES
anon_root=%s
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_umask=022
no_anon_password=YES
connect_from_port_20=NO
secure_chroot_dir=/var/run/vsftpd/empty
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=YES
rsa_cert_file=%s/cert.pem
rsa_private_key_file=%s/key.pem
seccomp_sandbox=NO
xferlog_enable=NO
`, port, root, dir, dir)
	os.WriteFile(filepath.Join(dir, "vsftpd.conf"), []byte(cfg), 0o600)
	startDaemon(t, port, "vsftpd", filepath.Join(dir, "vsftpd.conf"))

	local := t.TempDir()
	data := randomFile(t, local, "a.bin", 2<<20+7)
	url := fmt.Sprintf("ftps://127.0.0.1:%d/pub", port)
	out := mustCopy(t, "", "copy", "--insecure", filepath.Join(local, "a.bin"), url+"/in/")
	if !strings.Contains(out, "size verified") {
		t.Errorf("vsftpd has no hash command; want size verification:\n%s", out)
	}
	mustSame(t, filepath.Join(pub, "in", "a.bin"), data)
	back := filepath.Join(t.TempDir(), "a.bin")
	mustCopy(t, "", "copy", "--insecure", url+"/in/a.bin", back)
	mustSame(t, back, data)
	ls := mustCopy(t, "", "ls", "-l", "--insecure", url+"/in/")
	if !strings.Contains(ls, "a.bin") || !strings.Contains(ls, strconv.Itoa(len(data))) {
		t.Errorf("ls over vsftpd's LIST:\n%s", ls)
	}
}

func writeCert(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}
