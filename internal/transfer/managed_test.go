package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/frontend/ftpd"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/secret"
	"github.com/ferrymft/ferry/internal/transfer"
)

// memStore is an in-memory RunStore and LocationSource with the store's
// lease semantics.
type memStore struct {
	mu      sync.Mutex
	locs    map[string]*ferry.Location
	history []ferry.TransferRecord
	leases  map[string]string // name → owner (no expiry: tests release)
}

func newMemStore() *memStore {
	return &memStore{locs: map[string]*ferry.Location{}, leases: map[string]string{}}
}

func (m *memStore) GetLocation(_ context.Context, name string) (*ferry.Location, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locs[name]; ok {
		c := *l
		return &c, nil
	}
	return nil, fmt.Errorf("location %q: %w", name, ferry.ErrNotFound)
}

func (m *memStore) AddTransferRecord(_ context.Context, r *ferry.TransferRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.ID = int64(len(m.history) + 1)
	m.history = append(m.history, *r)
	return nil
}

func (m *memStore) UpdateTransferRecord(_ context.Context, r *ferry.TransferRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.ID < 1 || int(r.ID) > len(m.history) {
		return fmt.Errorf("history row %d: %w", r.ID, ferry.ErrNotFound)
	}
	m.history[r.ID-1] = *r
	return nil
}

func (m *memStore) PendingTransferRecords(_ context.Context, name string) ([]ferry.TransferRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ferry.TransferRecord
	for _, r := range m.history {
		if r.Transfer == name && r.Status == ferry.TransferRemoving {
			out = append(out, r)
		}
	}
	return out, nil
}

// finished returns the history rows with an outcome (a move's row is
// written before its source is removed, then updated).
func (m *memStore) finished() []ferry.TransferRecord {
	var out []ferry.TransferRecord
	for _, r := range m.records() {
		if r.Status != ferry.TransferRemoving {
			out = append(out, r)
		}
	}
	return out
}

func (m *memStore) AcquireTransfer(_ context.Context, name, owner string, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.leases[name]; ok && o != owner {
		return false, nil
	}
	m.leases[name] = owner
	return true, nil
}

func (m *memStore) ReleaseTransfer(_ context.Context, name, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leases[name] == owner {
		delete(m.leases, name)
	}
	return nil
}

func (m *memStore) records() []ferry.TransferRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ferry.TransferRecord(nil), m.history...)
}

// addLocation stores a location with its password sealed by box.
func (m *memStore) addLocation(box *secret.Box, name, url, password string) {
	l := &ferry.Location{Name: name, URL: url, Auth: ferry.AuthNone, Insecure: true}
	if password != "" {
		l.Auth, l.Password = ferry.AuthPassword, box.Seal(password, transfer.SecretAD(name, "password"))
	}
	m.mu.Lock()
	m.locs[name] = l
	m.mu.Unlock()
}

func startFTPD(t *testing.T, env *ferrytest.Env) string {
	t.Helper()
	srv, err := ftpd.New(ftpd.Options{Engine: env.Engine, Logger: ferrytest.Logger(t), Service: "ftp"})
	if err != nil {
		t.Fatal(err)
	}
	ln := ferrytest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

type events struct {
	mu  sync.Mutex
	evs []ferry.Event
}

func (e *events) publish(ev ferry.Event) { e.mu.Lock(); e.evs = append(e.evs, ev); e.mu.Unlock() }
func (e *events) count(t ferry.EventType) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.evs {
		if ev.Type == t {
			n++
		}
	}
	return n
}

func newBox(t *testing.T) *secret.Box {
	b, err := secret.Load(t.TempDir(), "", true)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestManagedSFTPToFTP moves files between two Ferry services through
// stored locations: a partner's SFTP outbox to an ERP's FTP inbox.
func TestManagedSFTPToFTP(t *testing.T) {
	t.Parallel()
	partner := ferrytest.NewEngine(t, ferrytest.User("alice", "pw-a"))
	erp := ferrytest.NewEngine(t, ferrytest.User("bob", "pw-b"))
	sftpAddr, ftpAddr := startSSHD(t, partner), startFTPD(t, erp)
	a, b := random(1<<20+5), random(333)
	write(t, partner.Home("alice", "outbox", "a.csv"), a)
	write(t, partner.Home("alice", "outbox", "sub", "b.csv"), b)
	write(t, partner.Home("alice", "outbox", "note.txt"), []byte("stays"))

	st, box, ev := newMemStore(), newBox(t), &events{}
	st.addLocation(box, "partner", "sftp://alice@"+sftpAddr+"/", "pw-a")
	st.addLocation(box, "erp", "ftp://bob@"+ftpAddr+"/", "pw-b")
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{Locations: st, Secrets: box},
		Publish: ev.publish, Settle: 10 * time.Millisecond, Backoff: 10 * time.Millisecond, Logger: ferrytest.Logger(t)})
	tr := &ferry.Transfer{Name: "pull", Source: "location:partner/outbox", Dest: "location:erp/in", Pattern: "*.csv",
		Recursive: true, DeleteSource: true, Retries: 1}
	res, err := r.Run(t.Context(), tr)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 || res.Failed() != 0 {
		t.Fatalf("run: %+v", res)
	}
	mustEqual(t, erp.Home("bob", "in", "a.csv"), a)
	mustEqual(t, erp.Home("bob", "in", "sub", "b.csv"), b)
	for _, p := range []string{"a.csv", "sub/b.csv"} {
		if _, err := os.Stat(partner.Home("alice", "outbox", p)); !os.IsNotExist(err) {
			t.Errorf("source %s not deleted: %v", p, err)
		}
	}
	if _, err := os.Stat(partner.Home("alice", "outbox", "note.txt")); err != nil {
		t.Errorf("a file the pattern does not select was touched: %v", err)
	}
	h := st.records()
	if len(h) != 2 || h[0].Status != ferry.TransferOK || h[0].Transfer != "pull" || h[0].Bytes+h[1].Bytes != int64(len(a)+len(b)) {
		t.Fatalf("history = %+v", h)
	}
	for _, rec := range h {
		if strings.Contains(rec.Source+rec.Dest, "pw-") {
			t.Errorf("a password in the history: %+v", rec)
		}
	}
	if ev.count(ferry.EventTransferStarted) != 2 || ev.count(ferry.EventTransferSucceeded) != 2 {
		t.Errorf("events: %+v", ev.evs)
	}

	// A wrong password fails each file with a clear error, recorded.
	write(t, partner.Home("alice", "outbox", "c.csv"), []byte("c"))
	st.addLocation(box, "erp", "ftp://bob@"+ftpAddr+"/", "wrong")
	r2 := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{Locations: st, Secrets: box},
		Publish: ev.publish, Settle: 10 * time.Millisecond, Backoff: 10 * time.Millisecond})
	res, err = r2.Run(t.Context(), tr)
	if err != nil || res.Failed() != 1 {
		t.Fatalf("run with a bad password: %+v, %v", res, err)
	}
	if h := st.records(); h[2].Status != ferry.TransferFailed || !strings.Contains(h[2].Error, "erp") {
		t.Errorf("failed row = %+v (want the location named)", h[2])
	}
	if _, err := os.Stat(partner.Home("alice", "outbox", "c.csv")); err != nil {
		t.Errorf("a failed file's source is gone: %v", err)
	}
	if ev.count(ferry.EventTransferFailed) != 1 {
		t.Errorf("no transfer_failed event")
	}
}

// growingFS reports a file that grows at every look.
type growingFS struct {
	remote.FS
	mu *sync.Mutex
	n  *int64 // shared by every connection
}

func (g *growingFS) grow(e remote.Entry) remote.Entry {
	if e.Name == "growing.csv" {
		g.mu.Lock()
		*g.n++
		e.Size += *g.n
		g.mu.Unlock()
	}
	return e
}

func (g *growingFS) Stat(ctx context.Context, p string) (remote.Entry, error) {
	e, err := g.FS.Stat(ctx, p)
	return g.grow(e), err
}

func (g *growingFS) List(ctx context.Context, p string) ([]remote.Entry, error) {
	es, err := g.FS.List(ctx, p)
	for i := range es {
		es[i] = g.grow(es[i])
	}
	return es, err
}

func TestManagedPicksOnlyStableFiles(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "growing.csv"), []byte("partial"))
	write(t, filepath.Join(src, "young.csv"), []byte("young"))
	write(t, filepath.Join(src, "old.csv"), []byte("old"))
	write(t, filepath.Join(src, "x.csv"+transfer.DefaultTempSuffix), []byte("a partial"))
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(src, "old.csv"), old, old)
	os.Chtimes(filepath.Join(src, "growing.csv"), old, old)
	st := newMemStore()
	var mu sync.Mutex
	var n int64
	res := &transfer.Resolver{Dialer: func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error) {
		f, err := remote.Dial(ctx, l, o)
		return &growingFS{FS: f, mu: &mu, n: &n}, err
	}}
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: res, Settle: 10 * time.Millisecond})
	tr := &ferry.Transfer{Name: "t", Source: src, Dest: dst, MinAge: 10 * time.Minute, Verify: "size"}
	got, err := r.Run(t.Context(), tr)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Files) != 1 || got.Pending != 2 || got.Failed() != 0 {
		t.Fatalf("run = %+v, want old.csv copied, growing.csv and young.csv pending", got)
	}
	mustEqual(t, filepath.Join(dst, "old.csv"), []byte("old"))
	for _, n := range []string{"growing.csv", "young.csv", "x.csv"} {
		if _, err := os.Stat(filepath.Join(dst, n)); !os.IsNotExist(err) {
			t.Errorf("%s was copied: %v", n, err)
		}
	}
	// Once young.csv is old enough it is picked (old.csv again too: no
	// delete or archive).
	os.Chtimes(filepath.Join(src, "young.csv"), old, old)
	if got, err = r.Run(t.Context(), tr); err != nil || len(got.Files) != 2 || got.Pending != 1 {
		t.Fatalf("second run = %+v, %v", got, err)
	}
	mustEqual(t, filepath.Join(dst, "young.csv"), []byte("young"))
}

func TestManagedArchiveAndBusy(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "a.csv"), []byte("a"))
	st := newMemStore()
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: &transfer.Resolver{}, Settle: time.Millisecond, Owner: "me"})
	tr := &ferry.Transfer{Name: "arch", Source: src, Dest: dst, ArchiveTo: "done", Recursive: true}
	st.AcquireTransfer(t.Context(), "arch", "someone-else", time.Now())
	if _, err := r.Run(t.Context(), tr); !errors.Is(err, transfer.ErrBusy) {
		t.Fatalf("run while another owner holds the lease: %v, want ErrBusy", err)
	}
	st.ReleaseTransfer(t.Context(), "arch", "someone-else")
	if res, err := r.Run(t.Context(), tr); err != nil || len(res.Files) != 1 || res.Failed() != 0 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	mustEqual(t, filepath.Join(dst, "a.csv"), []byte("a"))
	mustEqual(t, filepath.Join(src, "done", "a.csv"), []byte("a"))
	if _, err := os.Stat(filepath.Join(src, "a.csv")); !os.IsNotExist(err) {
		t.Errorf("source not archived: %v", err)
	}
	// The archive folder is not itself picked up by a recursive run.
	if res, err := r.Run(t.Context(), tr); err != nil || len(res.Files) != 0 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
}
