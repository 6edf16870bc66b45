package e2e

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ftpServer starts ferry with one FTP service and the user alice.
func ftpServer(t *testing.T, opts ...string) (*Server, string) {
	t.Helper()
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("ftp", "ftp", opts...)
	s.Start()
	return s, s.Addr("ftp")
}

func ftpRandomFile(t *testing.T, dir, name string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func ftpMustEqualFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d expected", path, len(got), len(want))
	}
}

func ftpMustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := run(t, "", name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func TestFTPCurl(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s, addr := ftpServer(t, "--tls", "explicit")
	home := s.Home("alice")
	local := t.TempDir()
	data := ftpRandomFile(t, local, "up.bin", 3<<20+11)
	base := "ftp://" + addr + "/"
	auth := []string{"-sS", "--user", "alice:alice-pw"}

	// Upload, list, download, byte-exact.
	ftpMustRun(t, "curl", append(auth, "-T", filepath.Join(local, "up.bin"), base+"up.bin")...)
	ftpMustEqualFile(t, filepath.Join(home, "up.bin"), data)
	if out := ftpMustRun(t, "curl", append(auth, "-l", base)...); !strings.Contains(out, "up.bin") {
		t.Fatalf("NLST: %q", out)
	}
	if out := ftpMustRun(t, "curl", append(auth, base)...); !strings.Contains(out, "up.bin") || !strings.HasPrefix(out, "-rw") {
		t.Fatalf("LIST: %q", out)
	}
	ftpMustRun(t, "curl", append(auth, "-o", filepath.Join(local, "down.bin"), base+"up.bin")...)
	ftpMustEqualFile(t, filepath.Join(local, "down.bin"), data)

	// Resume a download: -C - continues after the local bytes.
	if err := os.WriteFile(filepath.Join(local, "part.bin"), data[:1000000], 0o644); err != nil {
		t.Fatal(err)
	}
	ftpMustRun(t, "curl", append(auth, "-C", "-", "-o", filepath.Join(local, "part.bin"), base+"up.bin")...)
	ftpMustEqualFile(t, filepath.Join(local, "part.bin"), data)

	// Resume an upload: curl asks SIZE and appends the rest.
	if err := os.WriteFile(filepath.Join(home, "res.bin"), data[:777777], 0o644); err != nil {
		t.Fatal(err)
	}
	ftpMustRun(t, "curl", append(auth, "-C", "-", "-T", filepath.Join(local, "up.bin"), base+"res.bin")...)
	ftpMustEqualFile(t, filepath.Join(home, "res.bin"), data)

	// Active mode (EPRT, then PORT without EPRT).
	ftpMustRun(t, "curl", append(auth, "-P", "127.0.0.1", "-o", filepath.Join(local, "act.bin"), base+"up.bin")...)
	ftpMustEqualFile(t, filepath.Join(local, "act.bin"), data)
	ftpMustRun(t, "curl", append(auth, "-P", "127.0.0.1", "--disable-eprt", "-o", filepath.Join(local, "port.bin"), base+"up.bin")...)
	ftpMustEqualFile(t, filepath.Join(local, "port.bin"), data)

	// FTPS explicit with PROT P (and TLS session reuse on data).
	tlsArgs := append(auth, "--ssl-reqd", "-k")
	ftpMustRun(t, "curl", append(tlsArgs, "-T", filepath.Join(local, "up.bin"), base+"tls.bin")...)
	ftpMustEqualFile(t, filepath.Join(home, "tls.bin"), data)
	ftpMustRun(t, "curl", append(tlsArgs, "-o", filepath.Join(local, "tlsdown.bin"), base+"tls.bin")...)
	ftpMustEqualFile(t, filepath.Join(local, "tlsdown.bin"), data)

	// A missing file is an error, not an empty download.
	if out, err := run(t, "", "curl", append(auth, "-o", filepath.Join(local, "none"), base+"missing")...); err == nil {
		t.Fatalf("download of a missing file succeeded: %s", out)
	}
	// Wrong password: 530.
	if out, err := run(t, "", "curl", "-sS", "--user", "alice:wrong", base); err == nil || !strings.Contains(out, "530") {
		t.Fatalf("wrong password: %v %s", err, out)
	}
}

func TestFTPSRequiredCurl(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s, addr := ftpServer(t, "--tls", "required")
	local := t.TempDir()
	data := ftpRandomFile(t, local, "a.bin", 100000)
	base := "ftp://" + addr + "/"
	if out, err := run(t, "", "curl", "-sS", "--user", "alice:alice-pw", "-T", filepath.Join(local, "a.bin"), base+"a.bin"); err == nil {
		t.Fatalf("plain upload to a TLS-required service succeeded: %s", out)
	}
	ftpMustRun(t, "curl", "-sS", "--user", "alice:alice-pw", "--ssl-reqd", "-k", "-T", filepath.Join(local, "a.bin"), base+"a.bin")
	ftpMustEqualFile(t, s.Home("alice", "a.bin"), data)
}

func TestFTPImplicitCurl(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s, addr := ftpServer(t, "--tls", "implicit")
	local := t.TempDir()
	data := ftpRandomFile(t, local, "a.bin", 200000)
	ftpMustRun(t, "curl", "-sS", "--user", "alice:alice-pw", "-k", "-T", filepath.Join(local, "a.bin"), "ftps://"+addr+"/a.bin")
	ftpMustEqualFile(t, s.Home("alice", "a.bin"), data)
	ftpMustRun(t, "curl", "-sS", "--user", "alice:alice-pw", "-k", "-o", filepath.Join(local, "b.bin"), "ftps://"+addr+"/a.bin")
	ftpMustEqualFile(t, filepath.Join(local, "b.bin"), data)
}

func ftpLftp(t *testing.T, url, script string) string {
	t.Helper()
	settings := "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; set ssl:verify-certificate no; "
	return ftpMustRun(t, "lftp", "-u", "alice,alice-pw", "-e", settings+script+"; bye", url)
}

func TestFTPLftp(t *testing.T) {
	requireTool(t, "lftp")
	t.Parallel()
	s, addr := ftpServer(t, "--tls", "explicit")
	home := s.Home("alice")
	src := t.TempDir()
	files := map[string][]byte{}
	for _, n := range []string{"a.bin", "b c.txt", "sub/d.bin", "sub/deeper/e.bin"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		files[n] = ftpRandomFile(t, src, n, 50000+len(n)*1000)
	}
	for _, mode := range []struct{ name, set string }{
		{"plain-passive", "set ftp:ssl-allow no"},
		{"plain-active", "set ftp:ssl-allow no; set ftp:passive-mode off; set ftp:port-ipv4 127.0.0.1"},
		{"ftps-explicit", "set ftp:ssl-force yes; set ftp:ssl-protect-data yes"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			remote := "m-" + mode.name
			ftpLftp(t, "ftp://"+addr, mode.set+"; mkdir "+remote+"; mirror -R "+src+" "+remote)
			for n, b := range files {
				ftpMustEqualFile(t, filepath.Join(home, remote, n), b)
			}
			back := t.TempDir()
			ftpLftp(t, "ftp://"+addr, mode.set+"; mirror "+remote+" "+back)
			for n, b := range files {
				ftpMustEqualFile(t, filepath.Join(back, n), b)
			}
		})
	}

	// get -c resumes a partial download; put -c a partial upload.
	big := ftpRandomFile(t, src, "big.bin", 2<<20+5)
	ftpLftp(t, "ftp://"+addr, "set ftp:ssl-allow no; put "+filepath.Join(src, "big.bin")+" -o big.bin")
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "big.bin"), big[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	ftpLftp(t, "ftp://"+addr, "set ftp:ssl-allow no; lcd "+dst+"; get -c big.bin")
	ftpMustEqualFile(t, filepath.Join(dst, "big.bin"), big)
	if err := os.WriteFile(filepath.Join(home, "half.bin"), big[:999999], 0o644); err != nil {
		t.Fatal(err)
	}
	ftpLftp(t, "ftp://"+addr, "set ftp:ssl-allow no; put -c "+filepath.Join(src, "big.bin")+" -o half.bin")
	ftpMustEqualFile(t, filepath.Join(home, "half.bin"), big)

	// Rename, delete, rmdir through lftp.
	ftpLftp(t, "ftp://"+addr, "set ftp:ssl-allow no; mv big.bin moved.bin; rm half.bin; mkdir gone; rmdir gone")
	ftpMustEqualFile(t, filepath.Join(home, "moved.bin"), big)
	for _, n := range []string{"big.bin", "half.bin", "gone"} {
		if _, err := os.Stat(filepath.Join(home, n)); err == nil {
			t.Errorf("%s still exists", n)
		}
	}
}

func TestFTPImplicitLftp(t *testing.T) {
	requireTool(t, "lftp")
	t.Parallel()
	s, addr := ftpServer(t, "--tls", "implicit")
	src := t.TempDir()
	data := ftpRandomFile(t, src, "i.bin", 300000)
	ftpLftp(t, "ftps://"+addr, "put "+filepath.Join(src, "i.bin")+" -o i.bin")
	ftpMustEqualFile(t, s.Home("alice", "i.bin"), data)
	dst := t.TempDir()
	ftpLftp(t, "ftps://"+addr, "lcd "+dst+"; get i.bin")
	ftpMustEqualFile(t, filepath.Join(dst, "i.bin"), data)
}

const ftplibScript = `
import ftplib, hashlib, io, socket, sys
host, port, home = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = bytes(range(256)) * 40000  # 10 MB

class ReuseTLS(ftplib.FTP_TLS):
    """FTP_TLS that resumes the control session on data connections, as
    servers requiring session reuse (Ferry's default, vsftpd's) need."""
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size

for tls in (False, True):
    ftp = ReuseTLS() if tls else ftplib.FTP()
    ftp.connect(host, port, timeout=30)
    ftp.login("alice", "alice-pw")
    if tls:
        ftp.prot_p()
    name = "py-%s.bin" % ("tls" if tls else "plain")
    ftp.storbinary("STOR " + name, io.BytesIO(data))
    facts = {n: f for n, f in ftp.mlsd("/")}
    assert facts[name]["type"] == "file" and int(facts[name]["size"]) == len(data), facts
    resp = ftp.sendcmd("HASH " + name)
    assert resp.split()[3] == hashlib.sha256(data).hexdigest(), resp
    got = io.BytesIO()
    ftp.retrbinary("RETR " + name, got.write, rest=1000)
    assert got.getvalue() == data[1000:], len(got.getvalue())
    resp = ftp.storbinary("STOU", io.BytesIO(b"unique"))
    assert resp.startswith("226"), resp
    # ABOR in the middle of a download: the transfer stops, the session goes on.
    conn = ftp.transfercmd("RETR " + name)
    conn.recv(1000)
    resp = ftp.abort()
    conn.close()
    if resp.startswith("426"):  # RFC 959: 426 for the transfer, then 226 for ABOR
        resp = ftp.getresp()
    assert resp[:3] in ("225", "226"), resp
    assert ftp.voidcmd("NOOP").startswith("200")
    assert ftp.size(name) == len(data)
    ftp.quit()
print("ftplib ok")
`

func TestFTPPythonFtplib(t *testing.T) {
	requireTool(t, "python3")
	t.Parallel()
	s, addr := ftpServer(t, "--tls", "explicit")
	host, port, _ := net.SplitHostPort(addr)
	out := ftpMustRun(t, "python3", "-c", ftplibScript, host, port, s.Home("alice"))
	if !strings.Contains(out, "ftplib ok") {
		t.Fatalf("ftplib: %s", out)
	}
}

// TestFTPServiceShorthandFlags: --passive-ports, --public-host and --tls
// control-only set the service's options; a control-only service takes
// curl's TLS login with clear data (PROT C), and PASV announces the public
// host and a port of the range.
func TestFTPServiceShorthandFlags(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("ftp", "ftp", "--tls", "control-only", "--passive-ports", "40000-40999", "--public-host", "192.0.2.1")
	s.MustFerry("service", "set", "ftp", "--public-host", "127.0.0.1", "--passive-ports", "41000-41999")
	var rows []struct {
		Name    string            `json:"name"`
		Options map[string]string `json:"options"`
	}
	if err := json.Unmarshal([]byte(s.MustFerry("service", "list", "--json")), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("service list: %v %v", rows, err)
	}
	if o := rows[0].Options; o["tls"] != "control-only" || o["passive_ports"] != "41000-41999" || o["public_host"] != "127.0.0.1" {
		t.Fatalf("options = %v", o)
	}
	s.Start()
	addr := s.Addr("ftp")
	local := t.TempDir()
	data := ftpRandomFile(t, local, "c.bin", 300000)
	base := "ftp://" + addr + "/"
	// Plain login is refused: the control connection must be TLS.
	if out, err := run(t, "", "curl", "-sS", "--user", "alice:alice-pw", "-T", filepath.Join(local, "c.bin"), base+"c.bin"); err == nil {
		t.Fatalf("plain login to a control-only service succeeded: %s", out)
	}
	ctl := []string{"-sS", "--user", "alice:alice-pw", "--ftp-ssl-control", "-k"}
	ftpMustRun(t, "curl", append(ctl, "-T", filepath.Join(local, "c.bin"), base+"c.bin")...)
	ftpMustEqualFile(t, s.Home("alice", "c.bin"), data)
	out := ftpMustRun(t, "curl", append(ctl, "-v", "--disable-epsv", "-o", filepath.Join(local, "d.bin"), base+"c.bin")...)
	ftpMustEqualFile(t, filepath.Join(local, "d.bin"), data)
	m := regexp.MustCompile(`227 Entering Passive Mode \((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no 227 reply in curl's trace:\n%s", out)
	}
	p1, _ := strconv.Atoi(m[5])
	p2, _ := strconv.Atoi(m[6])
	if ip := strings.Join(m[1:5], "."); ip != "127.0.0.1" || p1*256+p2 < 41000 || p1*256+p2 > 41999 {
		t.Fatalf("PASV announced %s:%d, want 127.0.0.1 and a port in 41000-41999", ip, p1*256+p2)
	}
	if strings.Contains(out, "PROT P") {
		t.Fatalf("curl --ftp-ssl-control protected the data connection:\n%s", out)
	}
}

// TestFTPBannerAndLoginMessage: banner_file, show_user_count and
// login_message set through the CLI reach curl.
func TestFTPBannerAndLoginMessage(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	banner := filepath.Join(t.TempDir(), "banner.txt")
	if err := os.WriteFile(banner, []byte("Example Corp transfer server\nAuthorised use only\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr := ftpServer(t, "--tls", "off", "--option", "banner_file="+banner, "--option", "show_user_count=on",
		"--option", "max_connections=7", "--option", `login_message=Uploads go to /in.\nBe nice.`)
	out := ftpMustRun(t, "curl", "-sS", "-v", "--user", "alice:alice-pw", "ftp://"+addr+"/")
	for _, want := range []string{"220-Example Corp transfer server", "Authorised use only", "220 You are user number 1 of 7 allowed.",
		"230-Uploads go to /in.", "230 User alice logged in."} {
		if !strings.Contains(out, want) {
			t.Errorf("curl trace lacks %q:\n%s", want, out)
		}
	}
}

// TestFTPProxyProtocol: with proxy_protocol=on a trusted sender's v1
// header sets the client address ferry serve logs; a client without a
// header (curl, straight to the port) gets nothing.
func TestFTPProxyProtocol(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s, addr := ftpServer(t, "--tls", "off", "--option", "proxy_protocol=on", "--option", "proxy_trusted=127.0.0.1/32")
	if out, err := run(t, "", "curl", "-sS", "--max-time", "20", "--user", "alice:alice-pw", "ftp://"+addr+"/"); err == nil {
		t.Fatalf("a connection without a PROXY header was served: %s", out)
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, port, _ := net.SplitHostPort(addr)
	r := bufio.NewReader(c)
	expect := func(send, code string) {
		t.Helper()
		if send != "" {
			if _, err := io.WriteString(c, send+"\r\n"); err != nil {
				t.Fatal(err)
			}
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %q: %v", send, err)
			}
			if strings.HasPrefix(line, code+" ") {
				return
			}
			if len(line) > 3 && line[3] == ' ' {
				t.Fatalf("after %q: %q, want %s", send, line, code)
			}
		}
	}
	if _, err := io.WriteString(c, "PROXY TCP4 198.51.100.23 127.0.0.1 41234 "+port+"\r\n"); err != nil {
		t.Fatal(err)
	}
	expect("", "220")
	expect("USER alice", "331")
	expect("PASS alice-pw", "230")
	expect("QUIT", "221")
	WaitFor(t, "the login from the header's address in the log", func() bool {
		return strings.Contains(s.Output(), "remote=198.51.100.23:41234")
	})
}

// ftpWriteClientPKI writes ca.pem and a client certificate for cn
// (cn.pem, cn.key) signed by it into dir.
func ftpWriteClientPKI(t *testing.T, dir string, cns ...string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	for i, cn := range cns {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		write(cn+".pem", "CERTIFICATE", der)
		write(cn+".key", "PRIVATE KEY", kder)
	}
}

// TestFTPClientCertCurl: curl logs in with its certificate alone
// (cert_login=cert), and with certificate plus password
// (cert_login=cert+password); without a certificate it gets nowhere.
func TestFTPClientCertCurl(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	pki := t.TempDir()
	ftpWriteClientPKI(t, pki, "alice")
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("certonly", "ftp", "--tls", "required", "--option", "client_certs=required",
		"--option", "client_ca="+filepath.Join(pki, "ca.pem"), "--option", "cert_login=cert")
	s.AddService("certpw", "ftp", "--tls", "required", "--option", "client_certs=required",
		"--option", "client_ca="+filepath.Join(pki, "ca.pem"), "--option", "cert_login=cert+password")
	s.Start()
	local := t.TempDir()
	data := ftpRandomFile(t, local, "c.bin", 123456)
	cert := []string{"-sS", "--ssl-reqd", "-k", "--cert", filepath.Join(pki, "alice.pem"), "--key", filepath.Join(pki, "alice.key")}

	ftpMustRun(t, "curl", append(cert, "--user", "alice:", "-T", filepath.Join(local, "c.bin"), "ftp://"+s.Addr("certonly")+"/c.bin")...)
	ftpMustEqualFile(t, s.Home("alice", "c.bin"), data)
	ftpMustRun(t, "curl", append(cert, "--user", "alice:", "-o", filepath.Join(local, "d.bin"), "ftp://"+s.Addr("certonly")+"/c.bin")...)
	ftpMustEqualFile(t, filepath.Join(local, "d.bin"), data)
	if out, err := run(t, "", "curl", "-sS", "--ssl-reqd", "-k", "--user", "alice:alice-pw", "ftp://"+s.Addr("certonly")+"/"); err == nil {
		t.Fatalf("login without a certificate succeeded: %s", out)
	}

	if out, err := run(t, "", "curl", append(cert, "--user", "alice:wrong", "ftp://"+s.Addr("certpw")+"/")...); err == nil {
		t.Fatalf("certificate with a wrong password succeeded: %s", out)
	}
	if out := ftpMustRun(t, "curl", append(cert, "--user", "alice:alice-pw", "ftp://"+s.Addr("certpw")+"/")...); !strings.Contains(out, "c.bin") {
		t.Fatalf("LIST with certificate and password: %q", out)
	}
}

// TestFTPNcftp: ncftpput (a file, a tree with -R), ncftpls and ncftpget
// (a file, a tree with -R) against ferry serve.
func TestFTPNcftp(t *testing.T) {
	requireTool(t, "ncftpput", "ncftpget", "ncftpls")
	t.Parallel()
	s, addr := ftpServer(t, "--tls", "explicit")
	host, port, _ := net.SplitHostPort(addr)
	login := []string{"-u", "alice", "-p", "alice-pw", "-P", port, "-t", "30"}
	src := t.TempDir()
	one := ftpRandomFile(t, src, "one.bin", 1<<20+3)
	tree := filepath.Join(src, "tree")
	files := map[string][]byte{}
	for _, n := range []string{"a.txt", "sub/b.bin", "sub/deeper/c.bin"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		files[n] = ftpRandomFile(t, tree, n, 40000+len(n))
	}

	ftpMustRun(t, "ncftpput", append(login, "-m", host, "/up", filepath.Join(src, "one.bin"))...)
	ftpMustEqualFile(t, s.Home("alice", "up", "one.bin"), one)
	ftpMustRun(t, "ncftpput", append(login, "-R", host, "/up", tree)...)
	for n, b := range files {
		ftpMustEqualFile(t, s.Home("alice", "up", "tree", n), b)
	}
	out := ftpMustRun(t, "ncftpls", append(login, "-l", "ftp://"+host+"/up/")...)
	if !strings.Contains(out, "one.bin") || !strings.Contains(out, "tree") {
		t.Fatalf("ncftpls -l: %q", out)
	}
	if out := ftpMustRun(t, "ncftpls", append(login, "-1", "ftp://"+host+"/up/tree/sub/")...); !strings.Contains(out, "b.bin") {
		t.Fatalf("ncftpls -1: %q", out)
	}

	dst := t.TempDir()
	ftpMustRun(t, "ncftpget", append(login, host, dst, "/up/one.bin")...)
	ftpMustEqualFile(t, filepath.Join(dst, "one.bin"), one)
	ftpMustRun(t, "ncftpget", append(login, "-R", host, dst, "/up/tree")...)
	for n, b := range files {
		ftpMustEqualFile(t, filepath.Join(dst, "tree", n), b)
	}
	// A wrong password fails.
	if out, err := run(t, "", "ncftpls", "-u", "alice", "-p", "wrong", "-P", port, "-t", "30", "ftp://"+host+"/"); err == nil {
		t.Fatalf("ncftpls with a wrong password: %s", out)
	}
}

// TestFTPRclone: rclone's ftp backend (plain and explicit FTPS) copies a
// tree up, syncs it back down, checks both sides and lists with lsjson.
// rclone shares one TLS session cache among all its connections, so a
// data connection may resume the session of a control connection that
// has not logged in yet: its FTPS service needs session_reuse=off.
func TestFTPRclone(t *testing.T) {
	requireTool(t, "rclone")
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("ftp", "ftp", "--tls", "explicit")
	s.AddService("ftps", "ftp", "--tls", "required", "--option", "session_reuse=off")
	s.Start()
	obscured := strings.TrimSpace(ftpMustRun(t, "rclone", "obscure", "alice-pw"))
	src := t.TempDir()
	files := map[string][]byte{}
	for _, n := range []string{"a.txt", "b c.bin", "sub/d.bin", "sub/deeper/e.bin"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		files[n] = ftpRandomFile(t, src, n, 30000+len(n)*1000)
	}
	for _, mode := range []struct{ name, service, opts string }{
		{"plain", "ftp", ""},
		{"ftps", "ftps", ",explicit_tls=true,no_check_certificate=true"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			host, port, _ := net.SplitHostPort(s.Addr(mode.service))
			remote := ":ftp,host=" + host + ",port=" + port + ",user=alice,pass=" + obscured + mode.opts + ":r-" + mode.name
			flags := []string{"--config", "/dev/null", "--low-level-retries", "1", "--retries", "1"}
			rc := func(args ...string) string {
				t.Helper()
				return ftpMustRun(t, "rclone", append(args, flags...)...)
			}
			rc("copy", src, remote)
			for n, b := range files {
				ftpMustEqualFile(t, s.Home("alice", "r-"+mode.name, n), b)
			}
			rc("check", src, remote)
			// A file removed locally disappears remotely with sync.
			if err := os.Remove(filepath.Join(src, "a.txt")); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(filepath.Join(src, "a.txt"), files["a.txt"], 0o644)
			rc("sync", src, remote)
			if _, err := os.Stat(s.Home("alice", "r-"+mode.name, "a.txt")); err == nil {
				t.Fatal("sync left a.txt on the server")
			}
			// Sync back down into an empty directory, then check.
			back := t.TempDir()
			rc("sync", remote, back)
			for n, b := range files {
				if n != "a.txt" {
					ftpMustEqualFile(t, filepath.Join(back, n), b)
				}
			}
			rc("check", remote, back)
			var entries []struct {
				Path  string
				Size  int64
				IsDir bool
			}
			if err := json.Unmarshal([]byte(rc("lsjson", "-R", remote)), &entries); err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, e := range entries {
				if !e.IsDir {
					got[e.Path] = e.Size
				}
			}
			for n, b := range files {
				if n != "a.txt" && got[n] != int64(len(b)) {
					t.Errorf("lsjson %s: size %d, want %d (all: %v)", n, got[n], len(b), got)
				}
			}
		})
	}
}
