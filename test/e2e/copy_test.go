package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// copyRun runs `ferry copy|ls|rm` (no data directory) with the password on
// stdin and returns its result.
func copyRun(t *testing.T, stdin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ferryBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+cmd.Dir)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ferry %v: %v", args, err)
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

func mustCopy(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := copyRun(t, stdin, args...)
	if r.Code != 0 {
		t.Fatalf("ferry %v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// TestCopyToAndFromFerry copies a tree up to and back from each of
// Ferry's services with the built binary, byte for byte.
func TestCopyToAndFromFerry(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("ftp", "ftp", "--tls", "explicit")
	s.AddService("ftps", "ftp", "--tls", "implicit")
	s.AddService("ssh", "sftp")
	s.AddService("http", "http")
	s.Start()
	local := t.TempDir()
	files := map[string][]byte{}
	for _, name := range []string{"a.csv", "b c.csv", "sub/deep/x.bin"} {
		dir := filepath.Join(local, "out", filepath.Dir(name))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		files[name] = randomFile(t, dir, filepath.Base(name), 1<<20+len(name))
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	for _, tc := range []struct {
		name, url string
		hash      bool
	}{
		{"ftp", "ftp://alice@" + s.Addr("ftp") + "/ftp", true},
		{"ftps explicit", "ftps://alice@" + s.Addr("ftp") + "/ftps", true},
		{"ftps implicit", "ftps-implicit://alice@" + s.Addr("ftps") + "/implicit", true},
		{"sftp", "sftp://alice@" + s.Addr("ssh") + "/sftp", true},
		{"webdav", "webdav://alice@" + s.Addr("http") + "/dav/dav", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags := []string{"--password-stdin", "--insecure", "--known-hosts", kh, "--verify", "auto"}
			out := mustCopy(t, "alice-pw\n", append([]string{"copy", "-r", filepath.Join(local, "out") + "/", tc.url + "/"}, flags...)...)
			if tc.hash && strings.Count(out, "verified sha256:") != 3 {
				t.Errorf("upload output lacks hash verification:\n%s", out)
			}
			remoteDir := strings.TrimPrefix(tc.url[strings.LastIndex(tc.url, "/"):], "/")
			for name, want := range files {
				mustSame(t, s.Home("alice", remoteDir, name), want)
			}
			back := filepath.Join(t.TempDir(), "back")
			mustCopy(t, "alice-pw\n", append([]string{"copy", "-r", tc.url + "/", back + "/"}, flags...)...)
			for name, want := range files {
				mustSame(t, filepath.Join(back, name), want)
			}
			ls := mustCopy(t, "alice-pw\n", append([]string{"ls", tc.url + "/"}, flags[:4]...)...)
			if !strings.Contains(ls, "a.csv") || !strings.Contains(ls, "sub/") {
				t.Errorf("ls output:\n%s", ls)
			}
			mustCopy(t, "alice-pw\n", append([]string{"rm", tc.url + "/*.csv"}, flags[:4]...)...)
			if _, err := os.Stat(s.Home("alice", remoteDir, "a.csv")); !os.IsNotExist(err) {
				t.Errorf("rm left a.csv: %v", err)
			}
		})
	}
}

// TestCopyResumeAfterKill kills a download midway and checks the next run
// continues from the partial file.
func TestCopyResumeAfterKill(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("ssh", "sftp")
	s.AddService("ftp", "ftp", "--tls", "explicit")
	s.Start()
	big := randomFile(t, s.Home("alice"), "big.bin", 24<<20)
	for _, tc := range []struct{ name, url string }{
		{"sftp", "sftp://alice@" + s.Addr("ssh") + "/big.bin"},
		{"ftps", "ftps://alice@" + s.Addr("ftp") + "/big.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "big.bin")
			part := dst + ".ferry-part"
			cmd := exec.Command(ferryBin, "copy", "--insecure", "--password-stdin", "--limit-rate", "4M", tc.url, dst)
			cmd.Stdin = strings.NewReader("alice-pw\n")
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			WaitFor(t, "a partial download of 2 MiB", func() bool {
				fi, err := os.Stat(part)
				return err == nil && fi.Size() >= 2<<20
			})
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Fatalf("a killed copy left the final name: %v", err)
			}
			out := mustCopy(t, "alice-pw\n", "copy", "--insecure", "--password-stdin", "--verify", "hash", tc.url, dst)
			if !strings.Contains(out, "resumed at") || !strings.Contains(out, "verified sha256:") {
				t.Fatalf("second run did not resume with a hash check:\n%s", out)
			}
			mustSame(t, dst, big)
			if _, err := os.Stat(part); !os.IsNotExist(err) {
				t.Fatalf("partial file left: %v", err)
			}
		})
	}
}

// TestCopyExitCodes checks what scripts rely on.
func TestCopyExitCodes(t *testing.T) {
	t.Parallel()
	s := sftpServer(t, "alice", "alice-pw")
	url := "sftp://alice@" + s.Addr("ssh")
	local := t.TempDir()
	randomFile(t, local, "ok.txt", 10)

	if r := copyRun(t, ""); r.Code != 0 && r.Code != 2 {
		t.Errorf("bare ferry: exit %d", r.Code)
	}
	if r := copyRun(t, "", "copy", "only-one"); r.Code != 2 {
		t.Errorf("copy with one argument: exit %d, want 2\n%s", r.Code, r.Stderr)
	}
	if r := copyRun(t, "", "copy", "gopher://x/y", local); r.Code != 2 {
		t.Errorf("unknown scheme: exit %d, want 2\n%s", r.Code, r.Stderr)
	}
	// One good file and one missing: 1, the good one copied.
	r := copyRun(t, "alice-pw\n", "copy", "--insecure", "--password-stdin", filepath.Join(local, "ok.txt"), filepath.Join(local, "missing.txt"), url+"/in/")
	if r.Code != 1 || !strings.Contains(r.Stderr, "missing.txt") {
		t.Errorf("partial failure: exit %d, want 1 naming missing.txt\n%s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(s.Home("alice", "in", "ok.txt")); err != nil {
		t.Errorf("the good file was not copied: %v", err)
	}
	// Wrong password: 1, no retries needed to say so.
	if r := copyRun(t, "wrong\n", "copy", "--insecure", "--password-stdin", filepath.Join(local, "ok.txt"), url+"/in/x"); r.Code != 1 {
		t.Errorf("wrong password: exit %d, want 1\n%s", r.Code, r.Stderr)
	}
	// A pinned host key that does not match is refused.
	r = copyRun(t, "alice-pw\n", "copy", "--password-stdin", "--host-key", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", filepath.Join(local, "ok.txt"), url+"/in/y")
	if r.Code != 1 || !strings.Contains(r.Stderr, "host key mismatch") {
		t.Errorf("host key mismatch: exit %d\n%s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(s.Home("alice", "in", "y")); !os.IsNotExist(err) {
		t.Errorf("a refused host still got the file: %v", err)
	}
}
