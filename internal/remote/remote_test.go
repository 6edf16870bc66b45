package remote_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/frontend/sshd"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/remote/remotetest"
)

func TestLocalConformance(t *testing.T) {
	t.Parallel()
	remotetest.Run(t, func(t *testing.T) remotetest.Target {
		return remotetest.Target{FS: remote.Local(), Root: t.TempDir()}
	})
}

var dirSeq atomic.Int64

// freshDir makes an empty directory for one subtest through the client.
func freshDir(t *testing.T, f remote.FS) string {
	t.Helper()
	return freshDirUnder(t, f, "/")
}

func freshDirUnder(t *testing.T, f remote.FS, parent string) string {
	t.Helper()
	d := fmt.Sprintf("%st%d", parent, dirSeq.Add(1))
	if err := f.Mkdir(context.Background(), d); err != nil {
		t.Fatalf("Mkdir(%s): %v", d, err)
	}
	return d
}

func startSSHD(t *testing.T, env *ferrytest.Env) (addr string, hostKey ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sshd.New(sshd.Options{Engine: env.Engine, Logger: ferrytest.Logger(t), Service: "sftp",
		HostKeys: []ssh.Signer{signer}})
	if err != nil {
		t.Fatal(err)
	}
	ln := ferrytest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), signer.PublicKey()
}

func TestSFTPConformanceFerry(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr, key := startSSHD(t, env)
	loc, err := remote.Parse("sftp://alice@" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	remotetest.Run(t, func(t *testing.T) remotetest.Target {
		f, err := remote.Dial(context.Background(), loc, remote.Options{Password: "pw", HostKey: ssh.FingerprintSHA256(key)})
		if err != nil {
			t.Fatal(err)
		}
		return remotetest.Target{FS: f, Root: freshDir(t, f)}
	})
}

func TestSFTPHostKey(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr, key := startSSHD(t, env)
	loc, _ := remote.Parse("sftp://alice:pw@" + addr + "/")
	ctx := context.Background()

	t.Run("pinned mismatch", func(t *testing.T) {
		_, err := remote.Dial(ctx, loc, remote.Options{HostKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
		if !errors.Is(err, remote.ErrHostKey) {
			t.Fatalf("Dial = %v, want ErrHostKey", err)
		}
	})
	t.Run("known hosts learns then refuses another key", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		var learnt string
		f, err := remote.Dial(ctx, loc, remote.Options{KnownHosts: kh, OnNewHostKey: func(_, fp string) { learnt = fp }})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if learnt != ssh.FingerprintSHA256(key) {
			t.Fatalf("learnt %q, want %q", learnt, ssh.FingerprintSHA256(key))
		}
		f, err = remote.Dial(ctx, loc, remote.Options{KnownHosts: kh})
		if err != nil {
			t.Fatalf("second dial with the learnt key: %v", err)
		}
		f.Close()
		// Another server on the same address line: rewrite the file with a foreign key.
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		os2, _ := ssh.NewSignerFromKey(other)
		b, _ := os.ReadFile(kh)
		host := strings.Fields(string(b))[0]
		os.WriteFile(kh, []byte(host+" "+string(ssh.MarshalAuthorizedKey(os2.PublicKey()))), 0o600)
		if _, err := remote.Dial(ctx, loc, remote.Options{KnownHosts: kh}); !errors.Is(err, remote.ErrHostKey) {
			t.Fatalf("Dial with a changed key = %v, want ErrHostKey", err)
		}
	})
	t.Run("bad password", func(t *testing.T) {
		bad, _ := remote.Parse("sftp://alice:nope@" + addr + "/")
		if _, err := remote.Dial(ctx, bad, remote.Options{Insecure: true}); !errors.Is(err, remote.ErrAuth) {
			t.Fatalf("Dial = %v, want ErrAuth", err)
		}
	})
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, scheme, host, path, raw string
		dir                         bool
	}{
		{in: "./out/a.csv", scheme: "file", path: "./out/a.csv", raw: "./out/a.csv"},
		{in: "sftp://bob:secret@partner:2222/in/", scheme: "sftp", host: "partner:2222", path: "/in", raw: "sftp://bob@partner:2222/in/", dir: true},
		{in: "ftpes://h/x", scheme: "ftps", host: "h", path: "/x", raw: "ftps://h/x"},
		{in: "webdavs://h", scheme: "webdavs", host: "h", path: "/", raw: "webdavs://h/", dir: true},
		{in: "file:///tmp/x", scheme: "file", path: "/tmp/x", raw: "/tmp/x"},
	} {
		l, err := remote.Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if l.Scheme != tt.scheme || l.Host != tt.host || l.Path != tt.path || l.Dir != tt.dir || l.String() != tt.raw {
			t.Errorf("Parse(%q) = %+v", tt.in, l)
		}
	}
	if _, err := remote.Parse("gopher://x/"); err == nil {
		t.Error("Parse(gopher://) succeeded")
	}
	if _, err := remote.Parse("sftp://u:topsecret@/x"); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("Parse without host = %v (must fail without the password)", err)
	}
}

func isAuth(err error) bool { return errors.Is(err, remote.ErrAuth) }
