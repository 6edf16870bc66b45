package transfer_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/transfer"
)

// TestMoveSurvivesACrashBetweenRecordAndRemoval: a move's history row is
// written before its source is removed. A crash right after the row (b.csv,
// source still there) or right after the removal (c.csv) leaves a row
// marked "removing"; the restarted runner completes both before listing,
// so every file has exactly one row, none is sent twice (a second copy
// would get a renamed name at the destination) and none is lost.
func TestMoveSurvivesACrashBetweenRecordAndRemoval(t *testing.T) {
	t.Parallel()
	erp := ferrytest.NewEngine(t, ferrytest.User("bob", "pw-b"))
	addr, _ := stoppableFTPD(t, erp)
	st, box := newMemStore(), newBox(t)
	st.addLocation(box, "erp", "ftp://bob@"+addr+"/", "pw-b")
	src := t.TempDir()
	for _, n := range []string{"a.csv", "b.csv", "c.csv"} {
		write(t, filepath.Join(src, n), []byte("file "+n))
	}
	tr := &ferry.Transfer{Name: "push", Source: src, Dest: "location:erp/in", DeleteSource: true,
		OnConflict: transfer.ConflictRename}
	newRunner := func() *transfer.Runner {
		return transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{Locations: st, Secrets: box},
			Settle: time.Millisecond, Backoff: time.Millisecond, Logger: ferrytest.Logger(t)})
	}

	crashing := newRunner()
	transfer.CrashAfterRecord(crashing, func(s string) bool {
		switch filepath.Base(s) {
		case "b.csv":
			return true // crash before the removal
		case "c.csv":
			os.Remove(s) // the removal, then the crash
			return true
		}
		return false
	})
	if _, err := crashing.Run(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	status := func() map[string][]string {
		m := map[string][]string{}
		for _, r := range st.records() {
			m[filepath.Base(r.Source)] = append(m[filepath.Base(r.Source)], r.Status)
		}
		return m
	}
	want := map[string][]string{"a.csv": {ferry.TransferOK}, "b.csv": {ferry.TransferRemoving}, "c.csv": {ferry.TransferRemoving}}
	if got := status(); !equalRows(got, want) {
		t.Fatalf("history after the crash = %v, want %v", got, want)
	}
	mustEqual(t, filepath.Join(src, "b.csv"), []byte("file b.csv"))

	// The restart: a new runner on the same store.
	res, err := newRunner().Run(t.Context(), tr)
	if err != nil || len(res.Files) != 0 {
		t.Fatalf("run after the restart copied %+v, %v; want nothing to copy", res.Files, err)
	}
	want = map[string][]string{"a.csv": {ferry.TransferOK}, "b.csv": {ferry.TransferOK}, "c.csv": {ferry.TransferOK}}
	if got := status(); !equalRows(got, want) {
		t.Errorf("history after the restart = %v, want %v", got, want)
	}
	if es, _ := os.ReadDir(src); len(es) != 0 {
		t.Errorf("sources left after the restart: %v", es)
	}
	es, err := os.ReadDir(erp.Home("bob", "in"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"a.csv", "b.csv", "c.csv"}) {
		t.Errorf("destination holds %v, want each file once", names)
	}
	for _, n := range names {
		mustEqual(t, erp.Home("bob", "in", n), []byte("file "+n))
	}

	// A file uploaded again under a crashed move's name (another size) is
	// not the file recorded: its row is completed, the new file is sent.
	write(t, filepath.Join(src, "d.csv"), []byte("first d"))
	crashing = newRunner()
	transfer.CrashAfterRecord(crashing, func(s string) bool { return strings.HasSuffix(s, "d.csv") })
	if _, err := crashing.Run(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "d.csv"), []byte("second, longer d"))
	res, err = newRunner().Run(t.Context(), tr)
	if err != nil || len(res.Files) != 1 || res.Failed() != 0 {
		t.Fatalf("run after the second restart: %+v, %v", res.Files, err)
	}
	if got := status()["d.csv"]; !slices.Equal(got, []string{ferry.TransferOK, ferry.TransferOK}) {
		t.Errorf("d.csv rows = %v, want the first copy's and the second's", got)
	}
	mustEqual(t, erp.Home("bob", "in", "d.csv"), []byte("first d"))
}

func equalRows(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestOnUploadMoveInVirtualFolderSurvivesACrash: an on_upload move of a
// file in a virtual folder mounted below the glob's root, cut short after
// its row, is completed by the next run from the row's local path.
func TestOnUploadMoveInVirtualFolderSurvivesACrash(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw-a", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.Mounts = []ferry.Mount{{Path: "/shared", Folder: "shared"}}
	})))
	shared := filepath.Join(t.TempDir(), "shared")
	env.Users.PutFolder(&ferry.Folder{Name: "shared", Path: shared})
	write(t, filepath.Join(shared, "x.csv"), []byte("x"))
	if err := os.MkdirAll(env.Home("alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, dst := newMemStore(), t.TempDir()
	tr := &ferry.Transfer{Name: "up", OnUpload: "alice:/**", Dest: dst, DeleteSource: true}
	newRunner := func() *transfer.Runner {
		return transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond,
			LocalPath: env.Engine.LocalPath, Logger: ferrytest.Logger(t)})
	}
	crashing := newRunner()
	transfer.CrashAfterRecord(crashing, func(string) bool { return true })
	if _, err := crashing.Deliver(t.Context(), tr, []string{"/shared/x.csv"}); err != nil {
		t.Fatal(err)
	}
	if h := st.records(); len(h) != 1 || h[0].Status != ferry.TransferRemoving {
		t.Fatalf("history after the crash = %+v", h)
	}
	if _, err := newRunner().Run(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	if h := st.records(); len(h) != 1 || h[0].Status != ferry.TransferOK {
		t.Errorf("history after the restart = %+v, want one success", h)
	}
	if _, err := os.Stat(filepath.Join(shared, "x.csv")); !os.IsNotExist(err) {
		t.Errorf("the source is still in the folder: %v", err)
	}
	mustEqual(t, filepath.Join(dst, "shared", "x.csv"), []byte("x"))
}
