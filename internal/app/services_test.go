package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/config"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/servicemgr"
)

// liveApp is a whole Ferry running in-process on a temporary data
// directory, with no default services (they use fixed ports).
type liveApp struct {
	t   *testing.T
	a   *App
	ctx context.Context
}

func startLiveApp(t *testing.T, grace time.Duration, svcs ...ferry.Service) *liveApp {
	t.Helper()
	dir := t.TempDir()
	var cfg config.Config
	if err := cfg.ApplyDefaults(dir); err != nil {
		t.Fatal(err)
	}
	cfg.Services.PollInterval = config.Duration(100 * time.Millisecond)
	cfg.Services.StopGrace = config.Duration(grace)
	cfg.Defender.FailureDelay = config.Duration(time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := Init(ctx, &cfg, InitOptions{AdminPassword: "admin-pw"}); err != nil {
		t.Fatal(err)
	}
	a, _, err := Open(ctx, &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home", "alice")
	if err := a.store.CreateUser(ctx, &ferry.User{Name: "alice", PasswordHash: hash, Home: home, Status: ferry.StatusActive,
		Perms: []ferry.PathPerm{{Path: "/", Perms: ferry.PermAll}}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs {
		if err := a.store.CreateService(ctx, &s); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- a.Serve(ctx, func([]servicemgr.Status) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return &liveApp{t: t, a: a, ctx: ctx}
}

func (l *liveApp) status(name string) (servicemgr.Status, bool) {
	sts, err := l.a.mgr.Status(l.ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, s := range sts {
		if s.Service.Name == name {
			return s, true
		}
	}
	return servicemgr.Status{}, false
}

// waitFor polls cond: the server applies store changes on its own
// schedule (services.poll_interval).
func (l *liveApp) waitFor(what string, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			l.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitState waits for a service's state and returns its status.
func (l *liveApp) waitState(name string, want servicemgr.State) servicemgr.Status {
	l.t.Helper()
	var st servicemgr.Status
	l.waitFor(name+" "+string(want), func() bool {
		st, _ = l.status(name)
		return st.State == want
	})
	return st
}

func (l *liveApp) update(name string, change func(*ferry.Service)) {
	l.t.Helper()
	svc, err := l.a.store.GetService(l.ctx, name)
	if err != nil {
		l.t.Fatal(err)
	}
	change(svc)
	if err := l.a.store.UpdateService(l.ctx, svc); err != nil {
		l.t.Fatal(err)
	}
}

func (l *liveApp) create(svc ferry.Service) {
	l.t.Helper()
	if err := l.a.store.CreateService(l.ctx, &svc); err != nil {
		l.t.Fatal(err)
	}
}

func loopSvc(name string, kind ferry.ServiceKind, opts map[string]string) ferry.Service {
	return ferry.Service{Name: name, Kind: kind, Listen: "127.0.0.1:0", Enabled: true, Options: opts}
}

func dialSFTP(t *testing.T, addr string) (*sftp.Client, error) {
	t.Helper()
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.Password("pw")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		return nil, err
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	sshConns.Store(c, conn)
	return c, nil
}

// sshConns maps a test's sftp clients to their SSH connections.
var sshConns sync.Map

func hangUp(c *sftp.Client) {
	c.Close()
	if conn, ok := sshConns.LoadAndDelete(c); ok {
		conn.(*ssh.Client).Close()
	}
}

func mustSFTP(t *testing.T, addr string) *sftp.Client {
	t.Helper()
	c, err := dialSFTP(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func putFile(c *sftp.Client, name string, data []byte) error {
	f, err := c.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func ftpAnswers(addr string) error {
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		return err
	}
	defer c.Quit()
	if err := c.Login("alice", "pw"); err != nil {
		return err
	}
	_, err = c.List("/")
	return err
}

func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
	}
	return err != nil
}

// TestLiveServicesDuringTransfer: while an SFTP upload and download are
// half done, another service is added, stopped and removed, a third (FTP)
// is updated (passive range; it restarts on a new port), and a service on
// a port in use fails with the reason. Both transfers then complete
// byte-exact and the other services answered throughout.
func TestLiveServicesDuringTransfer(t *testing.T) {
	t.Parallel()
	l := startLiveApp(t, time.Minute,
		loopSvc("sftp", ferry.ServiceSFTP, nil),
		loopSvc("ftp", ferry.ServiceFTP, map[string]string{"tls": "off"}))
	sftpAddr := l.waitState("sftp", servicemgr.StateRunning).Address
	ftpAddr := l.waitState("ftp", servicemgr.StateRunning).Address

	data := make([]byte, 4<<20)
	rand.Read(data)
	c := mustSFTP(t, sftpAddr)
	if err := putFile(c, "/source.bin", data); err != nil {
		t.Fatal(err)
	}
	// Half an upload and half a download, held open by the client.
	up, err := c.Create("/upload.bin")
	if err != nil {
		t.Fatal(err)
	}
	half := len(data) / 2
	if _, err := up.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	down, err := c.Open("/source.bin")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, half)
	if _, err := io.ReadFull(down, got); err != nil {
		t.Fatal(err)
	}
	inProgress := func() bool {
		for _, s := range l.a.eng.Sessions() {
			if s.Service == "sftp" && s.Transfer != nil {
				return true
			}
		}
		return false
	}
	if !inProgress() {
		t.Fatal("no transfer in progress in the registry")
	}

	// Add another service: it starts and answers.
	l.create(loopSvc("web", ferry.ServiceHTTP, nil))
	webAddr := l.waitState("web", servicemgr.StateRunning).Address
	resp, err := http.Get("http://" + webAddr + "/")
	if err != nil {
		t.Fatalf("added service does not answer: %v", err)
	}
	resp.Body.Close()

	// Update the third: a new passive range restarts only it.
	l.update("ftp", func(s *ferry.Service) { s.Options["passive_ports"] = "40000-40999" })
	var newFTP string
	l.waitFor("ftp restarted", func() bool {
		st, _ := l.status("ftp")
		newFTP = st.Address
		return st.State == servicemgr.StateRunning && st.Service.Options["passive_ports"] == "40000-40999" && st.Error == ""
	})
	if err := ftpAnswers(newFTP); err != nil {
		t.Fatalf("ftp after update: %v", err)
	}
	if newFTP != ftpAddr && !refused(ftpAddr) {
		t.Errorf("ftp's old address %s still accepts connections", ftpAddr)
	}

	// Stop and remove the added one: its port closes, it leaves the list.
	l.update("web", func(s *ferry.Service) { s.Enabled = false })
	l.waitState("web", servicemgr.StateDisabled)
	if !refused(webAddr) {
		t.Errorf("stopped service still accepts connections at %s", webAddr)
	}
	if err := l.a.store.DeleteService(l.ctx, "web"); err != nil {
		t.Fatal(err)
	}
	l.waitFor("web removed", func() bool { _, ok := l.status("web"); return !ok })

	// A port in use: failed with the reason; the others keep running.
	l.create(ferry.Service{Name: "clash", Kind: ferry.ServiceFTP, Listen: sftpAddr, Enabled: true})
	st := l.waitState("clash", servicemgr.StateFailed)
	if !strings.Contains(st.Error, "address already in use") {
		t.Errorf("clash error = %q, want the reason", st.Error)
	}
	for _, name := range []string{"sftp", "ftp"} {
		if st, _ := l.status(name); st.State != servicemgr.StateRunning {
			t.Errorf("%s = %+v after the others changed", name, st)
		}
	}
	if !inProgress() {
		t.Fatal("the transfers ended while services changed")
	}
	other := mustSFTP(t, sftpAddr)
	if _, err := other.ReadDir("/"); err != nil {
		t.Errorf("a new sftp session: %v", err)
	}
	if err := ftpAnswers(newFTP); err != nil {
		t.Errorf("ftp: %v", err)
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
		t.Error("download differs from the file")
	}
	onDisk, err := os.ReadFile(filepath.Join(l.a.cfg.DataDir, "home", "alice", "upload.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Errorf("upload on disk: %d bytes, %v; want %d bytes, equal", len(onDisk), err, len(data))
	}
}

// TestStopGraceSFTP: a stopped SFTP service refuses new connections at
// once while its session keeps working for services.stop_grace; with a
// short grace, the session is then kicked through core's registry.
func TestStopGraceSFTP(t *testing.T) {
	t.Parallel()
	t.Run("within", func(t *testing.T) {
		t.Parallel()
		l := startLiveApp(t, time.Hour, loopSvc("sftp", ferry.ServiceSFTP, nil))
		addr := l.waitState("sftp", servicemgr.StateRunning).Address
		c := mustSFTP(t, addr)
		l.update("sftp", func(s *ferry.Service) { s.Enabled = false })
		st := l.waitState("sftp", servicemgr.StateDisabled)
		if st.Sessions != 1 {
			t.Errorf("stopped service reports %d sessions, want the one in its grace period", st.Sessions)
		}
		if _, err := dialSFTP(t, addr); err == nil {
			t.Error("a stopped service accepted a new session")
		}
		if err := l.a.store.DeleteService(l.ctx, "sftp"); err != nil {
			t.Fatal(err)
		}
		l.waitFor("sftp removed", func() bool { _, ok := l.status("sftp"); return !ok })
		if err := putFile(c, "/late.txt", []byte("still here\n")); err != nil {
			t.Fatalf("session within the grace period: %v", err)
		}
		hangUp(c)
		l.waitFor("session gone", func() bool { return l.a.eng.CountService("sftp") == 0 })
	})
	t.Run("over", func(t *testing.T) {
		t.Parallel()
		l := startLiveApp(t, 10*time.Millisecond, loopSvc("sftp", ferry.ServiceSFTP, nil), loopSvc("sftp2", ferry.ServiceSFTP, nil))
		addr := l.waitState("sftp", servicemgr.StateRunning).Address
		c := mustSFTP(t, addr)
		c2 := mustSFTP(t, l.waitState("sftp2", servicemgr.StateRunning).Address)
		l.update("sftp", func(s *ferry.Service) { s.Enabled = false })
		l.waitFor("session kicked", func() bool { return l.a.eng.CountService("sftp") == 0 })
		if _, err := c.ReadDir("/"); err == nil || !errors.Is(err, sftp.ErrSSHFxConnectionLost) && !strings.Contains(err.Error(), "closed") && !errors.Is(err, io.EOF) {
			t.Errorf("kicked session: ReadDir err = %v, want a lost connection", err)
		}
		if _, err := c2.ReadDir("/"); err != nil {
			t.Errorf("the other service's session: %v", err)
		}
	})
}
