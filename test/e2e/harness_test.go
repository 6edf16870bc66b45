// Package e2e runs the built ferry binary against real clients (lftp, curl,
// OpenSSH, rclone, litmus, Chromium…). A missing client skips its test,
// except when FERRY_E2E=1 (CI), where it fails.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ferryBin is the binary built once for the whole package.
var ferryBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ferryBin = filepath.Join(dir, "ferry")
	build := exec.Command("go", "build", "-o", ferryBin, "github.com/ferrymft/ferry/cmd/ferry")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ferry:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool skips the test when a client program is missing, unless
// FERRY_E2E=1, where a missing client is a failure.
func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("FERRY_E2E") == "1" {
				t.Fatalf("%s is not installed (FERRY_E2E=1 requires it)", n)
			}
			t.Skipf("%s is not installed", n)
		}
	}
}

// Server is a ferry data directory and, once started, a `ferry serve`.
type Server struct {
	t   *testing.T
	Dir string
	cmd *exec.Cmd
	out *syncBuffer
}

// AdminPassword is the first admin's password in every test server.
const AdminPassword = "admin-e2e-pw"

// newServer initialises a data directory with no services.
// sftpServer starts a server with one user and an SFTP service "ssh".
func sftpServer(t *testing.T, user, password string) *Server {
	t.Helper()
	s := newServer(t)
	s.AddUser(user, password)
	s.AddService("ssh", "sftp")
	s.Start()
	return s
}

func newServer(t *testing.T) *Server {
	t.Helper()
	s := &Server{t: t, Dir: filepath.Join(t.TempDir(), "data"), out: &syncBuffer{}}
	s.MustFerry("init", "--no-default-services")
	return s
}

// Result is a finished CLI run.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Ferry runs the CLI against the server's data directory, with stdin.
func (s *Server) FerryIn(stdin string, args ...string) Result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ferryBin, append(args, "--data-dir", s.Dir)...)
	cmd.Env = append(os.Environ(), "FERRY_ADMIN_PASSWORD="+AdminPassword)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("ferry %v: %v", args, err)
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// Ferry runs the CLI with empty stdin.
func (s *Server) Ferry(args ...string) Result {
	s.t.Helper()
	return s.FerryIn("", args...)
}

// MustFerry runs the CLI and fails the test unless it exits 0.
func (s *Server) MustFerry(args ...string) string {
	s.t.Helper()
	r := s.Ferry(args...)
	if r.Code != 0 {
		s.t.Fatalf("ferry %v: exit %d: %s%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// AddUser adds a user with a password, plus any extra `user add` flags.
func (s *Server) AddUser(name, password string, extra ...string) {
	s.t.Helper()
	r := s.FerryIn(password+"\n", append([]string{"user", "add", name, "--password-stdin"}, extra...)...)
	if r.Code != 0 {
		s.t.Fatalf("user add %s: exit %d: %s", name, r.Code, r.Stderr)
	}
}

// Home is the on-disk home of a user added without --home.
func (s *Server) Home(user string, rel ...string) string {
	return filepath.Join(append([]string{s.Dir, "files", user}, rel...)...)
}

// AddService adds a service on a free loopback port with extra flags.
func (s *Server) AddService(name, protocol string, extra ...string) {
	s.t.Helper()
	s.MustFerry(append([]string{"service", "add", name, "--protocol", protocol, "--listen", "127.0.0.1:0"}, extra...)...)
}

// Start runs `ferry serve` and waits until every enabled service runs.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command(ferryBin, "serve", "--data-dir", s.Dir)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(done)
	}()
	s.t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(60 * time.Second): // services.shutdown_grace is 30s
			s.cmd.Process.Kill()
			<-done
			s.t.Errorf("ferry serve did not stop within 60s of SIGTERM")
		}
		if s.t.Failed() {
			s.t.Logf("ferry serve output:\n%s", s.out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			s.t.Fatalf("ferry serve exited early:\n%s", s.out.String())
		default:
		}
		if st, ok := s.status(); ok {
			if failed := st.failed(); failed != "" {
				s.t.Fatalf("service failed to start: %s\n%s", failed, s.out.String())
			}
			if st.allRunning() {
				return
			}
		}
		if time.Now().After(deadline) {
			st, _ := s.status()
			s.t.Fatalf("services not running after 60s: %+v\n%s", st, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Output is what `ferry serve` printed so far.
func (s *Server) Output() string { return s.out.String() }

type serverStatus struct {
	Services []struct {
		Name, State, Address, Error string
		Sessions                    int
	} `json:"services"`
}

func (st serverStatus) allRunning() bool {
	for _, s := range st.Services {
		if s.State != "running" && s.State != "disabled" {
			return false
		}
	}
	return true
}

func (st serverStatus) failed() string {
	for _, s := range st.Services {
		if s.State == "failed" {
			return s.Name + ": " + s.Error
		}
	}
	return ""
}

func (s *Server) status() (serverStatus, bool) {
	r := s.Ferry("status", "--json")
	var st serverStatus
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil {
		return st, false
	}
	return st, true
}

// Addr returns the bound address of a running service.
func (s *Server) Addr(service string) string {
	s.t.Helper()
	st, ok := s.status()
	if !ok {
		s.t.Fatalf("ferry status failed")
	}
	for _, svc := range st.Services {
		if svc.Name == service && svc.Address != "" {
			return svc.Address
		}
	}
	s.t.Fatalf("service %q has no address in %+v", service, st)
	return ""
}

// WaitFor polls cond (a state, not a duration) for up to 30 s.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// run executes a client program and returns its combined output.
func run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
