package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/ferrytest"
)

// startServer runs a server on env's engine and returns its address.
func startServer(t *testing.T, env *ferrytest.Env, mod ...func(*Options)) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Engine: env.Engine, Logger: ferrytest.Logger(t), Service: "sftp-test",
		HostKeys: []ssh.Signer{signer}}
	for _, m := range mod {
		m(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln := ferrytest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func clientConfig(user string, auth ...ssh.AuthMethod) *ssh.ClientConfig {
	return &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout: 10 * time.Second}
}

func dialSSH(t testing.TB, addr, user, password string) (*ssh.Client, error) {
	return ssh.Dial("tcp", addr, clientConfig(user, ssh.Password(password)))
}

// sftpClient adapts pkg/sftp's client to ferrytest.Client.
type sftpClient struct {
	conn *ssh.Client
	c    *sftp.Client
}

func dialSFTP(t *testing.T, addr, user, password string) *sftpClient {
	t.Helper()
	conn, err := dialSSH(t, addr, user, password)
	if err != nil {
		t.Fatalf("ssh login as %s: %v", user, err)
	}
	c, err := sftp.NewClient(conn, sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(64))
	if err != nil {
		conn.Close()
		t.Fatalf("sftp: %v", err)
	}
	return &sftpClient{conn: conn, c: c}
}

func (c *sftpClient) Upload(p string, data []byte) error {
	f, err := c.c.Create(p)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (c *sftpClient) Download(p string) ([]byte, error) { return c.DownloadFrom(p, 0) }

func (c *sftpClient) DownloadFrom(p string, off int64) ([]byte, error) {
	f, err := c.c.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

func (c *sftpClient) UploadFrom(p string, off int64, data []byte) error {
	f, err := c.c.OpenFile(p, os.O_WRONLY)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, off); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (c *sftpClient) Rename(from, to string) error { return c.c.Rename(from, to) }
func (c *sftpClient) Remove(p string) error        { return c.c.Remove(p) }
func (c *sftpClient) Mkdir(p string) error         { return c.c.Mkdir(p) }
func (c *sftpClient) Rmdir(p string) error         { return c.c.RemoveDirectory(p) }

func (c *sftpClient) List(dir string) ([]string, error) {
	fis, err := c.c.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(fis))
	for _, fi := range fis {
		names = append(names, fi.Name())
	}
	return names, nil
}

func (c *sftpClient) Close() error {
	c.c.Close()
	return c.conn.Close()
}

// UploadInterrupted sends data and drops the SSH connection mid-upload.
func (c *sftpClient) UploadInterrupted(p string, data []byte) error {
	f, err := c.c.Create(p)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return c.conn.Close()
}

func TestScenariosSFTP(t *testing.T) {
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer {
		addr := startServer(t, env)
		return func(t *testing.T, user, password string) ferrytest.Client {
			return dialSFTP(t, addr, user, password)
		}
	})
}

var _ net.Conn
