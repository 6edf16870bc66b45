package transfer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/transfer"
)

// tee publishes to the engine's bus and to the scheduler.
type tee struct {
	core.Publisher
	s *atomic.Pointer[transfer.Scheduler] // nil until the test made it
}

func (p tee) Publish(ev ferry.Event) {
	if p.Publisher != nil {
		p.Publisher.Publish(ev)
	}
	if s := p.s.Load(); s != nil {
		s.Notify(ev)
	}
}

// teeTo returns an engine option that also hands every event to the
// scheduler stored in s.
func teeTo(s *atomic.Pointer[transfer.Scheduler]) func(*core.Options) {
	return func(o *core.Options) { o.Events = tee{Publisher: o.Events, s: s} }
}

// TestOnUploadDeliversTheUploadedFile: a partner uploads over SFTP to
// Ferry; the on_upload transfer delivers the file to the ERP's FTP server
// (another Ferry) and, being a move, removes it from the partner's inbox.
// A file uploaded under a temporary name and renamed onto a matching one
// is delivered too; one the glob does not match is left alone.
func TestOnUploadDeliversTheUploadedFile(t *testing.T) {
	t.Parallel()
	var notify atomic.Pointer[transfer.Scheduler]
	partner := ferrytest.NewEngineWith(t, teeTo(&notify), ferrytest.User("alice", "pw-a"))
	erp := ferrytest.NewEngine(t, ferrytest.User("bob", "pw-b"))
	sftpAddr, ftpAddr := startSSHD(t, partner), startFTPD(t, erp)

	st, box := newMemStore(), newBox(t)
	st.addLocation(box, "erp", "ftp://bob@"+ftpAddr+"/", "pw-b")
	d := &defs{ts: map[string]*ferry.Transfer{}}
	homes := func(_ context.Context, user string) (string, error) { return partner.Home(user), nil }
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{Locations: st, Secrets: box},
		Homes: homes, Settle: time.Hour, Logger: ferrytest.Logger(t)}) // a settle wait would hang the test
	sched := transfer.NewScheduler(transfer.SchedulerOptions{Transfers: d, Changes: d.Changes, Runner: r,
		Tick: time.Hour, WatchRescan: time.Hour, Logger: ferrytest.Logger(t)}) // deliveries must not wait for a tick
	notify.Store(sched)
	tr := &ferry.Transfer{Name: "to-erp", OnUpload: "alice:/in/*.csv", Dest: "location:erp/inbound", DeleteSource: true}
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	d.put(tr)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { sched.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// The catch-up pass at start (a move) finds no /in yet.
	waitFor(t, "the catch-up pass", func() bool { st := sched.States()["to-erp"]; return st.Runs == 1 && !st.Running })

	c, err := remote.Dial(t.Context(), loc(t, "sftp://alice@"+sftpAddr+"/"), remote.Options{Password: "pw-a", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	put := func(p string, b []byte) {
		t.Helper()
		w, err := c.Create(t.Context(), p, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Mkdir(t.Context(), "/in"); err != nil {
		t.Fatal(err)
	}
	a := random(200 << 10)
	put("/in/orders.csv", a)
	put("/in/notes.txt", []byte("not for the ERP"))
	put("/in/late.tmp", []byte("renamed when complete"))
	if err := c.Rename(t.Context(), "/in/late.tmp", "/in/late.csv"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both deliveries", func() bool { return len(st.finished()) == 2 })
	mustEqual(t, erp.Home("bob", "inbound", "orders.csv"), a)
	mustEqual(t, erp.Home("bob", "inbound", "late.csv"), []byte("renamed when complete"))
	for _, p := range []string{"orders.csv", "late.csv"} {
		if _, err := os.Stat(partner.Home("alice", "in", p)); !os.IsNotExist(err) {
			t.Errorf("%s still in the inbox after the move: %v", p, err)
		}
	}
	mustEqual(t, partner.Home("alice", "in", "notes.txt"), []byte("not for the ERP"))
	if _, err := os.Stat(erp.Home("bob", "inbound", "notes.txt")); !os.IsNotExist(err) {
		t.Errorf("a file the glob does not match was delivered: %v", err)
	}
	for _, rec := range st.records() {
		if rec.Status != ferry.TransferOK || rec.Transfer != "to-erp" {
			t.Errorf("history row %+v", rec)
		}
	}
}

// TestOnUploadCatchUpRun: a run on demand of an on_upload transfer picks
// up the matching files left in the user's folder (uploaded while the
// server was down), keeping subfolders under the glob's root.
func TestOnUploadCatchUpRun(t *testing.T) {
	t.Parallel()
	home, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(home, "in", "a.csv"), []byte("a"))
	write(t, filepath.Join(home, "in", "sub", "b.csv"), []byte("b"))
	write(t, filepath.Join(home, "out", "c.csv"), []byte("c"))
	st := newMemStore()
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond,
		Homes: func(context.Context, string) (string, error) { return home, nil }, Logger: ferrytest.Logger(t)})
	tr := &ferry.Transfer{Name: "up", OnUpload: "alice:/in/**", Dest: dst, ArchiveTo: "done"}
	res, err := r.Run(t.Context(), tr)
	if err != nil || len(res.Files) != 2 || res.Failed() != 0 {
		t.Fatalf("catch-up run: %+v, %v", res, err)
	}
	mustEqual(t, filepath.Join(dst, "a.csv"), []byte("a"))
	mustEqual(t, filepath.Join(dst, "sub", "b.csv"), []byte("b"))
	mustEqual(t, filepath.Join(home, "in", "done", "sub", "b.csv"), []byte("b"))
	if _, err := os.Stat(filepath.Join(dst, "c.csv")); !os.IsNotExist(err) {
		t.Errorf("a file outside the glob was delivered")
	}
	// A delivery of a file that is gone (archived above) does nothing.
	res, err = r.Deliver(t.Context(), tr, []string{"/in/a.csv", "/etc/passwd", "/in/../out/c.csv"})
	if err != nil || len(res.Files) != 0 {
		t.Fatalf("delivery of gone or foreign files: %+v, %v", res, err)
	}
}

func TestOnUploadValidate(t *testing.T) {
	for _, tc := range []struct {
		t  ferry.Transfer
		ok bool
	}{
		{ferry.Transfer{Name: "a", OnUpload: "alice:/in/*", Dest: "/x"}, true},
		{ferry.Transfer{Name: "a", OnUpload: "alice:/in/**", Dest: "/x", DeleteSource: true}, true},
		{ferry.Transfer{Name: "a", OnUpload: "alice:in/*", Dest: "/x"}, false},
		{ferry.Transfer{Name: "a", OnUpload: "/in/*", Dest: "/x"}, false},
		{ferry.Transfer{Name: "a", OnUpload: "alice:/in/*", Source: "/y", Dest: "/x"}, false},
		{ferry.Transfer{Name: "a", OnUpload: "alice:/in/*", Dest: "/x", Every: time.Minute}, false},
		{ferry.Transfer{Name: "a", Dest: "/x"}, false},
	} {
		if err := tc.t.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.t, err)
		}
	}
	tr := ferry.Transfer{OnUpload: "alice:/in/*.csv"}
	for p, want := range map[string]bool{"/in/a.csv": true, "/in/a.txt": false, "/in/s/a.csv": false, "/a.csv": false} {
		if tr.MatchUpload("alice", p) != want || tr.MatchUpload("bob", p) {
			t.Errorf("match %s: want %v", p, want)
		}
	}
	tr.OnUpload = "alice:/in/**"
	if !tr.MatchUpload("alice", "/in/s/a.csv") || tr.MatchUpload("alice", "/inbox/a") || tr.UploadRoot() != "/in" {
		t.Errorf("/** glob: root %q", tr.UploadRoot())
	}
}

// TestOnUploadCatchUpAtStart: files uploaded while the server was down
// (no event will come for them) are delivered by the pass a moving
// on_upload transfer makes when the scheduler starts.
func TestOnUploadCatchUpAtStart(t *testing.T) {
	t.Parallel()
	home, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(home, "in", "early.csv"), []byte("uploaded while down"))
	st := newMemStore()
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond,
		Homes: func(context.Context, string) (string, error) { return home, nil }, Logger: ferrytest.Logger(t)})
	d := &defs{ts: map[string]*ferry.Transfer{}}
	s := transfer.NewScheduler(transfer.SchedulerOptions{Transfers: d, Changes: d.Changes, Runner: r, Tick: time.Hour,
		WatchRescan: time.Hour, Logger: ferrytest.Logger(t)})
	d.put(&ferry.Transfer{Name: "up", OnUpload: "alice:/in/*", Dest: dst, DeleteSource: true})
	runScheduler(t, s)
	waitFor(t, "early.csv", func() bool { _, err := os.Stat(filepath.Join(dst, "early.csv")); return err == nil })
	mustEqual(t, filepath.Join(dst, "early.csv"), []byte("uploaded while down"))
	waitFor(t, "the source removed", func() bool {
		_, err := os.Stat(filepath.Join(home, "in", "early.csv"))
		return os.IsNotExist(err)
	})
}

// TestOnUploadIntoVirtualFolder: alice's /shared is a virtual folder
// (another directory). A file she uploads there over SFTP is delivered
// by an on_upload transfer, which finds it through core's view of her
// tree (Engine.LocalPath), and moved out of the folder; a catch-up run
// rooted above the mount descends into the folder, not the home's
// directory it hides, and archives where alice sees /done.
func TestOnUploadIntoVirtualFolder(t *testing.T) {
	t.Parallel()
	var notify atomic.Pointer[transfer.Scheduler]
	partner := ferrytest.NewEngineWith(t, teeTo(&notify), ferrytest.User("alice", "pw-a", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.Mounts = []ferry.Mount{{Path: "/shared", Folder: "shared"}}
	})))
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	partner.Users.PutFolder(&ferry.Folder{Name: "shared", Path: shared})
	erp := ferrytest.NewEngine(t, ferrytest.User("bob", "pw-b"))
	sftpAddr, ftpAddr := startSSHD(t, partner), startFTPD(t, erp)

	st, box := newMemStore(), newBox(t)
	st.addLocation(box, "erp", "ftp://bob@"+ftpAddr+"/", "pw-b")
	d := &defs{ts: map[string]*ferry.Transfer{}}
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{Locations: st, Secrets: box},
		LocalPath: partner.Engine.LocalPath, Settle: time.Millisecond, Logger: ferrytest.Logger(t)})
	sched := transfer.NewScheduler(transfer.SchedulerOptions{Transfers: d, Changes: d.Changes, Runner: r,
		Tick: time.Hour, WatchRescan: time.Hour, Logger: ferrytest.Logger(t)})
	notify.Store(sched)
	d.put(&ferry.Transfer{Name: "to-erp", OnUpload: "alice:/shared/*.csv", Dest: "location:erp/inbound", DeleteSource: true})
	runScheduler(t, sched)
	waitFor(t, "the catch-up pass", func() bool { st := sched.States()["to-erp"]; return st.Runs == 1 && !st.Running })

	c, err := remote.Dial(t.Context(), loc(t, "sftp://alice@"+sftpAddr+"/"), remote.Options{Password: "pw-a", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := c.Create(t.Context(), "/shared/orders.csv", 0)
	if err != nil {
		t.Fatal(err)
	}
	a := random(100 << 10)
	if _, err := w.Write(a); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool { return len(st.finished()) == 1 })
	mustEqual(t, erp.Home("bob", "inbound", "orders.csv"), a)
	if rec := st.records()[0]; rec.Status != ferry.TransferOK || !strings.Contains(rec.Source, shared) {
		t.Errorf("history row %+v, want a success from %s", rec, shared)
	}
	waitFor(t, "the source moved out of the folder", func() bool {
		_, err := os.Stat(filepath.Join(shared, "orders.csv"))
		return os.IsNotExist(err)
	})

	// Catch-up rooted above the mount: the home's own shared/ directory
	// (hidden by the mount) is not read.
	write(t, filepath.Join(shared, "sub", "b.csv"), []byte("in the folder"))
	write(t, partner.Home("alice", "shared", "hidden.csv"), []byte("hidden by the mount"))
	dst := t.TempDir()
	res, err := r.Run(t.Context(), &ferry.Transfer{Name: "all", OnUpload: "alice:/**", Dest: dst, ArchiveTo: "done"})
	if err != nil || res.Failed() != 0 || len(res.Files) != 1 {
		t.Fatalf("catch-up run: %+v, %v", res, err)
	}
	mustEqual(t, filepath.Join(dst, "shared", "sub", "b.csv"), []byte("in the folder"))
	mustEqual(t, partner.Home("alice", "done", "shared", "sub", "b.csv"), []byte("in the folder"))
	if _, err := os.Stat(filepath.Join(dst, "shared", "hidden.csv")); !os.IsNotExist(err) {
		t.Errorf("a file hidden by the mount was delivered: %v", err)
	}
}
