package transfer_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/frontend/ftpd"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/secret"
	"github.com/ferrymft/ferry/internal/transfer"
)

// stoppableFTPD serves env over FTP until stop is called.
func stoppableFTPD(t *testing.T, env *ferrytest.Env) (addr string, stop func()) {
	t.Helper()
	srv, err := ftpd.New(ftpd.Options{Engine: env.Engine, Logger: ferrytest.Logger(t), Service: "ftp"})
	if err != nil {
		t.Fatal(err)
	}
	ln := ferrytest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			ln.Close()
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// TestFailoverToBackupLocation delivers to a primary Ferry server, then,
// with the primary stopped, to the backup its location names; the history
// says which server got each file. A backup with a different root gets
// the same relative path.
func TestFailoverToBackupLocation(t *testing.T) {
	t.Parallel()
	primary := ferrytest.NewEngine(t, ferrytest.User("bob", "pw-b"))
	backup := ferrytest.NewEngine(t, ferrytest.User("carol", "pw-c"))
	pAddr, stopPrimary := stoppableFTPD(t, primary)
	bAddr, stopBackup := stoppableFTPD(t, backup)

	src := t.TempDir()
	if err := os.MkdirAll(backup.Home("carol", "dr"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, box := newMemStore(), newBox(t)
	st.addLocation(box, "erp", "ftp://bob@"+pAddr+"/", "pw-b")
	st.addLocation(box, "erp-dr", "ftp://carol@"+bAddr+"/dr", "pw-c")
	st.mu.Lock()
	st.locs["erp"].Failover = "erp-dr"
	st.mu.Unlock()
	res := &transfer.Resolver{Locations: st, Secrets: box}
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: res, Settle: time.Millisecond,
		Backoff: time.Millisecond, Logger: ferrytest.Logger(t)})
	tr := &ferry.Transfer{Name: "push", Source: src, Dest: "location:erp/in", DeleteSource: true, Retries: 1}

	write(t, src+"/a.csv", []byte("to the primary"))
	if out, err := r.Run(t.Context(), tr); err != nil || len(out.Files) != 1 || out.Failed() != 0 {
		t.Fatalf("run with the primary up: %+v, %v", out, err)
	}
	mustEqual(t, primary.Home("bob", "in", "a.csv"), []byte("to the primary"))

	stopPrimary()
	write(t, src+"/b.csv", []byte("to the backup"))
	out, err := r.Run(t.Context(), tr)
	if err != nil || len(out.Files) != 1 || out.Failed() != 0 {
		t.Fatalf("run with the primary down: %+v, %v", out, err)
	}
	mustEqual(t, backup.Home("carol", "dr", "in", "b.csv"), []byte("to the backup"))
	if _, err := os.Stat(primary.Home("bob", "in", "b.csv")); !os.IsNotExist(err) {
		t.Errorf("b.csv on the stopped primary: %v", err)
	}
	if out.Files[0].Failover != "erp-dr" {
		t.Errorf("result failover = %q", out.Files[0].Failover)
	}
	h := st.records()
	if len(h) != 2 || !strings.Contains(h[0].Dest, pAddr) || !strings.Contains(h[1].Dest, bAddr+"/dr/in/b.csv") {
		t.Fatalf("history does not say which server got each file: %+v", h)
	}

	// Both down: the file fails, naming both, and stays at the source.
	stopBackup()
	write(t, src+"/c.csv", []byte("nowhere"))
	out, err = r.Run(t.Context(), tr)
	if err != nil || out.Failed() != 1 || !strings.Contains(out.Files[0].Err.Error(), `"erp"`) ||
		!strings.Contains(out.Files[0].Err.Error(), `"erp-dr"`) {
		t.Fatalf("run with both down: %+v, %v", out, err)
	}
	mustEqual(t, src+"/c.csv", []byte("nowhere"))

	// Without a failover, the primary's outage fails the file, naming it.
	st.mu.Lock()
	st.locs["erp"].Failover = ""
	st.mu.Unlock()
	res.Forget()
	write(t, src+"/c.csv", []byte("nowhere"))
	out, err = r.Run(t.Context(), tr)
	if err != nil || out.Failed() != 1 || !strings.Contains(out.Files[0].Err.Error(), `"erp"`) {
		t.Fatalf("run without failover: %+v, %v", out, err)
	}
}

func TestLocationFailoverValidate(t *testing.T) {
	l := ferry.Location{Name: "a", URL: "ftp://h/", Auth: ferry.AuthNone, Failover: "a"}
	if err := l.Validate(); err == nil {
		t.Error("a location that is its own failover was accepted")
	}
	l.Failover = "b"
	if err := l.Validate(); err != nil {
		t.Error(err)
	}
}

// TestHostKeyMismatchIsRefusedNotFailedOver: a location whose SSH server
// shows another host key than the pinned one fails the file with an error
// naming the location and the mismatch; its failover is not used, so a
// man in the middle cannot hide behind the backup.
func TestHostKeyMismatchIsRefusedNotFailedOver(t *testing.T) {
	t.Parallel()
	partner := ferrytest.NewEngine(t, ferrytest.User("alice", "pw-a"))
	backup := ferrytest.NewEngine(t, ferrytest.User("carol", "pw-c"))
	sftpAddr := startSSHD(t, partner)
	bAddr, _ := stoppableFTPD(t, backup)
	src := t.TempDir()
	write(t, src+"/a.csv", []byte("secret"))
	st, box := newMemStore(), newBox(t)
	st.addLocation(box, "partner", "sftp://alice@"+sftpAddr+"/", "pw-a")
	st.addLocation(box, "partner-dr", "ftp://carol@"+bAddr+"/", "pw-c")
	st.mu.Lock()
	st.locs["partner"].Insecure = false
	st.locs["partner"].HostKey = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	st.locs["partner"].Failover = "partner-dr"
	st.mu.Unlock()
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{Locations: st, Secrets: box},
		Settle: time.Millisecond, Backoff: time.Millisecond, Logger: ferrytest.Logger(t)})
	tr := &ferry.Transfer{Name: "push", Source: src, Dest: "location:partner/in", DeleteSource: true, Retries: 2}
	out, err := r.Run(t.Context(), tr)
	if err != nil || out.Failed() != 1 {
		t.Fatalf("run: %+v, %v", out, err)
	}
	if e := out.Files[0].Err; !errors.Is(e, remote.ErrHostKey) || !strings.Contains(e.Error(), `"partner"`) || out.Files[0].Attempts != 1 {
		t.Errorf("error = %v after %d attempts, want a host key mismatch naming the location, not retried", e, out.Files[0].Attempts)
	}
	if _, err := os.Stat(backup.Home("carol", "in", "a.csv")); !os.IsNotExist(err) {
		t.Errorf("the file went to the failover despite the host key mismatch: %v", err)
	}
	mustEqual(t, src+"/a.csv", []byte("secret"))
}

// resetFS accepts the login but fails every upload with a transient
// error, as a server with a broken disk or a flaky link would.
type resetFS struct{ remote.FS }

func (resetFS) Create(context.Context, string, int64) (remote.Writer, error) {
	return nil, errors.New("read tcp: connection reset by peer")
}

// TestFailoverAfterRepeatedTransientErrors: a primary that answers but
// fails every upload is given up after transfer.FailoverAfter attempts in
// a row; the file's next attempt, in the same run, goes to the backup.
func TestFailoverAfterRepeatedTransientErrors(t *testing.T) {
	t.Parallel()
	fp := newFailingPrimary(t)
	backup, bAddr, src, st, box, dial := fp.backup, fp.bAddr, fp.src, fp.st, fp.box, fp.dial
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{Locations: st, Secrets: box, Dialer: dial},
		Settle: time.Millisecond, Backoff: time.Millisecond, Logger: ferrytest.Logger(t)})
	tr := &ferry.Transfer{Name: "push", Source: src, Dest: "location:erp/in", DeleteSource: true, Retries: transfer.FailoverAfter + 1}
	out, err := r.Run(t.Context(), tr)
	if err != nil || out.Failed() != 0 || len(out.Files) != 1 {
		t.Fatalf("run: %+v, %v", out, err)
	}
	if f := out.Files[0]; f.Failover != "erp-dr" || f.Attempts != transfer.FailoverAfter+1 || !strings.Contains(f.Dst, bAddr) {
		t.Errorf("file = %+v, want it on the backup after %d failed attempts", f, transfer.FailoverAfter)
	}
	mustEqual(t, backup.Home("carol", "in", "a.csv"), []byte("a"))
}

// TestCopyFailsOverWithinItsRetries: a one-shot copy (ferry copy: the
// Copier hooked to a Resolver, 2 retries) to a primary that fails every
// upload gets one attempt more than its retries, on the backup, because
// its third transient error in a row failed the location over.
func TestCopyFailsOverWithinItsRetries(t *testing.T) {
	t.Parallel()
	fp := newFailingPrimary(t)
	backup, bAddr, src, st, box, dial := fp.backup, fp.bAddr, fp.src, fp.st, fp.box, fp.dial
	res := &transfer.Resolver{Locations: st, Secrets: box, Dialer: dial}
	o := transfer.Options{Retries: 2, Backoff: time.Millisecond, Logger: ferrytest.Logger(t)}
	res.Hook(&o)
	cp := transfer.New(o)
	defer cp.Close()
	dst, err := res.Parse(t.Context(), "location:erp/in/")
	if err != nil {
		t.Fatal(err)
	}
	srcLoc, err := remote.Parse(src + "/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cp.Copy(t.Context(), []remote.Location{srcLoc}, dst)
	if err != nil || len(out) != 1 {
		t.Fatalf("copy: %+v, %v", out, err)
	}
	if f := out[0]; f.Err != nil || f.Failover != "erp-dr" || f.Attempts != transfer.FailoverAfter+1 || !strings.Contains(f.Dst, bAddr) {
		t.Errorf("file = %+v, want it on the backup at attempt %d", f, transfer.FailoverAfter+1)
	}
	mustEqual(t, backup.Home("carol", "in", "a.csv"), []byte("a"))
	if _, err := os.Stat(fp.primary.Home("bob", "in", "a.csv")); !os.IsNotExist(err) {
		t.Errorf("a.csv on the failing primary: %v", err)
	}

	// Without a failover the same copy gives up after its retries.
	st.mu.Lock()
	st.locs["erp"].Failover = ""
	st.mu.Unlock()
	res2 := &transfer.Resolver{Locations: st, Secrets: box, Dialer: dial}
	o2 := transfer.Options{Retries: 2, Backoff: time.Millisecond, Logger: ferrytest.Logger(t)}
	res2.Hook(&o2)
	cp2 := transfer.New(o2)
	defer cp2.Close()
	dst, _ = res2.Parse(t.Context(), "location:erp/in/")
	out, err = cp2.Copy(t.Context(), []remote.Location{srcLoc}, dst)
	if err != nil || len(out) != 1 || out[0].Err == nil || out[0].Attempts != 3 {
		t.Fatalf("copy without a failover: %+v, %v", out, err)
	}
}

// failingPrimary is a location "erp" whose FTP server answers but fails
// every upload (resetFS), with a working backup "erp-dr", and a source
// folder holding a.csv.
type failingPrimary struct {
	primary *ferrytest.Env
	backup  *ferrytest.Env
	bAddr   string
	src     string
	st      *memStore
	box     *secret.Box
	dial    func(context.Context, remote.Location, remote.Options) (remote.FS, error)
}

func newFailingPrimary(t *testing.T) failingPrimary {
	t.Helper()
	fp := failingPrimary{primary: ferrytest.NewEngine(t, ferrytest.User("bob", "pw-b")), backup: ferrytest.NewEngine(t, ferrytest.User("carol", "pw-c")), src: t.TempDir(),
		st: newMemStore(), box: newBox(t)}
	pAddr, _ := stoppableFTPD(t, fp.primary)
	fp.bAddr, _ = stoppableFTPD(t, fp.backup)
	write(t, fp.src+"/a.csv", []byte("a"))
	fp.st.addLocation(fp.box, "erp", "ftp://bob@"+pAddr+"/", "pw-b")
	fp.st.addLocation(fp.box, "erp-dr", "ftp://carol@"+fp.bAddr+"/", "pw-c")
	fp.st.mu.Lock()
	fp.st.locs["erp"].Failover = "erp-dr"
	fp.st.mu.Unlock()
	fp.dial = func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error) {
		f, err := remote.Dial(ctx, l, o)
		if err == nil && l.Name == "erp" {
			return resetFS{f}, nil
		}
		return f, err
	}
	return fp
}
