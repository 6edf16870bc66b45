package ftpd

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// A download whose client stops reading leaves the server asleep in a
// blocking sendfile. TestStalledDownload checks every way out of it: the
// data timeout, the control connection going away, and the server
// shutting down (start's cleanup waits for Serve); a client reading on
// gets every byte.
func TestStalledDownload(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	big := make([]byte, 48<<20)
	_, _ = rand.Read(big)
	env.WriteFile(t, "alice", "big.bin", big)
	addr := start(t, env, Options{TLSMode: TLSOff, DataTimeout: time.Second})
	// The second server's data timeout is far away: only the abort can
	// end its stalled transfers.
	slow := start(t, env, Options{TLSMode: TLSOff, DataTimeout: time.Hour})

	t.Run("data timeout", func(t *testing.T) {
		r := stalled(t, addr)
		// Nothing more is read: the socket buffers fill, and after the
		// data timeout the transfer fails while the session lives on.
		rep := r.read()
		if rep.Code != 426 {
			t.Fatalf("stalled RETR = %d %q, want 426", rep.Code, rep.Text())
		}
		mustCode(t, r.cmd("NOOP"), 200, "NOOP after the timeout")
	})

	t.Run("ABOR", func(t *testing.T) {
		r := stalled(t, slow)
		r.send("ABOR")
		mustCode(t, r.read(), 426, "transfer reply after ABOR")
		mustCode(t, r.read(), 226, "ABOR reply")
		mustCode(t, r.cmd("NOOP"), 200, "NOOP after ABOR")
	})

	t.Run("kick", func(t *testing.T) {
		r := stalled(t, slow)
		defer r.close()
		// ferry kick: the transfer ends at once (not after the hour), and
		// its event says it did not complete: with the timeout and ABOR,
		// three.
		if n := env.Engine.KickUser("alice"); n == 0 {
			t.Fatal("no session kicked")
		}
		failed := func(ev ferry.Event) bool {
			return ev.Type == ferry.EventDownload && ev.Path == "/big.bin" && ev.Status != "ok"
		}
		if n := env.Events.Count(3, failed); n < 3 {
			t.Fatalf("%d failed download events, want 3 (timeout, ABOR, kick)", n)
		}
	})

	t.Run("reader keeps up", func(t *testing.T) {
		r := loggedIn(t, addr)
		dc, err := r.pasv()
		if err != nil {
			t.Fatal(err)
		}
		mustCode(t, r.cmd("RETR big.bin"), 150, "RETR")
		got, err := io.ReadAll(dc)
		dc.Close()
		if err != nil {
			t.Fatal(err)
		}
		mustCode(t, r.read(), 226, "RETR done")
		if !bytes.Equal(got, big) {
			t.Fatalf("got %d bytes, want the %d of big.bin", len(got), len(big))
		}
		// REST from the middle continues at the right offset.
		dc, _ = r.pasv()
		mustCode(t, r.cmd("REST 12345678"), 350, "REST")
		mustCode(t, r.cmd("RETR big.bin"), 150, "RETR")
		got, _ = io.ReadAll(dc)
		dc.Close()
		mustCode(t, r.read(), 226, "RETR done")
		if !bytes.Equal(got, big[12345678:]) {
			t.Fatalf("REST+RETR: got %d bytes, want the last %d", len(got), len(big)-12345678)
		}
	})

	t.Run("slots taken", func(t *testing.T) {
		// Every blocking slot busy: the download takes Go's own path.
		for range cap(sendSlots) {
			sendSlots <- struct{}{}
		}
		defer func() {
			for range cap(sendSlots) {
				<-sendSlots
			}
		}()
		r := loggedIn(t, addr)
		dc, err := r.pasv()
		if err != nil {
			t.Fatal(err)
		}
		mustCode(t, r.cmd("RETR big.bin"), 150, "RETR")
		got, _ := io.ReadAll(dc)
		dc.Close()
		mustCode(t, r.read(), 226, "RETR done")
		if !bytes.Equal(got, big) {
			t.Fatalf("got %d bytes, want the %d of big.bin", len(got), len(big))
		}
	})

	t.Run("server stops", func(t *testing.T) {
		opts := Options{Engine: env.Engine, Logger: ferrytest.Logger(t), Service: "ftp", TLSMode: TLSOff,
			DataTimeout: time.Hour, FailDelay: time.Millisecond}
		srv, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		ln := ferrytest.Listen(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		r := stalled(t, ln.Addr().String())
		// The transfer sleeps in the kernel with an hour's timeout;
		// Serve must still return once cancelled, and the control
		// connection sees the session end.
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		for {
			rep := r.read()
			if rep.Code == 0 || rep.Code == 421 || rep.Code == 426 {
				break
			}
		}
	})
}

// stalled logs in to addr, starts a RETR of big.bin and reads 1000 bytes
// of it, then stops reading: the server is left blocked sending. The data
// connection is closed at the test's end.
func stalled(t *testing.T, addr string) *raw {
	t.Helper()
	r := loggedIn(t, addr)
	dc, err := r.pasv()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	mustCode(t, r.cmd("RETR big.bin"), 150, "RETR")
	if _, err := io.ReadFull(dc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	return r
}
