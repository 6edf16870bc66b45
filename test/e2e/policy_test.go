package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// curlFTP runs curl against an FTP URL and returns its exit code and
// output; curl exits 0 on success, non-zero on refusals.
func curlFTP(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := run(t, "", "curl", append([]string{"-sS", "--max-time", "60"}, args...)...)
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out
	} else if err != nil {
		t.Fatalf("curl: %v", err)
	}
	return 0, out
}

// TestPolicyAppliesLiveThroughFTP sets policy with the CLI while the server
// runs and checks that a real client meets it: a quota the next upload
// crosses, a virtual folder, a ban and its lifting.
func TestPolicyAppliesLiveThroughFTP(t *testing.T) {
	requireTool(t, "curl")
	t.Parallel()
	s, addr := ftpServer(t)
	local := t.TempDir()
	big := ftpRandomFile(t, local, "big.bin", 300<<10)
	small := ftpRandomFile(t, local, "small.bin", 10<<10)
	base := "ftp://" + addr + "/"
	user := []string{"--user", "alice:alice-pw"}

	// Quota: 200 KiB. The 300 KiB upload fails and leaves nothing.
	s.MustFerry("user", "set", "alice", "--quota-bytes", "200K")
	code, out := curlFTP(t, append(user, "-T", filepath.Join(local, "big.bin"), base+"big.bin")...)
	if code == 0 || !strings.Contains(out, "552") && !strings.Contains(out, "Exceeded storage allocation") {
		t.Fatalf("upload over the quota: exit %d, %s", code, out)
	}
	if _, err := os.Stat(s.Home("alice", "big.bin")); err == nil {
		t.Fatal("the refused upload left big.bin")
	}
	if code, out := curlFTP(t, append(user, "-T", filepath.Join(local, "small.bin"), base+"small.bin")...); code != 0 {
		t.Fatalf("upload within the quota: exit %d, %s", code, out)
	}
	ftpMustEqualFile(t, s.Home("alice", "small.bin"), small)

	// A virtual folder mounted by the CLI appears at the next login.
	shared := filepath.Join(t.TempDir(), "shared")
	s.MustFerry("folder", "add", "shared", "--path", shared)
	s.MustFerry("user", "set", "alice", "--mount", "/shared=shared", "--quota-bytes", "")
	if code, out := curlFTP(t, append(user, "-T", filepath.Join(local, "big.bin"), base+"shared/big.bin")...); code != 0 {
		t.Fatalf("upload into the folder: exit %d, %s", code, out)
	}
	ftpMustEqualFile(t, filepath.Join(shared, "big.bin"), big)

	// A ban from the CLI refuses 127.0.0.2 within a poll; lifting it lets
	// it back in. 127.0.0.1 is never affected.
	from2 := append([]string{"--interface", "127.0.0.2"}, user...)
	s.MustFerry("ban", "add", "127.0.0.2", "--reason", "e2e")
	WaitFor(t, "the ban to apply", func() bool {
		code, _ := curlFTP(t, append(from2, "-l", base)...)
		return code != 0
	})
	if code, out := curlFTP(t, append(user, "-l", base)...); code != 0 || !strings.Contains(out, "small.bin") {
		t.Fatalf("127.0.0.1 during the ban: exit %d, %s", code, out)
	}
	s.MustFerry("ban", "del", "127.0.0.2")
	WaitFor(t, "the ban to lift", func() bool {
		code, _ := curlFTP(t, append(from2, "-l", base)...)
		return code == 0
	})
}
