package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManagedTransferResumesAfterKill: a rate-limited managed transfer of
// a large file from Ferry's own SFTP service; `ferry serve` is killed
// (SIGKILL) mid-file and started again. The file arrives byte for byte,
// once, resumed from the partial file, and the history's one row counts
// the interrupted attempt.
func TestManagedTransferResumesAfterKill(t *testing.T) {
	t.Parallel()
	s := sftpServer(t, "alice", "alice-pw")
	outbox := s.Home("alice", "outbox")
	if err := os.MkdirAll(outbox, 0o755); err != nil {
		t.Fatal(err)
	}
	data := xferRandom(t, 6<<20+123)
	if err := os.WriteFile(filepath.Join(outbox, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	inbox := filepath.Join(t.TempDir(), "inbox")
	if r := s.FerryIn("alice-pw\n", "location", "add", "partner", "sftp://alice@"+s.Addr("ssh")+"/", "--password-stdin"); r.Code != 0 {
		t.Fatalf("location add: %d %s", r.Code, r.Stderr)
	}
	s.MustFerry("transfer", "add", "big", "--from", "location:partner/outbox", "--to", inbox, "--every", "1s",
		"--delete-source", "--rate-limit", "1M")

	part := filepath.Join(inbox, "big.bin.ferry-part")
	WaitFor(t, "the copy to be well under way", func() bool {
		fi, err := os.Stat(part)
		return err == nil && fi.Size() >= 3<<19
	})
	s.cmd.Process.Kill()
	s.cmd.Process.Wait()
	fi, err := os.Stat(part)
	if err != nil || fi.Size() >= int64(len(data)) {
		t.Fatalf("after the kill: partial %v, %v", fi, err)
	}
	kept := fi.Size()

	s.Start()
	// The service came back on another port: point the location at it.
	s.MustFerry("location", "set", "partner", "--url", "sftp://alice@"+s.Addr("ssh")+"/")
	WaitFor(t, "big.bin to arrive and leave the outbox", func() bool {
		got, err := os.ReadFile(filepath.Join(inbox, "big.bin"))
		_, srcErr := os.Stat(filepath.Join(outbox, "big.bin"))
		return err == nil && bytes.Equal(got, data) && os.IsNotExist(srcErr)
	})
	es, _ := os.ReadDir(inbox)
	if len(es) != 1 {
		t.Errorf("inbox holds %d entries, want only big.bin", len(es))
	}
	var hist []struct {
		Dest, Status string
		Bytes        int64
		Attempts     int
	}
	WaitFor(t, "the history row", func() bool {
		json.Unmarshal([]byte(s.MustFerry("transfer", "history", "big", "--json")), &hist)
		return len(hist) > 0 && hist[0].Status != "removing" // a move's row gets its outcome once the source is gone
	})
	if len(hist) != 1 || hist[0].Status != "succeeded" || hist[0].Bytes != int64(len(data)) || hist[0].Attempts < 2 {
		t.Fatalf("history = %+v, want one success counting the interrupted attempt", hist)
	}
	if !strings.Contains(s.Output(), "transfer file done") {
		t.Errorf("no completion logged")
	}
	t.Logf("resumed from %d of %d bytes, %d attempts", kept, len(data), hist[0].Attempts)
}
