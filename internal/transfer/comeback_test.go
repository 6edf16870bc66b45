package transfer_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/frontend/ftpd"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/transfer"
)

// ftpAt serves env over FTP on addr until the returned stop is called.
func ftpAt(t *testing.T, env *ferrytest.Env, addr string) (stop func()) {
	t.Helper()
	srv, err := ftpd.New(ftpd.Options{Engine: env.Engine, Logger: ferrytest.Logger(t), Service: "ftp"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; ln.Close() }) }
	t.Cleanup(stop)
	return stop
}

// TestManagedRetriesADestinationThatComesBack: the destination server is
// down when a move transfer runs. With retries, the file goes once the
// server is back (the first failed dial brings it back); without, the
// run fails the file, keeps its source, and the next run delivers it. No
// file is lost or sent twice.
func TestManagedRetriesADestinationThatComesBack(t *testing.T) {
	t.Parallel()
	erp := ferrytest.NewEngine(t, ferrytest.User("bob", "pw-b"))
	probe := ferrytest.Listen(t) // a free port, closed: the server is down
	addr := probe.Addr().String()
	probe.Close()

	src := t.TempDir()
	st, box := newMemStore(), newBox(t)
	st.addLocation(box, "erp", "ftp://bob@"+addr+"/", "pw-b")
	var (
		mu      sync.Mutex
		failed  int
		revive  bool
		stopERP func()
	)
	dialer := func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error) {
		f, err := remote.Dial(ctx, l, o)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed++
			if revive && stopERP == nil {
				stopERP = ftpAt(t, erp, addr) // back up for the next attempt
			}
		}
		return f, err
	}
	res := &transfer.Resolver{Locations: st, Secrets: box, Dialer: dialer}
	r := transfer.NewRunner(transfer.RunnerOptions{Store: st, Resolver: res, Settle: time.Millisecond,
		Backoff: time.Millisecond, Logger: ferrytest.Logger(t)})

	// Without retries: the file fails, stays at the source.
	write(t, filepath.Join(src, "a.csv"), []byte("a"))
	tr := &ferry.Transfer{Name: "push", Source: src, Dest: "location:erp/in", DeleteSource: true}
	out, err := r.Run(t.Context(), tr)
	if err != nil || out.Failed() != 1 {
		t.Fatalf("run with the destination down: %+v, %v", out, err)
	}
	mustEqual(t, filepath.Join(src, "a.csv"), []byte("a"))

	// With retries: the failed dial brings the server back; the retry
	// delivers both files in the same run.
	mu.Lock()
	revive = true
	mu.Unlock()
	write(t, filepath.Join(src, "b.csv"), []byte("b"))
	tr.Retries = 3
	out, err = r.Run(t.Context(), tr)
	if err != nil || out.Failed() != 0 || len(out.Files) != 2 {
		t.Fatalf("run while the destination comes back: %+v, %v", out, err)
	}
	if out.Files[0].Attempts < 2 {
		t.Errorf("first file: %d attempts, want the retry counted", out.Files[0].Attempts)
	}
	mustEqual(t, erp.Home("bob", "in", "a.csv"), []byte("a"))
	mustEqual(t, erp.Home("bob", "in", "b.csv"), []byte("b"))
	for _, n := range []string{"a.csv", "b.csv"} {
		if _, err := os.Stat(filepath.Join(src, n)); !os.IsNotExist(err) {
			t.Errorf("%s not removed from the source after delivery", n)
		}
	}
	h := st.records()
	if len(h) != 3 || h[0].Status != ferry.TransferFailed || h[1].Status != ferry.TransferOK || h[2].Status != ferry.TransferOK {
		t.Fatalf("history = %+v", h)
	}
	es, _ := os.ReadDir(erp.Home("bob", "in"))
	if len(es) != 2 {
		t.Errorf("destination holds %d entries, want exactly the two files", len(es))
	}
}
