package sshd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/ferrytest"
)

// rawSFTP speaks SFTP packets directly on a subsystem channel.
type rawSFTP struct {
	t   *testing.T
	s   *ssh.Session
	in  io.WriteCloser
	out io.Reader
}

func openRaw(t *testing.T, conn *ssh.Client) *rawSFTP {
	t.Helper()
	s, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	r := &rawSFTP{t: t, s: s, in: in, out: out}
	r.sendRaw([]byte{fxpInit, 0, 0, 0, 3})
	if typ, _ := r.recv(); typ != fxpVersion {
		t.Fatalf("no VERSION: %d", typ)
	}
	return r
}

func (r *rawSFTP) sendRaw(body []byte) {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	r.in.Write(append(b, body...))
}

func (r *rawSFTP) recv() (byte, []byte) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.out, hdr[:]); err != nil {
		return 0, nil
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(r.out, b); err != nil {
		return 0, nil
	}
	return b[0], b[1:]
}

// status expects a STATUS reply for id and returns its code.
func (r *rawSFTP) status(id uint32) uint32 {
	r.t.Helper()
	typ, b := r.recv()
	if typ != fxpStatus || binary.BigEndian.Uint32(b) != id {
		r.t.Fatalf("want STATUS for %d, got type %d %x", id, typ, b)
	}
	return binary.BigEndian.Uint32(b[4:])
}

func req(typ byte, id uint32, fields ...any) []byte {
	b := []byte{typ}
	b = putU32(b, id)
	for _, f := range fields {
		switch v := f.(type) {
		case string:
			b = putStr(b, v)
		case uint32:
			b = putU32(b, v)
		case uint64:
			b = putU64(b, v)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

func TestSFTPProtocolErrors(t *testing.T) {
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	env.WriteFile(t, "alice", "f.txt", []byte("hello world"))
	addr := startServer(t, env)
	conn, err := dialSSH(t, addr, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := openRaw(t, conn)

	r.sendRaw(req(99, 7))
	if c := r.status(7); c != fxOpUnsupported {
		t.Errorf("unknown type: status %d", c)
	}
	r.sendRaw(req(fxpExtended, 8, "nope@example.com"))
	if c := r.status(8); c != fxOpUnsupported {
		t.Errorf("unknown extension: status %d", c)
	}
	r.sendRaw(append(req(fxpOpen, 9), 0, 0, 0xff, 0xff, 'x'))
	if c := r.status(9); c != fxBadMessage {
		t.Errorf("truncated OPEN: status %d", c)
	}
	r.sendRaw(req(fxpRead, 10, "no-such-handle", uint64(0), uint32(10)))
	if c := r.status(10); c != fxFailure {
		t.Errorf("bad handle: status %d", c)
	}
	r.sendRaw(req(fxpStat, 11, "/missing"))
	if c := r.status(11); c != fxNoSuchFile {
		t.Errorf("missing: status %d", c)
	}

	// check-file-name gives core's hash.
	r.sendRaw(req(fxpExtended, 12, "check-file-name", "/f.txt", "sha256,md5", uint64(0), uint64(0), uint32(0)))
	typ, b := r.recv()
	want := md5.Sum([]byte("hello world"))
	if typ != fxpExtendedReply || !bytes.Contains(b, []byte("md5")) || !bytes.HasSuffix(b, want[:]) {
		// sha256 is not first: the client's order is a preference, ours
		// follows it. Accept either as long as it is right.
		if !bytes.Contains(b, []byte("sha256")) {
			t.Errorf("check-file reply %d %x", typ, b)
		}
	}
	r.sendRaw(req(fxpExtended, 13, "limits@openssh.com"))
	typ, b = r.recv()
	if typ != fxpExtendedReply || binary.BigEndian.Uint64(b[4+8:]) != maxData {
		t.Errorf("limits reply %d %x", typ, b)
	}

	// An oversized packet ends this channel, not the connection.
	big := binary.BigEndian.AppendUint32(nil, 1<<30)
	r.in.Write(big)
	if typ, _ := r.recv(); typ != 0 {
		t.Errorf("oversized packet answered with type %d", typ)
	}
	r2 := openRaw(t, conn)
	r2.sendRaw(req(fxpStat, 1, "/f.txt"))
	if typ, _ := r2.recv(); typ != fxpAttrs {
		t.Errorf("second channel after an oversized packet: type %d", typ)
	}
}

func TestAuthUniformAndMethods(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.PublicKey(line)))
	addr := startServer(t, env)

	c, err := ssh.Dial("tcp", addr, clientConfig("alice", ssh.PublicKeys(signer)))
	if err != nil {
		t.Fatalf("public key login: %v", err)
	}
	c.Close()
	c, err = ssh.Dial("tcp", addr, clientConfig("alice", ssh.KeyboardInteractive(
		func(name, instr string, qs []string, echos []bool) ([]string, error) { return []string{"pw"}, nil })))
	if err != nil {
		t.Fatalf("keyboard-interactive login: %v", err)
	}
	c.Close()

	var msgs []string
	for _, cfg := range []*ssh.ClientConfig{
		clientConfig("alice", ssh.Password("wrong")),
		clientConfig("nobody", ssh.Password("pw")),
		clientConfig("alice", ssh.PublicKeys(otherSigner)),
		clientConfig("nobody", ssh.PublicKeys(signer)),
	} {
		_, err := ssh.Dial("tcp", addr, cfg)
		if err == nil {
			t.Fatalf("login as %s succeeded", cfg.User)
		}
		// The method list is the same whatever was wrong.
		msgs = append(msgs, err.Error()[strings.Index(err.Error(), "attempted methods"):])
	}
	// Wrong password and unknown user look the same; so do wrong key and
	// unknown user with a key.
	if msgs[0] != msgs[1] || msgs[2] != msgs[3] {
		t.Errorf("failures differ: %q", msgs)
	}

	// Password-only service refuses keys.
	addr2 := startServer(t, env, func(o *Options) { o.AuthMethods = []string{MethodPassword} })
	if _, err := ssh.Dial("tcp", addr2, clientConfig("alice", ssh.PublicKeys(signer))); err == nil {
		t.Error("public key accepted on a password-only service")
	}
}

func TestShellExecForwardRefused(t *testing.T) {
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	env.WriteFile(t, "alice", "f.txt", []byte("hello world"))
	addr := startServer(t, env)
	conn, err := dialSSH(t, addr, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	s, _ := conn.NewSession()
	var stderr bytes.Buffer
	s.Stderr = &stderr
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err == nil || !strings.Contains(stderr.String(), "SFTP and SCP only") {
		t.Errorf("shell: %v, %q", err, stderr.String())
	}

	s, _ = conn.NewSession()
	out, err := s.CombinedOutput("rm -rf /")
	if err == nil || !strings.Contains(string(out), "not available") {
		t.Errorf("exec: %v %q", err, out)
	}

	s, _ = conn.NewSession()
	out, err = s.Output("md5sum 'f.txt'")
	sum := md5.Sum([]byte("hello world"))
	if err != nil || string(out) != hex.EncodeToString(sum[:])+"  f.txt\n" {
		t.Errorf("md5sum: %v %q", err, out)
	}

	if _, err := conn.Dial("tcp", "127.0.0.1:22"); err == nil {
		t.Error("direct-tcpip accepted")
	}
	if _, err := conn.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Error("tcpip-forward accepted")
	}
}

func TestShellWords(t *testing.T) {
	for in, want := range map[string][]string{
		`a b`:             {"a", "b"},
		`'x;echo pwned'`:  {"x;echo pwned"},
		`"a \"b\"" c\ d`:  {`a "b"`, "c d"},
		`x;echo pwned`:    {"x;echo", "pwned"},
		`'$(id)' "$(id)"`: {"$(id)", "$(id)"},
		``:                nil,
	} {
		got, err := shellWords(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("shellWords(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := shellWords(`'open`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(req(fxpOpen, 1, "/a", uint32(3), uint32(0xffffffff), uint64(1)))
	f.Add([]byte{0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		for typ := byte(0); typ < 21; typ++ {
			handleOf(typ, b)
		}
		d := decoder{b: b}
		d.str()
		d.u32()
		d.attrs()
		d.u64()
		_ = d.err()
	})
}
