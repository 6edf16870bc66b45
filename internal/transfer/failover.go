package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/remote"
)

// FailoverCooldown is how long a location whose dial failed is skipped in
// favour of its backup before it is tried again.
const FailoverCooldown = time.Minute

// FailoverAfter is how many file attempts in a row that fail with a
// transient error on a location's side (a connection reset, a timeout)
// make the next connection to it go to its backup, as a failed dial does.
const FailoverAfter = 3

// Transient records a file attempt that failed with a transient error on
// l's side; after FailoverAfter in a row, l is skipped in favour of its
// backup for FailoverCooldown (Copier's Options.OnTransient). It reports
// whether this failure made l fail over, so the file gets an attempt on
// the backup even when its retries are used up.
func (r *Resolver) Transient(l remote.Location) bool {
	if l.Name == "" {
		return false
	}
	r.mu.Lock()
	if r.fails == nil {
		r.fails = map[string]int{}
	}
	r.fails[l.Name]++
	n := r.fails[l.Name]
	failover := r.cache[l.Name].failover
	if n >= FailoverAfter {
		delete(r.fails, l.Name)
	}
	r.mu.Unlock()
	if n >= FailoverAfter && failover != "" {
		if r.Base.Logger != nil {
			r.Base.Logger.Warn("location keeps failing; using its failover", "location", l.Name, "failover", failover, "failures", n)
		}
		r.markDown(l.Name, true)
		return true
	}
	return false
}

// Hook makes o's copies go through r: stored locations are dialled with
// their credentials (failing over when one cannot be reached or refuses
// the login), and repeated transient errors on a location's side move the
// next attempts to its backup. Managed transfers and ferry copy use it.
func (r *Resolver) Hook(o *Options) {
	o.Dial, o.OnTransient, o.OnSuccess = r.Dial, r.Transient, r.Succeeded
}

// Succeeded records a file copied between src and dst: their failure
// counts start again (Copier's Options.OnSuccess).
func (r *Resolver) Succeeded(src, dst remote.Location) {
	r.mu.Lock()
	delete(r.fails, src.Name)
	delete(r.fails, dst.Name)
	r.mu.Unlock()
}

// dialFailover is called when dialling the primary location name failed
// with perr: it dials the primary's backup, when it has one, and returns a
// connection that maps the primary's paths onto the backup's.
func (r *Resolver) dialFailover(ctx context.Context, l remote.Location, primary resolved, perr error) (remote.FS, error) {
	if primary.failover == "" || errors.Is(perr, remote.ErrHostKey) || ctx.Err() != nil {
		// A host key mismatch is an alarm, not an outage: never hide it.
		return nil, perr
	}
	backup, err := r.lookup(ctx, primary.failover)
	if err != nil {
		return nil, fmt.Errorf("%w; failover %q: %w", perr, primary.failover, err)
	}
	bl := backup.base
	bl.Path = mapPath(l.Path, primary.base.Path, backup.base.Path)
	f, err := r.dial()(ctx, bl, backup.opts)
	if err != nil {
		return nil, fmt.Errorf("%w; failover location %q: %w", perr, primary.failover, err)
	}
	if r.Base.Logger != nil {
		r.Base.Logger.Warn("location unreachable; using its failover", "location", l.Name,
			"failover", primary.failover, "err", perr)
	}
	return &failoverFS{FS: f, name: primary.failover, from: primary.base.Path, to: backup.base, primary: l.Name, why: perr}, nil
}

// markDown remembers that a location's dial failed, so the next dials
// go straight to its backup for FailoverCooldown.
func (r *Resolver) markDown(name string, down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !down {
		delete(r.down, name)
		return
	}
	if r.down == nil {
		r.down = map[string]time.Time{}
	}
	r.down[name] = time.Now().Add(FailoverCooldown)
}

func (r *Resolver) isDown(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Now().Before(r.down[name])
}

// mapPath maps p, under the primary's root from, to the same place under
// to.
func mapPath(p, from, to string) string {
	rel, ok := strings.CutPrefix(p, from)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/") && !strings.HasSuffix(from, "/")) {
		return p // not under the primary's root: an absolute path the user gave
	}
	return path.Join(to, rel)
}

// failoverFS is a connection to a backup location standing in for its
// primary: every path under the primary's root is rewritten to the
// backup's.
type failoverFS struct {
	remote.FS
	primary, name string          // the primary's and the backup's location names
	from          string          // the primary's root path
	to            remote.Location // the backup's root
	why           error           // the primary's failure
}

// Failover names the backup location serving in place of the primary.
func (f *failoverFS) Failover() string { return f.name }

// Served is where p really is: the backup's URL of it.
func (f *failoverFS) Served(p string) string {
	l := f.to
	l.Path = mapPath(p, f.from, f.to.Path)
	return l.Join().String()
}

func (f *failoverFS) p(p string) string { return mapPath(p, f.from, f.to.Path) }

func (f *failoverFS) Stat(ctx context.Context, p string) (remote.Entry, error) {
	return f.FS.Stat(ctx, f.p(p))
}
func (f *failoverFS) List(ctx context.Context, dir string) ([]remote.Entry, error) {
	return f.FS.List(ctx, f.p(dir))
}
func (f *failoverFS) Open(ctx context.Context, p string, off int64) (io.ReadCloser, error) {
	return f.FS.Open(ctx, f.p(p), off)
}
func (f *failoverFS) Create(ctx context.Context, p string, off int64) (remote.Writer, error) {
	return f.FS.Create(ctx, f.p(p), off)
}
func (f *failoverFS) Rename(ctx context.Context, from, to string) error {
	return f.FS.Rename(ctx, f.p(from), f.p(to))
}
func (f *failoverFS) Remove(ctx context.Context, p string) error { return f.FS.Remove(ctx, f.p(p)) }
func (f *failoverFS) Rmdir(ctx context.Context, p string) error  { return f.FS.Rmdir(ctx, f.p(p)) }
func (f *failoverFS) Mkdir(ctx context.Context, p string) error  { return f.FS.Mkdir(ctx, f.p(p)) }

// Hash passes through to the backup when its server hashes.
func (f *failoverFS) Hash(ctx context.Context, p, algo string) ([]byte, error) {
	h, ok := f.FS.(remote.Hasher)
	if !ok {
		return nil, fmt.Errorf("failover location %q: hash: %w", f.name, errors.ErrUnsupported)
	}
	return h.Hash(ctx, f.p(p), algo)
}

// servedBy is a connection that may stand in for another location.
type servedBy interface {
	Failover() string
	Served(p string) string
}

// served returns where p on f really is, and the failover location that
// holds it ("" when f is the location itself).
func served(f remote.FS, l remote.Location) (display, failover string) {
	if s, ok := f.(servedBy); ok {
		return s.Served(l.Path), s.Failover()
	}
	return l.String(), ""
}

// FailoverOf names the backup location a connection from Resolver.Dial
// stands in for its primary with, and why the primary was not used (""
// and nil when it is the location itself).
func FailoverOf(f remote.FS) (string, error) {
	if s, ok := f.(*failoverFS); ok {
		return s.name, s.why
	}
	return "", nil
}

// backupOf returns where l, under a stored location, is on that
// location's failover: ok is false when l is not a stored location or
// has no failover.
func (r *Resolver) backupOf(ctx context.Context, l remote.Location) (b remote.Location, ok bool, err error) {
	if r == nil || l.Name == "" {
		return b, false, nil
	}
	primary, err := r.lookup(ctx, l.Name)
	if err != nil || primary.failover == "" {
		return b, false, err
	}
	backup, err := r.lookup(ctx, primary.failover)
	if err != nil {
		return b, false, fmt.Errorf("location %q: failover %q: %w", l.Name, primary.failover, err)
	}
	b = backup.base
	b.Path = mapPath(l.Path, primary.base.Path, backup.base.Path)
	return b.Join(), true, nil
}
