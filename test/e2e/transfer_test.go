package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManagedTransferPullsFromSFTP: `ferry serve` with an SFTP service, a
// location pointing at it (password sealed, host key learnt on first use),
// and a transfer pulling /outbox/*.csv into a local folder every second
// with --delete-source. The files arrive byte for byte, leave the source,
// and the history shows them.
func TestManagedTransferPullsFromSFTP(t *testing.T) {
	t.Parallel()
	s := sftpServer(t, "alice", "alice-pw")
	outbox := s.Home("alice", "outbox")
	if err := os.MkdirAll(outbox, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"a.csv": xferRandom(t, 3<<20+11), "b.csv": xferRandom(t, 1234)}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(outbox, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(outbox, "keep.txt"), []byte("not a csv"), 0o644)
	inbox := filepath.Join(t.TempDir(), "inbox")

	r := s.FerryIn("alice-pw\n", "location", "add", "partner", "sftp://alice@"+s.Addr("ssh")+"/", "--password-stdin",
		"--description", "the partner's SFTP")
	if r.Code != 0 {
		t.Fatalf("location add: %d %s", r.Code, r.Stderr)
	}
	show := s.MustFerry("location", "show", "partner")
	if strings.Contains(show, "alice-pw") || !strings.Contains(show, "sealed") {
		t.Fatalf("location show reveals or misses the secret:\n%s", show)
	}
	if out := s.MustFerry("location", "test", "partner"); !strings.Contains(out, "ok") {
		t.Fatalf("location test: %s", out)
	}
	s.MustFerry("transfer", "add", "pull", "--from", "location:partner/outbox", "--pattern", "*.csv",
		"--to", inbox, "--every", "1s", "--delete-source")

	arrived := func(name string) bool {
		got, err := os.ReadFile(filepath.Join(inbox, name))
		_, srcErr := os.Stat(filepath.Join(outbox, name))
		return err == nil && bytes.Equal(got, files[name]) && os.IsNotExist(srcErr)
	}
	WaitFor(t, "a.csv and b.csv in the inbox and gone from the outbox", func() bool { return arrived("a.csv") && arrived("b.csv") })

	// A file dropped later is picked by a later run.
	files["c.csv"] = xferRandom(t, 77)
	os.WriteFile(filepath.Join(outbox, "c.csv"), files["c.csv"], 0o644)
	WaitFor(t, "c.csv to follow", func() bool { return arrived("c.csv") })
	if _, err := os.Stat(filepath.Join(outbox, "keep.txt")); err != nil {
		t.Errorf("keep.txt (not selected) was touched: %v", err)
	}
	if _, err := os.Stat(filepath.Join(inbox, "keep.txt")); !os.IsNotExist(err) {
		t.Errorf("keep.txt was copied: %v", err)
	}

	var hist []struct {
		Transfer, Source, Dest, Status, SHA256 string
		Bytes                                  int64
	}
	// A move's row gets its outcome just after its source is removed.
	WaitFor(t, "three settled history rows", func() bool {
		if err := json.Unmarshal([]byte(s.MustFerry("transfer", "history", "pull", "--json")), &hist); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, h := range hist {
			if h.Status != "removing" {
				n++
			}
		}
		return n >= 3
	})
	seen := map[string]bool{}
	for _, h := range hist {
		name := filepath.Base(h.Dest)
		if h.Status != "succeeded" || h.Bytes != int64(len(files[name])) {
			t.Errorf("history row %+v", h)
		}
		seen[name] = true
	}
	if len(seen) != 3 || len(hist) != 3 {
		t.Errorf("history = %+v, want a, b and c once each", hist)
	}
	if out := s.MustFerry("transfer", "history"); !strings.Contains(out, "a.csv") || strings.Contains(out, "alice-pw") {
		t.Errorf("history table:\n%s", out)
	}
	// The learnt host key is enforced from now on.
	if b, err := os.ReadFile(filepath.Join(s.Dir, "known_hosts")); err != nil || len(b) == 0 {
		t.Errorf("no host key learnt into the data directory's known_hosts: %v", err)
	}
}

func xferRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestTransferOptionsFromTheCLI: exclude globs, conflict rename, the
// failed folder, parallel files, transfer set, pause and resume, and a
// location's password rotated with location set.
func TestTransferOptionsFromTheCLI(t *testing.T) {
	t.Parallel()
	s := sftpServer(t, "alice", "alice-pw")
	outbox := s.Home("alice", "outbox")
	os.MkdirAll(filepath.Join(outbox, "tmp"), 0o755)
	for name, body := range map[string]string{"a.csv": "a-new", "b.csv": "b", "c.part": "partial", "tmp/d.csv": "d"} {
		os.WriteFile(filepath.Join(outbox, name), []byte(body), 0o644)
	}
	inbox := filepath.Join(t.TempDir(), "inbox")
	os.MkdirAll(inbox, 0o755)
	os.WriteFile(filepath.Join(inbox, "a.csv"), []byte("a-old"), 0o644)

	// A wrong password first; location set rotates it.
	if r := s.FerryIn("wrong\n", "location", "add", "partner", "sftp://alice@"+s.Addr("ssh")+"/", "--password-stdin"); r.Code != 0 {
		t.Fatalf("location add: %s", r.Stderr)
	}
	if r := s.Ferry("location", "test", "partner"); r.Code == 0 {
		t.Fatalf("location test with a wrong password succeeded")
	}
	if r := s.FerryIn("alice-pw\n", "location", "set", "partner", "--password-stdin"); r.Code != 0 || !strings.Contains(r.Stdout, "rotated") {
		t.Fatalf("location set: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	if out := s.MustFerry("location", "show", "partner"); strings.Contains(out, "alice-pw") {
		t.Fatalf("location show reveals the password:\n%s", out)
	}
	s.MustFerry("location", "test", "partner")

	if r := s.Ferry("transfer", "add", "bad", "--from", "location:partner/outbox", "--to", inbox, "--on-conflict", "merge"); r.Code != 2 && r.Code != 1 || !strings.Contains(r.Stderr, "on_conflict") {
		t.Fatalf("a bad --on-conflict: %d %s", r.Code, r.Stderr)
	}
	s.MustFerry("transfer", "add", "opts", "--from", "location:partner/outbox", "--to", inbox, "--recursive",
		"--exclude", "*.part", "--exclude", "tmp", "--on-conflict", "rename", "--parallel", "2", "--disabled")
	out := s.MustFerry("transfer", "run", "opts")
	if !strings.Contains(out, "2 file(s) copied") {
		t.Fatalf("run: %s", out)
	}
	es, _ := os.ReadDir(inbox)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	if len(es) != 3 || !strings.HasPrefix(names[0], "a-2") {
		t.Fatalf("inbox = %v, want a.csv, a-<time>.csv and b.csv", names)
	}
	if b, _ := os.ReadFile(filepath.Join(inbox, "a.csv")); string(b) != "a-old" {
		t.Errorf("a.csv was overwritten: %q", b)
	}

	// set changes only what is given; pause and resume flip disabled.
	s.MustFerry("transfer", "set", "opts", "--on-conflict", "skip", "--failed-to", "failed")
	show := s.MustFerry("transfer", "show", "opts")
	for _, want := range []string{"skip", "failed", "*.part tmp", "parallel:     2"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	if out := s.MustFerry("transfer", "resume", "opts"); !strings.Contains(out, "resumed") {
		t.Errorf("resume: %s", out)
	}
	if out := s.MustFerry("transfer", "pause", "opts"); !strings.Contains(out, "paused") {
		t.Errorf("pause: %s", out)
	}
	if r := s.Ferry("transfer", "set", "opts"); r.Code == 0 {
		t.Errorf("set without flags succeeded")
	}
}
