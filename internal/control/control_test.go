package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/core"
)

type fakeHandler struct{ kicked []string }

func (f *fakeHandler) Sessions() []core.SessionInfo {
	return []core.SessionInfo{{ID: "abc", User: "alice", Protocol: "sftp", Start: time.Unix(1, 0)}}
}
func (f *fakeHandler) Kick(id string) bool      { f.kicked = append(f.kicked, id); return id == "abc" }
func (f *fakeHandler) KickUser(name string) int { return len(name) }
func (f *fakeHandler) Reload() error            { return errors.New("cert.pem: bad PEM") }
func (f *fakeHandler) Status() Status           { return Status{Version: "v", Store: "sqlite"} }

func TestSocketOperations(t *testing.T) {
	t.Parallel()
	// Unix socket paths are limited to ~108 bytes; t.TempDir() can be long.
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ferry.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another ferry server is running") {
		t.Fatalf("second Listen = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &fakeHandler{}
	go Serve(ctx, ln, h, nil)

	rep, err := Call(ctx, path, Request{Op: "who"})
	if err != nil || len(rep.Sessions) != 1 || rep.Sessions[0].User != "alice" {
		t.Fatalf("who = %+v, %v", rep, err)
	}
	if rep, err := Call(ctx, path, Request{Op: "kick", ID: "abc"}); err != nil || rep.Kicked != 1 {
		t.Fatalf("kick = %+v, %v", rep, err)
	}
	if _, err := Call(ctx, path, Request{Op: "kick", ID: "zzz"}); err == nil || !strings.Contains(err.Error(), `no session "zzz"`) {
		t.Fatalf("kick unknown = %v", err)
	}
	if rep, err := Call(ctx, path, Request{Op: "kick_user", User: "bob"}); err != nil || rep.Kicked != 3 {
		t.Fatalf("kick_user = %+v, %v", rep, err)
	}
	if _, err := Call(ctx, path, Request{Op: "reload"}); err == nil || !strings.Contains(err.Error(), "bad PEM") {
		t.Fatalf("reload error not passed back: %v", err)
	}
	if rep, err := Call(ctx, path, Request{Op: "status"}); err != nil || rep.Status.Store != "sqlite" {
		t.Fatalf("status = %+v, %v", rep, err)
	}
	if _, err := Call(ctx, path, Request{Op: "explode"}); err == nil || !strings.Contains(err.Error(), "accepted values are who") {
		t.Fatalf("unknown op = %v", err)
	}
	if _, err := Call(context.Background(), filepath.Join(dir, "none.sock"), Request{Op: "who"}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("no server = %v", err)
	}
}
