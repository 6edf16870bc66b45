package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrymft/ferry/internal/adminapi"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/secret"
	"github.com/ferrymft/ferry/internal/store"
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
		Homes:    a.eng.Home, // a user's own home or its group's home template
		// on_upload transfers read uploads where the user's tree has them,
		// virtual folders included
		LocalPath:   a.eng.LocalPath,
		MountPoints: a.eng.MountPoints,
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
	// Completed uploads trigger on_upload transfers.
	unsub := a.bus.Subscribe(context.WithoutCancel(ctx), "transfers", 4096, func(_ context.Context, ev ferry.Event) { s.Notify(ev) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	return func() {
		unsub()
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

// adminLocations gives the admin API the stored locations, sealing the
// secrets it receives with the data directory's key.
type adminLocations struct{ a *App }

func (l adminLocations) GetLocation(ctx context.Context, name string) (*ferry.Location, error) {
	return l.a.store.GetLocation(ctx, name)
}
func (l adminLocations) ListLocations(ctx context.Context, o ferry.ListOptions) ([]*ferry.Location, error) {
	return l.a.store.ListLocations(ctx, o)
}
func (l adminLocations) CreateLocation(ctx context.Context, v *ferry.Location) error {
	return l.a.store.CreateLocation(ctx, v)
}
func (l adminLocations) UpdateLocation(ctx context.Context, v *ferry.Location) error {
	return l.a.store.UpdateLocation(ctx, v)
}
func (l adminLocations) DeleteLocation(ctx context.Context, name string) error {
	return l.a.store.DeleteLocation(ctx, name)
}

func (l adminLocations) SealSecret(location, field, plain string) (string, error) {
	box, err := l.a.Secrets(true)
	if err != nil {
		return "", err
	}
	return box.Seal(plain, transfer.SecretAD(location, field)), nil
}

func (l adminLocations) CheckLocation(v *ferry.Location) error {
	u, err := remote.Parse(v.URL)
	if err != nil {
		return fmt.Errorf("%w: %w", ferry.ErrInvalid, err)
	}
	if u.HasPass {
		return fmt.Errorf("%w: the url must not hold a password", ferry.ErrInvalid)
	}
	return CheckFailover(context.Background(), l.a.store, v)
}

// CheckFailover checks that a location's failover names another stored
// location. Errors wrap ferry.ErrInvalid.
func CheckFailover(ctx context.Context, locs transfer.LocationSource, v *ferry.Location) error {
	if v.Failover == "" {
		return nil
	}
	if v.Failover == v.Name {
		return fmt.Errorf("%w: location %q: failover: a location cannot be its own backup", ferry.ErrInvalid, v.Name)
	}
	if _, err := locs.GetLocation(ctx, v.Failover); err != nil {
		return fmt.Errorf("%w: location %q: failover %q: %w", ferry.ErrInvalid, v.Name, v.Failover, err)
	}
	return nil
}

// adminTransfers gives the admin API the stored transfers and their
// history, and starts runs in this process.
type adminTransfers struct{ a *App }

func (t adminTransfers) GetTransfer(ctx context.Context, name string) (*ferry.Transfer, error) {
	return t.a.store.GetTransfer(ctx, name)
}
func (t adminTransfers) ListTransfers(ctx context.Context, o ferry.ListOptions) ([]*ferry.Transfer, error) {
	return t.a.store.ListTransfers(ctx, o)
}
func (t adminTransfers) CreateTransfer(ctx context.Context, v *ferry.Transfer) error {
	return t.a.store.CreateTransfer(ctx, v)
}
func (t adminTransfers) UpdateTransfer(ctx context.Context, v *ferry.Transfer) error {
	return t.a.store.UpdateTransfer(ctx, v)
}
func (t adminTransfers) DeleteTransfer(ctx context.Context, name string) error {
	return t.a.store.DeleteTransfer(ctx, name)
}

func (t adminTransfers) CheckTransfer(ctx context.Context, v *ferry.Transfer) error {
	return CheckTransfer(ctx, t.a.store, v)
}

func (t adminTransfers) TransferHistory(ctx context.Context, q adminapi.HistoryQuery) ([]ferry.TransferRecord, error) {
	return t.a.store.TransferHistory(ctx, store.HistoryFilter{Transfer: q.Transfer, Status: q.Status, Limit: q.Limit})
}

// RunTransfer starts a run with a runner of its own lease owner, so it
// excludes the scheduler's runs (and other nodes') through the lease. The
// run outlives the request; it ends with the process.
func (t adminTransfers) RunTransfer(ctx context.Context, name string) error {
	v, err := t.a.store.GetTransfer(ctx, name)
	if err != nil {
		return err
	}
	err = t.a.NewTransferRunner().Start(context.WithoutCancel(ctx), v, func(res transfer.RunResult, err error) {
		if err != nil {
			t.a.log.Warn("transfer run (admin API)", "transfer", name, "err", err)
			return
		}
		t.a.log.Info("transfer run (admin API)", "transfer", name, "files", len(res.Files), "failed", res.Failed())
	})
	if errors.Is(err, transfer.ErrBusy) {
		return fmt.Errorf("%w: %w", adminapi.ErrBusy, err)
	}
	return err
}

// CheckTransfer checks a transfer definition against what the domain
// cannot see: its cron syntax and the locations it names. Errors wrap
// ferry.ErrInvalid.
func CheckTransfer(ctx context.Context, locs transfer.LocationSource, v *ferry.Transfer) error {
	if v.Cron != "" {
		if _, err := transfer.ParseCron(v.Cron); err != nil {
			return fmt.Errorf("%w: transfer %q: cron: %w", ferry.ErrInvalid, v.Name, err)
		}
	}
	if v.OnUpload == "" {
		if err := transfer.CheckSpec(ctx, locs, "source", v.Source); err != nil {
			return fmt.Errorf("transfer %q: %w", v.Name, err)
		}
	}
	if err := transfer.CheckSpec(ctx, locs, "dest", v.Dest); err != nil {
		return fmt.Errorf("transfer %q: %w", v.Name, err)
	}
	return nil
}
