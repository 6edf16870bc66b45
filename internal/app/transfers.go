package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/secret"
	"github.com/ferrymft/ferry/internal/transfer"
)

// Secrets returns the box that seals location credentials: the key from
// FERRY_SECRET_KEY, else <data-dir>/secret.key (created 0600 when create
// is true and it is missing).
func (a *App) Secrets(create bool) (*secret.Box, error) {
	return secret.Load(a.cfg.DataDir, os.Getenv(secret.EnvKey), create)
}

// KnownHosts is the known_hosts file SSH host keys of locations without a
// pinned key are learnt into (trust on first use, then enforced).
func (a *App) KnownHosts() string { return filepath.Join(a.cfg.DataDir, "known_hosts") }

// Resolver resolves "location:NAME/path" references against the store.
// box may be nil when no location has secrets (it is then loaded lazily).
func (a *App) Resolver(box *secret.Box) *transfer.Resolver {
	r := &transfer.Resolver{Locations: a.store, Base: a.remoteOptions()}
	if box != nil {
		r.Secrets = box
	} else {
		r.Secrets = lazyBox{a}
	}
	return r
}

// lazyBox loads the secret key when a secret is first opened, so resolving
// a location without credentials needs no key.
type lazyBox struct{ a *App }

func (l lazyBox) Open(sealed, ad string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	b, err := l.a.Secrets(false)
	if err != nil {
		return "", err
	}
	return b.Open(sealed, ad)
}

// NewTransferRunner returns a runner of managed transfers (for `ferry
// transfer run`) whose events go to the bus. Its lease owner is unique to
// this process.
func (a *App) NewTransferRunner() *transfer.Runner {
	host, _ := os.Hostname()
	return a.transferRunner(fmt.Sprintf("%s:%d:%s", host, os.Getpid(), rand.Text()[:8]))
}

func (a *App) transferRunner(owner string) *transfer.Runner {
	return transfer.NewRunner(transfer.RunnerOptions{
		Store:    a.store,
		Resolver: a.Resolver(nil),
		Publish:  a.bus.Publish,
		Owner:    owner,
		Logger:   a.log.With("component", "transfers"),
	})
}

// startTransfers runs the transfer scheduler until the returned function
// is called; it re-reads the definitions when the store's change counter
// moves and waits for runs in progress when stopped.
func (a *App) startTransfers(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	s := transfer.NewScheduler(transfer.SchedulerOptions{
		Transfers: a.store,
		Changes:   a.store.Changes,
		// The server's owner name survives a restart, so a run cut short
		// by a crash does not block the next one until its lease expires.
		Runner: a.transferRunner(serverOwner(a.cfg.DataDir)),
		Tick:   time.Second,
		Logger: a.log.With("component", "transfers"),
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// remoteOptions are the dial defaults of locations.
func (a *App) remoteOptions() remote.Options {
	log := a.log.With("component", "transfers")
	return remote.Options{
		KnownHosts: a.KnownHosts(),
		Timeout:    30 * time.Second,
		Logger:     log,
		OnNewHostKey: func(host, fp string) {
			log.Info("learnt a location's SSH host key (trusted on first use)", "host", host, "fingerprint", fp)
		},
	}
}

// serverOwner names the server of a data directory in transfer leases.
func serverOwner(dataDir string) string {
	host, _ := os.Hostname()
	abs, _ := filepath.Abs(dataDir)
	return host + ":serve:" + abs
}
