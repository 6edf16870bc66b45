package httpd

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// BenchmarkSmallGET measures one keep-alive GET of a 64 KiB file through
// each face (client costs included: compare runs, not absolute numbers).
func BenchmarkSmallGET(b *testing.B) {
	env := ferrytest.NewEngineWith(b, func(o *core.Options) { o.Logger = slog.New(slog.DiscardHandler) },
		ferrytest.User("alice", "pw"))
	env.WriteFile(b, "alice", "small.bin", make([]byte, 64<<10))
	srv, err := New(Options{Engine: env.Engine, Service: "bench", DAV: true, API: true, Web: true})
	if err != nil {
		b.Fatal(err)
	}
	ln := ferrytest.Listen(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	b.Cleanup(func() { cancel(); <-done })
	base := "http://" + ln.Addr().String()
	for _, path := range []string{"/dav/small.bin", "/api/v1/fs/small.bin"} {
		b.Run(path, func(b *testing.B) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			req.SetBasicAuth("alice", "pw")
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n != 64<<10 {
					b.Fatalf("GET %s: %s, %d bytes", path, resp.Status, n)
				}
			}
		})
	}
}
