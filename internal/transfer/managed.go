package transfer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/remote"
)

// ErrBusy is returned by Runner.Run when the transfer is already running
// (here, in another process or on another node).
var ErrBusy = errors.New("transfer is already running")

// RunStore keeps the history and the run leases (the store).
type RunStore interface {
	AddTransferRecord(ctx context.Context, r *ferry.TransferRecord) error
	// UpdateTransferRecord rewrites the outcome of row r.ID;
	// PendingTransferRecords returns a transfer's rows still
	// ferry.TransferRemoving, oldest first (moves cut short).
	UpdateTransferRecord(ctx context.Context, r *ferry.TransferRecord) error
	PendingTransferRecords(ctx context.Context, transfer string) ([]ferry.TransferRecord, error)
	AcquireTransfer(ctx context.Context, name, owner string, until time.Time) (bool, error)
	ReleaseTransfer(ctx context.Context, name, owner string) error
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	Store    RunStore
	Resolver *Resolver
	// Publish receives transfer_started, _succeeded and _failed events
	// (nil: none).
	Publish func(ferry.Event)
	// Owner names this process in run leases (host, pid…).
	Owner string
	// Lease is how long a run's lease lasts before it must be renewed
	// (default 1m; renewed every third of it while running).
	Lease time.Duration
	// Settle is how long a file first seen is watched for a change of
	// size or modification time before it is picked (default 1s).
	Settle time.Duration
	// Backoff is the first wait between retries of a file (default 1s).
	Backoff time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	// Homes returns a user's home folder on local storage, where an
	// on_upload transfer reads the uploaded files (nil: none).
	Homes func(ctx context.Context, user string) (string, error)
	// LocalPath returns the directory on local storage holding a user's
	// virtual path, through its virtual folders (core's
	// Engine.LocalPath). When set it wins over Homes, so uploads into a
	// mounted folder are delivered too.
	LocalPath func(ctx context.Context, user, vpath string) (string, error)
	// MountPoints returns the virtual paths where a user's virtual
	// folders are mounted (core's Engine.MountPoints). With LocalPath, an
	// on_upload transfer's catch-up pass enters the folders mounted below
	// its root even where the home has no directory at the mount point.
	MountPoints func(ctx context.Context, user string) ([]string, error)
}

// Runner runs managed transfers once each time it is asked: it lists the
// source, picks the stable files, copies them with the copy engine (temp
// name, resume, verify, retries), archives or deletes what succeeded and
// records every file in the history.
type Runner struct {
	o RunnerOptions
	// crashAfterRecord, a test hook, stops a move after its history row
	// is written and before its source is removed when it returns true.
	crashAfterRecord func(src string) bool
	// renameHook, a test hook, runs before each archive rename; an error
	// it returns is the rename's (EXDEV: a rename across file systems).
	renameHook func(from, to string) error
	mu         sync.Mutex
	seen       map[string]map[string]remote.Entry // transfer → source path → last look
	warned     map[int64]bool                     // history rows logged as not completable
}

// NewRunner returns a Runner.
func NewRunner(o RunnerOptions) *Runner {
	o.Lease = cmp.Or(o.Lease, time.Minute)
	o.Settle = cmp.Or(o.Settle, time.Second)
	o.Backoff = cmp.Or(o.Backoff, time.Second)
	o.Owner = cmp.Or(o.Owner, "ferry")
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Publish == nil {
		o.Publish = func(ferry.Event) {}
	}
	return &Runner{o: o, seen: map[string]map[string]remote.Entry{}}
}

// RunResult is what one run did.
type RunResult struct {
	Files   []Result // one per file copied or failed
	Pending int      // files left for a later run (still changing, too young)
	Skipped int      // files left because the destination has them (OnConflict skip)
}

// Failed counts the files that failed.
func (r RunResult) Failed() int {
	n := 0
	for _, f := range r.Files {
		if f.Err != nil {
			n++
		}
	}
	return n
}

// candidate is a source file and its directory relative to the source.
type candidate struct {
	loc remote.Location
	rel string // directory under the transfer's source, "" at its top
	e   remote.Entry
}

// Run runs t once. It fails with ErrBusy when t is already running
// anywhere, and with an error when the source cannot be listed; per-file
// failures are in the result (and the history).
func (r *Runner) Run(ctx context.Context, t *ferry.Transfer) (RunResult, error) {
	if err := r.acquire(ctx, t); err != nil {
		return RunResult{}, err
	}
	return r.run(ctx, t, nil)
}

// Deliver copies the named files of an on_upload transfer (virtual paths
// of its user's uploads) at once: they were complete when their upload
// committed, so no stability wait. A file gone meanwhile (moved by an
// earlier run) is left out. It fails with ErrBusy like Run.
func (r *Runner) Deliver(ctx context.Context, t *ferry.Transfer, files []string) (RunResult, error) {
	if t.OnUpload == "" {
		return RunResult{}, fmt.Errorf("transfer %q: not an on_upload transfer", t.Name)
	}
	if err := r.acquire(ctx, t); err != nil {
		return RunResult{}, err
	}
	if files == nil {
		files = []string{}
	}
	return r.run(ctx, t, files)
}

// Start takes t's lease and runs it in the background until it ends or
// ctx does; done, when set, gets the outcome. It fails at once with
// ErrBusy when t is already running anywhere.
func (r *Runner) Start(ctx context.Context, t *ferry.Transfer, done func(RunResult, error)) error {
	if err := r.acquire(ctx, t); err != nil {
		return err
	}
	go func() {
		res, err := r.run(ctx, t, nil)
		if done != nil {
			done(res, err)
		}
	}()
	return nil
}

func (r *Runner) acquire(ctx context.Context, t *ferry.Transfer) error {
	ok, err := r.o.Store.AcquireTransfer(ctx, t.Name, r.o.Owner, r.o.Now().Add(r.o.Lease))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("transfer %q: %w", t.Name, ErrBusy)
	}
	return nil
}

// run runs t, whose lease is held, and releases the lease: files nil lists
// the source and picks the stable files, else it copies those files (an
// on_upload delivery).
func (r *Runner) run(ctx context.Context, t *ferry.Transfer, files []string) (RunResult, error) {
	var res RunResult
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		if err := r.o.Store.ReleaseTransfer(context.WithoutCancel(ctx), t.Name, r.o.Owner); err != nil {
			r.o.Logger.Warn("release transfer lease", "transfer", t.Name, "err", err)
		}
	}()
	go r.renew(ctx, cancel, t.Name)

	src, err := r.source(ctx, t)
	if err != nil {
		return res, fmt.Errorf("transfer %q: source: %w", t.Name, err)
	}
	dst, err := r.o.Resolver.Parse(ctx, t.Dest)
	if err != nil {
		return res, fmt.Errorf("transfer %q: destination: %w", t.Name, err)
	}
	opts := Options{
		Verify: t.Verify, Retries: t.Retries, Backoff: r.o.Backoff,
		Conflict: t.OnConflict, Now: r.o.Now, Logger: r.o.Logger.With("transfer", t.Name),
	}
	r.o.Resolver.Hook(&opts)
	if t.RateLimit > 0 {
		// One limiter for the whole run, however many files at once.
		opts.Limiter = rate.NewLimiter(rate.Limit(t.RateLimit), int(max(t.RateLimit/10, 32<<10)))
	}
	cp := New(opts)
	defer cp.Close()
	sfs, err := cp.Source(ctx, src)
	if err != nil {
		return res, fmt.Errorf("transfer %q: %s: %w", t.Name, src, err)
	}
	r.finishMoves(ctx, t, cp, src)
	var stable []candidate
	if files != nil {
		stable = r.named(ctx, t, sfs, files)
	} else {
		var cands []candidate
		if err := r.list(ctx, t, sfs, src, "", r.mountsBelow(ctx, t), &cands); err != nil {
			return res, fmt.Errorf("transfer %q: %w", t.Name, err)
		}
		stable, res.Pending = r.stable(ctx, t, sfs, cands)
	}
	// Parallel workers, each with its own connections; results keep the
	// listing's order.
	n := min(max(t.Parallel, 1), max(len(stable), 1))
	out := make([]*Result, len(stable))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range n {
		c := cp
		if w > 0 {
			c = New(opts)
			defer c.Close()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					continue
				}
				fr := r.one(ctx, t, c, stable[i], dst)
				out[i] = &fr
			}
		}()
	}
	for i := range stable {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, fr := range out {
		switch {
		case fr == nil:
		case fr.Skipped:
			res.Skipped++
		default:
			res.Files = append(res.Files, *fr)
		}
	}
	return res, ctx.Err()
}

// renew keeps the lease while the run lasts; losing it cancels the run.
func (r *Runner) renew(ctx context.Context, cancel context.CancelFunc, name string) {
	tk := time.NewTicker(r.o.Lease / 3)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			ok, err := r.o.Store.AcquireTransfer(ctx, name, r.o.Owner, r.o.Now().Add(r.o.Lease))
			if err == nil && !ok {
				r.o.Logger.Error("transfer lease lost; stopping the run", "transfer", name)
				cancel()
				return
			}
		}
	}
}

// list collects the files under dir that the transfer's pattern selects.
// mounts are the virtual folders mounted below an on_upload transfer's
// root (see mountsBelow): entered like directories of the home, and a
// directory missing in the home on the way to one is no error.
func (r *Runner) list(ctx context.Context, t *ferry.Transfer, f remote.FS, dir remote.Location, rel string, mounts []string, out *[]candidate) error {
	es, err := f.List(ctx, dir.Path)
	if err != nil && (!errors.Is(err, fs.ErrNotExist) || !leadsToMount(mounts, rel)) {
		return fmt.Errorf("%s: %w", dir, err)
	}
	es = withMounts(es, mounts, rel)
	for _, e := range es {
		if strings.HasSuffix(e.Name, DefaultTempSuffix) || strings.HasPrefix(e.Name, ".") || excluded(t, rel, e.Name) {
			continue
		}
		if e.Dir {
			sub := path.Join(rel, e.Name)
			if (t.Recursive || t.OnUpload != "") && (t.ArchiveTo == "" || sub != path.Clean(t.ArchiveTo)) && (t.FailedTo == "" || sub != path.Clean(t.FailedTo)) {
				if err := r.list(ctx, t, f, r.subdir(ctx, t, dir, rel, e.Name), sub, mounts, out); err != nil {
					return err
				}
			}
			continue
		}
		if t.Pattern != "" {
			if ok, _ := path.Match(t.Pattern, e.Name); !ok {
				continue
			}
		}
		if user, _, _ := t.UploadTrigger(); t.OnUpload != "" && !t.MatchUpload(user, path.Join(t.UploadRoot(), rel, e.Name)) {
			continue
		}
		*out = append(*out, candidate{loc: dir.Join(e.Name), rel: rel, e: e})
	}
	return nil
}

// excluded reports whether one of t's exclude globs matches a name or its
// path under the source.
func excluded(t *ferry.Transfer, rel, name string) bool {
	for _, g := range t.Exclude {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
		if ok, _ := path.Match(g, path.Join(rel, name)); ok {
			return true
		}
	}
	return false
}

// stable returns the candidates that are not being written: old enough
// (MinAge, when the server gives times) and with the same size and time
// as at the last look — the previous run's, or one Settle ago.
func (r *Runner) stable(ctx context.Context, t *ferry.Transfer, f remote.FS, cands []candidate) ([]candidate, int) {
	r.mu.Lock()
	prev := r.seen[t.Name]
	now := map[string]remote.Entry{}
	for _, c := range cands {
		now[c.loc.Path] = c.e
	}
	r.seen[t.Name] = now
	r.mu.Unlock()
	same := func(a, b remote.Entry) bool { return a.Size == b.Size && a.ModTime.Equal(b.ModTime) }
	var out, unsure []candidate
	pending := 0
	for _, c := range cands {
		switch {
		case t.MinAge > 0 && !c.e.ModTime.IsZero() && r.o.Now().Sub(c.e.ModTime) < t.MinAge:
			pending++
		case prev != nil && same(prev[c.loc.Path], c.e):
			out = append(out, c)
		default:
			unsure = append(unsure, c)
		}
	}
	if len(unsure) == 0 {
		return out, pending
	}
	select {
	case <-ctx.Done():
		return out, pending + len(unsure)
	case <-time.After(r.o.Settle):
	}
	for _, c := range unsure {
		e, err := f.Stat(ctx, c.loc.Path)
		if err != nil || !same(e, c.e) {
			pending++
			continue
		}
		out = append(out, c)
	}
	return out, pending
}

// one copies one file, archives its source on success, and records and
// publishes the outcome.
func (r *Runner) one(ctx context.Context, t *ferry.Transfer, cp *Copier, c candidate, dst remote.Location) Result {
	d := dst
	if c.rel != "" {
		d = dst.Join(c.rel)
	}
	d.Dir = true
	start := r.o.Now()
	ev := ferry.Event{Type: ferry.EventTransferStarted, Time: start, Path: c.loc.String(), Target: d.Join(c.e.Name).String(),
		Size: c.e.Size, Detail: t.Name}
	r.o.Publish(ev)
	var res Result
	results, err := cp.Copy(ctx, []remote.Location{c.loc}, d)
	// A side that cannot be reached at all fails Copy before its own
	// retries start: retry it here, with the same backoff.
	tries, wait := 1, r.o.Backoff
	for ; err != nil && tries <= t.Retries && remote.Transient(err) && !errors.As(err, new(UsageError)) && ctx.Err() == nil; tries++ {
		r.o.Logger.Info("transfer: retrying a location that cannot be reached", "transfer", t.Name, "file", c.loc.String(),
			"attempt", tries+1, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
		results, err = cp.Copy(ctx, []remote.Location{c.loc}, d)
	}
	if err == nil && tries > 1 && len(results) == 1 {
		results[0].Attempts += tries - 1
	}
	switch {
	case err != nil:
		res = Result{Src: c.loc.String(), Dst: d.String(), Err: err, Attempts: tries}
	case len(results) != 1:
		res = Result{Src: c.loc.String(), Dst: d.String(), Err: fmt.Errorf("%s: %d results for one file", c.loc, len(results))}
	default:
		res = results[0]
	}
	if res.Skipped {
		r.o.Logger.Debug("transfer file skipped: the destination has it", "transfer", t.Name, "file", res.Src, "dest", res.Dst)
		return res
	}
	var moved *ferry.TransferRecord // the row written before the source went
	if res.Err == nil && moves(t) {
		var crashed bool
		if moved, crashed = r.move(ctx, t, cp, c, &res, start); crashed {
			return res
		}
	}
	if res.Err != nil && ctx.Err() != nil {
		res.Err = fmt.Errorf("%s: interrupted (paused or stopping); the next run resumes it: %w", c.loc, res.Err)
	} else if res.Err != nil && t.FailedTo != "" && !errors.Is(res.Err, fs.ErrNotExist) {
		if err := r.archive(ctx, t, cp, c, t.FailedTo); err != nil {
			res.Err = fmt.Errorf("%w; moving it to the failed folder failed too: %w", res.Err, err)
		} else {
			res.Err = fmt.Errorf("%w (moved to the failed folder %s)", res.Err, t.FailedTo)
		}
	}
	if res.Failover != "" {
		ev.Target = res.Dst
		r.o.Logger.Warn("transfer file went through a failover location", "transfer", t.Name, "file", res.Src,
			"dest", res.Dst, "failover", res.Failover)
	}
	rec := record(t, res, start)
	ev.Type, ev.Time, ev.Size, ev.Duration, ev.Status, ev.SHA256 = ferry.EventTransferSucceeded, r.o.Now(), res.Size, res.Elapsed, "ok", rec.SHA256
	if res.Err != nil {
		rec.Status, rec.Error = ferry.TransferFailed, res.Err.Error()
		ev.Type, ev.Status = ferry.EventTransferFailed, res.Err.Error()
		r.o.Logger.Warn("transfer file failed", "transfer", t.Name, "file", res.Src, "err", res.Err)
	} else {
		r.o.Logger.Info("transfer file done", "transfer", t.Name, "file", res.Src, "dest", res.Dst, "bytes", res.Size)
	}
	if moved != nil {
		rec.ID = moved.ID
		if err := r.o.Store.UpdateTransferRecord(context.WithoutCancel(ctx), rec); err != nil {
			r.o.Logger.Error("transfer history not updated; the next run completes it", "transfer", t.Name, "file", res.Src, "err", err)
		}
	} else if err := r.o.Store.AddTransferRecord(context.WithoutCancel(ctx), rec); err != nil {
		r.o.Logger.Error("transfer history not recorded", "transfer", t.Name, "file", res.Src, "err", err)
	}
	r.o.Publish(ev)
	return res
}

// record is the history row of a file's outcome.
func record(t *ferry.Transfer, res Result, start time.Time) *ferry.TransferRecord {
	attempts := res.Attempts
	if res.ResumedEarlier {
		attempts++ // the interrupted copy whose partial file this one resumed
	}
	rec := &ferry.TransferRecord{Transfer: t.Name, Source: res.Src, Dest: res.Dst, Status: ferry.TransferOK,
		Bytes: res.Size, Attempts: attempts, Started: start, Duration: res.Elapsed, SHA256: strings.TrimPrefix(res.Hash, "sha256:")}
	if res.Err != nil {
		rec.Status, rec.Error = ferry.TransferFailed, res.Err.Error()
	}
	return rec
}

// archive moves a source file into dir (the archive or the failed
// folder).
func (r *Runner) archive(ctx context.Context, t *ferry.Transfer, cp *Copier, c candidate, dir string) error {
	f, err := cp.Source(ctx, c.loc)
	if err != nil {
		return fmt.Errorf("%s: moving it to %s: %w", c.loc, dir, err)
	}
	switch {
	case t.OnUpload != "" && !path.IsAbs(dir):
		// where the user sees root/dir/rel, through its virtual folders
		l, err := r.uploadPath(ctx, t, path.Join(t.UploadRoot(), dir, c.rel))
		if err != nil {
			return fmt.Errorf("%s: moving it to %s: %w", c.loc, dir, err)
		}
		dir = l.Path
	case !path.IsAbs(dir):
		top := c.loc.Path
		for range strings.Count(path.Join(c.rel, c.e.Name), "/") + 1 {
			top = path.Dir(top)
		}
		dir = path.Join(top, dir, c.rel)
	default:
		dir = path.Join(dir, c.rel)
	}
	if err := remote.MkdirAll(ctx, f, dir); err != nil {
		return fmt.Errorf("%s: moving it to %s: %w", c.loc, dir, err)
	}
	if err := r.moveInto(ctx, f, c.loc.Scheme == "file", c.loc.Path, path.Join(dir, c.e.Name)); err != nil {
		return fmt.Errorf("%s: moving it to %s: %w", c.loc, dir, err)
	}
	return nil
}

// source is where t reads: its Source, or for an on_upload transfer the
// folder of its user's tree that the trigger's glob starts from.
func (r *Runner) source(ctx context.Context, t *ferry.Transfer) (remote.Location, error) {
	if t.OnUpload == "" {
		return r.o.Resolver.Parse(ctx, t.Source)
	}
	l, err := r.uploadPath(ctx, t, t.UploadRoot())
	if err != nil {
		return remote.Location{}, err
	}
	l.Dir = true
	return l, nil
}

// named returns the candidates of an on_upload delivery: the uploaded
// files that still exist and still match the trigger.
func (r *Runner) named(ctx context.Context, t *ferry.Transfer, f remote.FS, files []string) []candidate {
	user, _, _ := t.UploadTrigger()
	root := t.UploadRoot()
	var out []candidate
	for _, vp := range files {
		rel, ok := strings.CutPrefix(path.Clean(vp), strings.TrimSuffix(root, "/")+"/")
		if !ok || !t.MatchUpload(user, vp) || strings.HasPrefix(path.Base(vp), ".") || excluded(t, path.Dir(rel), path.Base(rel)) {
			continue
		}
		l, err := r.uploadPath(ctx, t, path.Clean(vp)) // in a virtual folder, maybe
		if err != nil {
			r.o.Logger.Warn("uploaded file not delivered: its path does not resolve", "transfer", t.Name, "file", vp, "err", err)
			continue
		}
		e, err := f.Stat(ctx, l.Path)
		if err != nil || e.Dir {
			r.o.Logger.Info("uploaded file not delivered: gone (delivered by an earlier run?) or not a file in the user's home",
				"transfer", t.Name, "file", vp, "path", l.Path, "err", err)
			continue
		}
		dir := path.Dir(rel)
		if dir == "." {
			dir = ""
		}
		out = append(out, candidate{loc: l, rel: dir, e: e})
	}
	return out
}
