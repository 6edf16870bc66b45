// Package control is the local control socket (<data-dir>/ferry.sock, mode
// 0600) through which the CLI reaches a running server for live operations:
// who, kick, reload, status. One JSON request per connection, one JSON reply.
// Only app (server side) and cli (client side) import it.
package control

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/ferrymft/ferry/internal/core"
)

// Request is what the CLI sends.
type Request struct {
	Op   string `json:"op"` // who, kick, kick_user, reload, status
	ID   string `json:"id,omitempty"`
	User string `json:"user,omitempty"`
}

// Reply is what the server answers.
type Reply struct {
	Error    string             `json:"error,omitempty"`
	Sessions []core.SessionInfo `json:"sessions,omitempty"`
	Kicked   int                `json:"kicked,omitempty"`
	Status   *Status            `json:"status,omitempty"`
}

// Status describes the running server.
type Status struct {
	Version  string          `json:"version"`
	Started  time.Time       `json:"started"`
	Store    string          `json:"store"`
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one service as the manager runs it.
type ServiceStatus struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Listen   string `json:"listen"`
	Address  string `json:"address,omitempty"` // bound address when running
	State    string `json:"state"`             // running, stopped, failed, disabled
	Error    string `json:"error,omitempty"`
	Sessions int    `json:"sessions"`
}

// Handler answers requests on the server side.
type Handler interface {
	Sessions() []core.SessionInfo
	Kick(id string) bool
	KickUser(name string) int
	Reload() error
	Status() Status
}

// Listen creates the socket at path with mode 0600, replacing a stale one
// left by a server that died. It fails when another server is using it.
func Listen(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control: %s: another ferry server is running with this data directory", path)
	}
	_ = os.Remove(path)
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: chmod %s: %w", path, err)
	}
	return ln, nil
}

// Serve answers requests on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, h Handler, log *slog.Logger) error {
	log = cmp.Or(log, slog.New(slog.DiscardHandler))
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control: accept: %w", err)
		}
		go serveConn(c, h, log)
	}
}

func serveConn(c net.Conn, h Handler, log *slog.Logger) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var req Request
	if err := json.NewDecoder(bufio.NewReader(c)).Decode(&req); err != nil {
		_ = json.NewEncoder(c).Encode(Reply{Error: "bad request: " + err.Error()})
		return
	}
	var rep Reply
	switch req.Op {
	case "who":
		rep.Sessions = h.Sessions()
	case "kick":
		if h.Kick(req.ID) {
			rep.Kicked = 1
		} else {
			rep.Error = fmt.Sprintf("no session %q", req.ID)
		}
	case "kick_user":
		rep.Kicked = h.KickUser(req.User)
	case "reload":
		if err := h.Reload(); err != nil {
			rep.Error = err.Error()
		}
	case "status":
		st := h.Status()
		rep.Status = &st
	default:
		rep.Error = fmt.Sprintf("unknown op %q: accepted values are who, kick, kick_user, reload, status", req.Op)
	}
	log.Debug("control request", "op", req.Op, "error", rep.Error)
	_ = json.NewEncoder(c).Encode(rep)
}

// ErrNotRunning means no server answers on the socket.
var ErrNotRunning = errors.New("no ferry server is running with this data directory")

// Call sends one request to the server at path.
func Call(ctx context.Context, path string, req Request) (*Reply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: %s: %w", path, ErrNotRunning)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("control: send: %w", err)
	}
	var rep Reply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return nil, fmt.Errorf("control: read reply: %w", err)
	}
	if rep.Error != "" {
		return &rep, errors.New(rep.Error)
	}
	return &rep, nil
}
