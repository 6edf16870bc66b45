package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type historyRow struct {
	Transfer, Source, Dest, Status, Error string
	Bytes                                 int64
	Attempts                              int
}

func history(t *testing.T, s *Server, name string) []historyRow {
	t.Helper()
	var h []historyRow
	if err := json.Unmarshal([]byte(s.MustFerry("transfer", "history", name, "--json")), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// settled reports whether every row has its outcome: a move writes its
// row as "removing" before the source goes, then updates it.
func settled(h []historyRow) bool {
	for _, r := range h {
		if r.Status == "removing" {
			return false
		}
	}
	return true
}

// TestTransferFailoverLocation: two Ferry servers. Files go to the
// primary's SFTP; once the primary is stopped they go to the backup the
// location names (here the SFTP service of the server running the
// transfer), and the history says where each file went.
func TestTransferFailoverLocation(t *testing.T) {
	t.Parallel()
	primary := sftpServer(t, "bob", "bob-pw")
	s := sftpServer(t, "carol", "carol-pw")
	pAddr, bAddr := primary.Addr("ssh"), s.Addr("ssh")

	if r := s.FerryIn("carol-pw\n", "location", "add", "erp-dr", "sftp://carol@"+bAddr+"/dr", "--password-stdin"); r.Code != 0 {
		t.Fatalf("location add erp-dr: %d %s", r.Code, r.Stderr)
	}
	if r := s.FerryIn("bob-pw\n", "location", "add", "erp", "sftp://bob@"+pAddr+"/", "--password-stdin", "--failover", "nope"); r.Code == 0 {
		t.Fatalf("a failover naming no location was accepted")
	}
	if r := s.FerryIn("bob-pw\n", "location", "add", "erp", "sftp://bob@"+pAddr+"/", "--password-stdin", "--failover", "erp-dr"); r.Code != 0 {
		t.Fatalf("location add erp: %d %s", r.Code, r.Stderr)
	}
	if show := s.MustFerry("location", "show", "erp"); !strings.Contains(show, "erp-dr") {
		t.Fatalf("location show lacks the failover:\n%s", show)
	}
	if err := os.MkdirAll(s.Home("carol", "dr"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	s.MustFerry("transfer", "add", "push", "--from", out, "--to", "location:erp/in", "--every", "1s", "--delete-source")

	a, b := xferRandom(t, 300<<10), xferRandom(t, 200<<10)
	os.WriteFile(filepath.Join(out, "a.csv"), a, 0o644)
	WaitFor(t, "a.csv on the primary", func() bool {
		got, err := os.ReadFile(primary.Home("bob", "in", "a.csv"))
		return err == nil && bytes.Equal(got, a)
	})

	primary.cmd.Process.Kill()
	WaitFor(t, "the primary to be down", func() bool {
		c, err := net.DialTimeout("tcp", pAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if r := s.Ferry("location", "test", "erp"); r.Code == 0 || !strings.Contains(r.Stdout, "failover erp-dr: ok") {
		t.Errorf("location test with the primary down: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	os.WriteFile(filepath.Join(out, "b.csv"), b, 0o644)
	WaitFor(t, "b.csv on the backup", func() bool {
		got, err := os.ReadFile(s.Home("carol", "dr", "in", "b.csv"))
		_, srcErr := os.Stat(filepath.Join(out, "b.csv"))
		return err == nil && bytes.Equal(got, b) && os.IsNotExist(srcErr)
	})
	// A move's row gets its outcome just after the source is deleted.
	var h []historyRow
	WaitFor(t, "two history rows", func() bool {
		h = history(t, s, "push")
		return len(h) >= 2 && settled(h)
	})
	var toPrimary, toBackup int
	for _, r := range h {
		switch {
		case r.Status != "succeeded":
			t.Errorf("history row %+v", r)
		case strings.Contains(r.Dest, pAddr) && strings.HasSuffix(r.Dest, "/in/a.csv"):
			toPrimary++
		case strings.Contains(r.Dest, bAddr) && strings.HasSuffix(r.Dest, "/dr/in/b.csv"):
			toBackup++
		}
	}
	if toPrimary != 1 || toBackup != 1 || len(h) != 2 {
		t.Errorf("history does not say where each file went: %+v", h)
	}
}

// TestTransferOnUpload: a partner uploads to Ferry's SFTP with `ferry
// copy` (a temporary name renamed when complete); the on_upload transfer
// delivers the file to the ERP's folder at once and removes it from the
// partner's inbox. A file the glob does not match stays.
func TestTransferOnUpload(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "alice-pw")
	s.AddService("ssh", "sftp")
	erp := filepath.Join(t.TempDir(), "erp")
	if r := s.Ferry("transfer", "add", "bad", "--on-upload", "alice:/in/*", "--from", "/tmp", "--to", erp); r.Code == 0 {
		t.Fatalf("--on-upload with --from was accepted")
	}
	s.MustFerry("transfer", "add", "to-erp", "--on-upload", "alice:/in/*.csv", "--to", erp, "--delete-source")
	if l := s.MustFerry("transfer", "list"); !strings.Contains(l, "on upload alice:/in/*.csv") {
		t.Errorf("transfer list:\n%s", l)
	}
	s.Start()
	local := t.TempDir()
	orders := randomFile(t, local, "orders.csv", 2<<20+3)
	os.WriteFile(filepath.Join(local, "notes.txt"), []byte("stays"), 0o644)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	for _, name := range []string{"orders.csv", "notes.txt"} {
		mustCopy(t, "alice-pw\n", "copy", "--password-stdin", "--known-hosts", kh, filepath.Join(local, name),
			"sftp://alice@"+s.Addr("ssh")+"/in/")
	}
	WaitFor(t, "orders.csv delivered to the ERP and gone from the inbox", func() bool {
		got, err := os.ReadFile(filepath.Join(erp, "orders.csv"))
		_, srcErr := os.Stat(s.Home("alice", "in", "orders.csv"))
		return err == nil && bytes.Equal(got, orders) && os.IsNotExist(srcErr)
	})
	if _, err := os.Stat(s.Home("alice", "in", "notes.txt")); err != nil {
		t.Errorf("notes.txt (not matched) was touched: %v", err)
	}
	var h []historyRow
	WaitFor(t, "the delivery in the history", func() bool { h = history(t, s, "to-erp"); return len(h) > 0 && settled(h) })
	if len(h) != 1 || h[0].Status != "succeeded" || h[0].Bytes != int64(len(orders)) {
		t.Errorf("history = %+v", h)
	}
}

// TestCopyUploadResumeAfterKill kills an upload to Ferry's SFTP midway;
// the next `ferry copy` continues from the partial file on the server
// (upload mode atomic-resumable shows the kept partial's size to its
// user; docs/uploads.md).
func TestCopyUploadResumeAfterKill(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "alice-pw", "--upload-mode", "atomic-resumable")
	s.AddService("ssh", "sftp")
	s.Start()
	local := t.TempDir()
	big := randomFile(t, local, "big.bin", 24<<20)
	url := "sftp://alice@" + s.Addr("ssh") + "/up/"
	kh := filepath.Join(t.TempDir(), "known_hosts")
	cmd := exec.Command(ferryBin, "copy", "--password-stdin", "--known-hosts", kh, "--limit-rate", "4M", filepath.Join(local, "big.bin"), url)
	cmd.Stdin = strings.NewReader("alice-pw\n")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	part := s.Home("alice", "up", "big.bin.ferry-part")
	WaitFor(t, "a partial upload of 2 MiB", func() bool {
		// Ferry writes the client's big.bin.ferry-part to a hidden
		// partial of its own until the upload completes.
		es, _ := os.ReadDir(s.Home("alice", "up"))
		for _, e := range es {
			if fi, err := e.Info(); err == nil && !fi.IsDir() && fi.Size() >= 2<<20 && e.Name() != "big.bin" {
				return true
			}
		}
		return false
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(s.Home("alice", "up", "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("a killed upload left the final name: %v", err)
	}
	out := mustCopy(t, "alice-pw\n", "copy", "--password-stdin", "--known-hosts", kh, "--verify", "hash", filepath.Join(local, "big.bin"), url)
	if !strings.Contains(out, "resumed at") || !strings.Contains(out, "verified sha256:") {
		t.Fatalf("second run did not resume with a hash check:\n%s", out)
	}
	mustSame(t, s.Home("alice", "up", "big.bin"), big)
	if _, err := os.Stat(part); !os.IsNotExist(err) {
		t.Fatalf("partial file left: %v", err)
	}
}

// TestScheduledMoveAcrossRestart: a scheduled move of several files from
// a local folder to Ferry's SFTP, one of them still being written (picked
// only once complete and old enough), with `ferry serve` killed in the
// middle of a file and started again. Every file arrives exactly once,
// whole; the source ends empty; the history has one success per file.
func TestScheduledMoveAcrossRestart(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.AddUser("alice", "alice-pw", "--upload-mode", "atomic-resumable")
	s.AddService("ssh", "sftp")
	s.Start()
	out := filepath.Join(t.TempDir(), "out")
	os.MkdirAll(out, 0o755)
	files := map[string][]byte{"a.csv": xferRandom(t, 10<<10), "b.csv": xferRandom(t, 20<<10), "big.bin": xferRandom(t, 5<<20+7)}
	for n, b := range files {
		os.WriteFile(filepath.Join(out, n), b, 0o644)
	}
	// growing.csv is appended to for a while: too young to go until done.
	growing := filepath.Join(out, "growing.csv")
	g, err := os.Create(growing)
	if err != nil {
		t.Fatal(err)
	}
	stopGrowing := make(chan struct{})
	grown := make(chan []byte)
	go func() {
		defer g.Close()
		var all []byte
		for i := 0; ; i++ {
			select {
			case <-stopGrowing:
				grown <- all
				return
			case <-time.After(100 * time.Millisecond):
			}
			chunk := bytes.Repeat([]byte{byte('a' + i%26)}, 4096)
			g.Write(chunk)
			all = append(all, chunk...)
		}
	}()

	if r := s.FerryIn("alice-pw\n", "location", "add", "inbox", "sftp://alice@"+s.Addr("ssh")+"/", "--password-stdin"); r.Code != 0 {
		t.Fatalf("location add: %d %s", r.Code, r.Stderr)
	}
	s.MustFerry("transfer", "add", "move", "--from", out, "--to", "location:inbox/in", "--every", "1s",
		"--delete-source", "--min-age", "2s", "--rate-limit", "1M")
	inbox := s.Home("alice", "in")
	WaitFor(t, "big.bin well under way", func() bool {
		es, _ := os.ReadDir(inbox)
		for _, e := range es {
			if fi, err := e.Info(); err == nil && e.Name() != "big.bin" && fi.Size() >= 1<<20 {
				return true
			}
		}
		return false
	})
	addr := s.Addr("ssh")
	s.cmd.Process.Kill()
	WaitFor(t, "ferry serve to be gone", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if _, err := os.Stat(filepath.Join(inbox, "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("big.bin under its final name before it was complete: %v", err)
	}
	close(stopGrowing)
	files["growing.csv"] = <-grown

	s.Start()
	s.MustFerry("location", "set", "inbox", "--url", "sftp://alice@"+s.Addr("ssh")+"/")
	WaitFor(t, "every file delivered and gone from the source", func() bool {
		for n, want := range files {
			got, err := os.ReadFile(filepath.Join(inbox, n))
			if _, srcErr := os.Stat(filepath.Join(out, n)); err != nil || !bytes.Equal(got, want) || !os.IsNotExist(srcErr) {
				return false
			}
		}
		return true
	})
	if es, _ := os.ReadDir(inbox); len(es) != len(files) {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("inbox holds %v, want exactly the %d files", names, len(files))
	}
	// A history row gets its outcome just after its source file is removed.
	ok := map[string]int{}
	WaitFor(t, "a history row per file", func() bool {
		clear(ok)
		n := 0
		for _, r := range history(t, s, "move") {
			if r.Status == "succeeded" {
				ok[filepath.Base(r.Dest)]++
				n++
			}
		}
		return n >= len(files)
	})
	for n := range files {
		if ok[n] != 1 {
			t.Errorf("%s: %d successes in the history, want 1 (%v)", n, ok[n], ok)
		}
	}
}
