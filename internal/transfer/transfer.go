// Package transfer is Ferry's copy engine, the client side of a managed
// file transfer: it expands sources (globs, recursion), copies each file
// between any two remote.FS locations through a temporary name, resumes
// interrupted files from where they stopped, verifies by size and by hash
// where the servers offer one, renames into place on success, and retries
// transient failures on a fresh connection. The CLI (ferry copy) and, later,
// scheduled transfers use it. It imports remote, never a server package.
package transfer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/ferrymft/ferry/internal/remote"
)

// Verify modes.
const (
	VerifyAuto = "auto" // hash when both sides offer one and one is remote, else size
	VerifySize = "size"
	VerifyHash = "hash" // a missing hash capability fails the file
	VerifyNone = "none"
)

// Conflict modes: what happens when the destination file exists.
const (
	ConflictOverwrite = "overwrite" // replace it (after the verified copy)
	ConflictSkip      = "skip"      // leave it, copy nothing (Result.Skipped)
	ConflictRename    = "rename"    // keep it; the copy gets a timestamped name
)

// DefaultTempSuffix is appended to a file's name while it is being written.
const DefaultTempSuffix = ".ferry-part"

// Options control a copy.
type Options struct {
	// Dial connects to a location; connections are reused per location.
	Dial func(ctx context.Context, l remote.Location) (remote.FS, error)
	// Recursive copies directories.
	Recursive bool
	// Verify is one of the Verify* modes (default auto).
	Verify string
	// NoTemp writes the final name directly instead of a temporary name
	// renamed on success (for servers that forbid rename).
	NoTemp bool
	// TempSuffix overrides DefaultTempSuffix.
	TempSuffix string
	// NoResume restarts interrupted files from the beginning.
	NoResume bool
	// SkipExisting leaves a destination file that already has the
	// source's size.
	SkipExisting bool
	// RemoveSource deletes each source file after its verified copy (a
	// move).
	RemoveSource bool
	// Retries is how many times a file is retried after a transient
	// failure, on a new connection, resuming (default 0).
	Retries int
	// Backoff is the first wait between attempts, doubled each time
	// (default 1s).
	Backoff time.Duration
	// RateLimit caps the copy's bandwidth in bytes per second (0: none).
	RateLimit int64
	// Limiter, when set, is shared with other copiers (several files of
	// one transfer at once); it wins over RateLimit.
	Limiter *rate.Limiter
	// Conflict is what happens when the destination file exists: one of
	// the Conflict* modes (default overwrite).
	Conflict string
	// Now stamps renamed files (default time.Now).
	Now func() time.Time
	// Progress, when set, is told about each file.
	Progress Progress
	// OnTransient, when set, is told about each attempt of a file that
	// failed with a transient error on one side: l is that side's
	// location (a source or the destination). It returns true when l has
	// just failed over to its backup: the file then gets one more attempt
	// (on the backup) even when its Retries are used up. OnSuccess is told
	// about each file copied. Resolver.Hook sets both, so a location fails
	// over after repeated errors.
	OnTransient func(l remote.Location) (failedOver bool)
	OnSuccess   func(src, dst remote.Location)
	Logger      *slog.Logger
}

// Progress receives per-file progress. Calls come from one goroutine.
type Progress interface {
	Start(src string, size, offset int64)
	Add(n int64)
	Done(r Result)
}

// Result is the outcome of one file.
type Result struct {
	Src, Dst string // display forms (no passwords)
	Size     int64
	Resumed  int64 // bytes kept from an earlier attempt
	// ResumedEarlier: the first attempt resumed a partial file left by
	// an earlier, interrupted copy (another run, before a restart).
	ResumedEarlier bool
	Hash           string // "sha256:hex" when verified by hash
	Skipped        bool
	// Failover names the backup location(s) that served in place of the
	// source's or destination's ("" when none did); Src and Dst then show
	// the backup's URLs.
	Failover string
	Attempts int
	Elapsed  time.Duration
	Err      error
}

// UsageError is a problem with what was asked (not with a file).
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

// job is one file to copy.
type job struct {
	src, dst remote.Location
	size     int64
}

// Copier runs copies with a connection pool.
type Copier struct {
	o       Options
	conns   map[string]remote.FS
	limiter *rate.Limiter
}

// New returns a Copier.
func New(o Options) *Copier {
	o.Verify = cmp.Or(o.Verify, VerifyAuto)
	o.TempSuffix = cmp.Or(o.TempSuffix, DefaultTempSuffix)
	o.Backoff = cmp.Or(o.Backoff, time.Second)
	o.Conflict = cmp.Or(o.Conflict, ConflictOverwrite)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Dial == nil {
		o.Dial = func(ctx context.Context, l remote.Location) (remote.FS, error) {
			return remote.Dial(ctx, l, remote.Options{})
		}
	}
	c := &Copier{o: o, conns: map[string]remote.FS{}}
	c.limiter = o.Limiter
	if o.RateLimit > 0 && c.limiter == nil {
		c.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), int(max(o.RateLimit/10, 32<<10)))
	}
	return c
}

// Close closes every pooled connection.
func (c *Copier) Close() error {
	for k, f := range c.conns {
		f.Close()
		delete(c.conns, k)
	}
	return nil
}

// key names a pooled connection: sources and the destination never share
// one, so a copy within one FTP server has a control connection per side.
func key(l remote.Location, role string) string {
	if l.Scheme == "file" {
		return "file"
	}
	return role + " " + l.Name + " " + l.Scheme + "://" + l.User + "@" + l.Host
}

const (
	roleSrc = "src"
	roleDst = "dst"
)

// conn returns the pooled connection for a location, dialling it first.
func (c *Copier) conn(ctx context.Context, l remote.Location, role string) (remote.FS, error) {
	k := key(l, role)
	if f, ok := c.conns[k]; ok {
		return f, nil
	}
	f, err := c.o.Dial(ctx, l)
	if err != nil {
		return nil, err
	}
	c.conns[k] = f
	return f, nil
}

// drop forgets (and closes) a location's connection after a failure.
func (c *Copier) drop(l remote.Location, role string) {
	k := key(l, role)
	if f, ok := c.conns[k]; ok {
		f.Close()
		delete(c.conns, k)
	}
}

// Copy copies every source to dst and returns one Result per file. The
// error is a UsageError for requests that cannot mean anything (several
// sources to one file…) or a failure to reach a location; per-file
// failures are in the results.
func (c *Copier) Copy(ctx context.Context, srcs []remote.Location, dst remote.Location) ([]Result, error) {
	if dst.Scheme == "http" || dst.Scheme == "https" {
		return nil, usagef("%s: plain HTTP(S) is a read-only source; use webdav:// or webdavs:// to upload", dst)
	}
	dfs, err := c.conn(ctx, dst, roleDst)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dst, err)
	}
	dstEntry, dstErr := dfs.Stat(ctx, dst.Path)
	dstIsDir := dstErr == nil && dstEntry.Dir
	if dstErr != nil && !errors.Is(dstErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dst, dstErr)
	}
	var (
		jobs    []job
		results []Result
	)
	multi := len(srcs) > 1
	for _, s := range srcs {
		items, err := c.expand(ctx, s)
		if err != nil {
			results = append(results, Result{Src: s.String(), Dst: dst.String(), Err: err})
			continue
		}
		if len(items) > 1 || hasMeta(path.Base(s.Path)) {
			multi = true
		}
		for _, it := range items {
			js, err := c.plan(ctx, it, s, dst, dstIsDir || dst.Dir || multi)
			if err != nil {
				results = append(results, Result{Src: it.loc.String(), Dst: dst.String(), Err: err})
				continue
			}
			jobs = append(jobs, js...)
		}
	}
	if multi && dstErr == nil && !dstIsDir {
		return nil, usagef("%s is a file; several sources need a directory", dst)
	}
	if (multi || dst.Dir) && !dstIsDir && len(jobs) > 0 {
		if err := remote.MkdirAll(ctx, dfs, dst.Path); err != nil {
			return nil, fmt.Errorf("%s: %w", dst, err)
		}
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			results = append(results, Result{Src: j.src.String(), Dst: j.dst.String(), Err: ctx.Err()})
			continue
		}
		results = append(results, c.copyWithRetries(ctx, j))
	}
	return results, nil
}

type item struct {
	loc   remote.Location
	entry remote.Entry
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// expand turns a source into files and directories: a glob in the last
// element is matched against its directory's listing.
func (c *Copier) expand(ctx context.Context, s remote.Location) ([]item, error) {
	f, err := c.conn(ctx, s, roleSrc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	base := path.Base(s.Path)
	if !hasMeta(base) {
		e, err := f.Stat(ctx, s.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		return []item{{loc: s, entry: e}}, nil
	}
	if _, err := path.Match(base, ""); err != nil {
		return nil, usagef("%s: bad pattern %q", s, base)
	}
	dir := s
	dir.Path = path.Dir(s.Path)
	if s.Scheme == "file" {
		dir.Path = parentLocal(s.Path)
	}
	es, err := f.List(ctx, dir.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var out []item
	for _, e := range es {
		if ok, _ := path.Match(base, e.Name); ok && !strings.HasSuffix(e.Name, c.o.TempSuffix) {
			out = append(out, item{loc: dir.Join(e.Name), entry: e})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no file matches: %w", s, fs.ErrNotExist)
	}
	return out, nil
}

// plan maps one source item to its file jobs.
func (c *Copier) plan(ctx context.Context, it item, given, dst remote.Location, intoDir bool) ([]job, error) {
	if !it.entry.Dir {
		d := dst
		if intoDir {
			d = dst.Join(it.entry.Name)
		}
		return []job{{src: it.loc, dst: d, size: it.entry.Size}}, nil
	}
	if !c.o.Recursive {
		return nil, fmt.Errorf("%s is a directory (use --recursive)", it.loc)
	}
	// "dir/" copies the contents; "dir" copies the directory itself when
	// the destination is a directory.
	d := dst
	if intoDir && !(given.Dir && it.loc.Path == given.Path) {
		d = dst.Join(it.entry.Name)
	}
	var jobs []job
	err := c.walk(ctx, it.loc, d, &jobs)
	return jobs, err
}

func (c *Copier) walk(ctx context.Context, src, dst remote.Location, jobs *[]job) error {
	f, err := c.conn(ctx, src, roleSrc)
	if err != nil {
		return err
	}
	es, err := f.List(ctx, src.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	dfs, err := c.conn(ctx, dst, roleDst)
	if err != nil {
		return err
	}
	if err := remote.MkdirAll(ctx, dfs, dst.Path); err != nil {
		return fmt.Errorf("%s: %w", dst, err)
	}
	for _, e := range es {
		if strings.HasSuffix(e.Name, c.o.TempSuffix) {
			continue
		}
		if e.Dir {
			if err := c.walk(ctx, src.Join(e.Name), dst.Join(e.Name), jobs); err != nil {
				return err
			}
			continue
		}
		*jobs = append(*jobs, job{src: src.Join(e.Name), dst: dst.Join(e.Name), size: e.Size})
	}
	return nil
}

func (c *Copier) copyWithRetries(ctx context.Context, j job) Result {
	start := time.Now()
	wait := c.o.Backoff
	var r Result
	earlier := false
	for attempt := 1; ; attempt++ {
		r = c.attempt(ctx, j, attempt)
		earlier = earlier || (attempt == 1 && r.Resumed > 0)
		r.Attempts, r.ResumedEarlier = attempt, earlier
		failedOver := c.health(j, r.Err)
		if r.Err == nil || attempt > c.o.Retries && !failedOver || !remote.Transient(r.Err) || ctx.Err() != nil {
			break
		}
		c.o.Logger.Info("retrying", "src", j.src.String(), "attempt", attempt+1, "error", r.Err)
		c.drop(j.src, roleSrc)
		c.drop(j.dst, roleDst)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
	r.Elapsed = time.Since(start)
	if c.o.Progress != nil {
		c.o.Progress.Done(r)
	}
	return r
}

// copyFile copies one file: resume from the temporary file, copy, verify,
// rename into place.
func (c *Copier) copyFile(ctx context.Context, j job) Result {
	r := Result{Src: j.src.String(), Dst: j.dst.String(), Size: j.size}
	fail := func(err error) Result {
		r.Err = err
		return r
	}
	sfs, err := c.conn(ctx, j.src, roleSrc)
	if err != nil {
		return fail(onSide(roleSrc, fmt.Errorf("%s: %w", j.src, err)))
	}
	dfs, err := c.conn(ctx, j.dst, roleDst)
	if err != nil {
		return fail(onSide(roleDst, fmt.Errorf("%s: %w", j.dst, err)))
	}
	var sfo, dfo string
	r.Src, sfo = served(sfs, j.src)
	r.Dst, dfo = served(dfs, j.dst)
	r.Failover = strings.Trim(sfo+","+dfo, ",")
	if se, err := sfs.Stat(ctx, j.src.Path); err == nil {
		j.size, r.Size = se.Size, se.Size
	} else {
		return fail(onSide(roleSrc, fmt.Errorf("%s: %w", j.src, err)))
	}
	if c.o.SkipExisting || c.o.Conflict == ConflictSkip {
		if de, err := dfs.Stat(ctx, j.dst.Path); err == nil && !de.Dir && (de.Size == j.size || c.o.Conflict == ConflictSkip) {
			r.Skipped = true
			return r
		}
	}
	// A local destination that is not a regular file (/dev/null, a pipe)
	// is written as it is: no temporary name, no resume, no size check.
	special := j.dst.Scheme == "file" && specialLocal(j.dst.Path)
	tmp := j.dst
	if !c.o.NoTemp && !special {
		tmp.Path += c.o.TempSuffix
	}
	var off int64
	if !c.o.NoResume && !c.o.NoTemp && !special {
		if te, err := dfs.Stat(ctx, tmp.Path); err == nil && !te.Dir && te.Size <= j.size {
			off = te.Size
		}
	}
	if c.o.Progress != nil {
		c.o.Progress.Start(r.Src, j.size, off)
	}
	r.Resumed = off
	// A local destination's digest is taken from the bytes as they are
	// written (and the kept part of a resumed file), not by reading the
	// file again afterwards; an SFTP source hashes its file meanwhile on
	// a channel of its own.
	var (
		sv      = c.sumVerify(sfs, dfs, j)
		dstHash hash.Hash
		srcSum  <-chan sumResult
	)
	if sv && j.dst.Scheme == "file" {
		dstHash = sha256.New()
		if ch, ok := sfs.(remote.ConcurrentHasher); ok {
			res := make(chan sumResult, 1)
			go func() {
				sum, err := ch.Hash(ctx, j.src.Path, "sha256")
				res <- sumResult{sum, err}
			}()
			srcSum = res
		}
	}
	if off < j.size || off == 0 {
		n, err := c.stream(ctx, sfs, dfs, j, tmp.Path, &off, dstHash)
		if err != nil {
			return fail(err)
		}
		if off+n != j.size {
			return fail(fmt.Errorf("%s: copied %d bytes, the source has %d (did it change during the copy?)", j.src, off+n, j.size))
		}
	} else if dstHash != nil {
		// the whole file was there already: hash what is kept
		if err := hashLocalPrefix(dstHash, tmp.Path, off); err != nil {
			return fail(onSide(roleDst, fmt.Errorf("%s: verify: %w", j.dst, err)))
		}
	}
	r.Resumed = off
	var streamed []byte
	if dstHash != nil {
		streamed = dstHash.Sum(nil)
	}
	sum, err := c.verify(ctx, sfs, dfs, j, tmp.Path, special, streamed, srcSum)
	if err != nil {
		if errors.Is(err, errMismatch) {
			dfs.Remove(ctx, tmp.Path) // corrupt: the next attempt starts over
		}
		return fail(err)
	}
	r.Hash = sum
	final := j.dst
	if c.o.Conflict == ConflictRename {
		if final.Path, err = c.freeName(ctx, dfs, j.dst.Path); err != nil {
			return fail(fmt.Errorf("%s: %w", j.dst, err))
		}
		if final.Path != j.dst.Path {
			final.Raw = strings.TrimSuffix(j.dst.Raw, path.Base(j.dst.Path)) + path.Base(final.Path)
			r.Dst, _ = served(dfs, final)
		}
	}
	if tmp.Path != final.Path {
		if err := dfs.Rename(ctx, tmp.Path, final.Path); err != nil {
			return fail(onSide(roleDst, fmt.Errorf("%s: rename into place: %w", final, err)))
		}
	}
	if c.o.RemoveSource {
		if err := sfs.Remove(ctx, j.src.Path); err != nil {
			return fail(fmt.Errorf("%s: copied, but removing the source failed: %w", j.src, err))
		}
	}
	return r
}

// attempt is one try at copying a file. A retry's new connection may be
// to a failover location, which lacks the folders made on the first.
func (c *Copier) attempt(ctx context.Context, j job, n int) Result {
	if n > 1 {
		dfs, err := c.conn(ctx, j.dst, roleDst)
		if err != nil {
			return Result{Src: j.src.String(), Dst: j.dst.String(), Size: j.size,
				Err: onSide(roleDst, fmt.Errorf("%s: %w", j.dst, err))}
		}
		remote.MkdirAll(ctx, dfs, path.Dir(j.dst.Path)) // copyFile reports a failure
	}
	return c.copyFile(ctx, j)
}

// health tells OnTransient and OnSuccess how an attempt went, and
// reports whether the failing side has just failed over to its backup.
func (c *Copier) health(j job, err error) bool {
	switch {
	case err == nil && c.o.OnSuccess != nil:
		c.o.OnSuccess(j.src, j.dst)
	case err == nil, c.o.OnTransient == nil, !remote.Transient(err):
	case sideOf(err) == roleSrc:
		return c.o.OnTransient(j.src)
	case sideOf(err) == roleDst:
		return c.o.OnTransient(j.dst)
	}
	return false
}

// freeName returns p when nothing exists there, else p with the time
// before its extension (report.csv → report-20300506-023004.csv), and a
// counter after the time if that is taken too.
func (c *Copier) freeName(ctx context.Context, f remote.FS, p string) (string, error) {
	exists := func(p string) (bool, error) {
		_, err := f.Stat(ctx, p)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	if ok, err := exists(p); !ok || err != nil {
		return p, err
	}
	dir, base := path.Split(p)
	ext := path.Ext(base)
	if ext == base {
		ext = "" // ".profile"
	}
	stem := strings.TrimSuffix(base, ext) + "-" + c.o.Now().Format("20060102-150405")
	for i := 1; i < 1000; i++ {
		name := stem + ext
		if i > 1 {
			name = fmt.Sprintf("%s-%d%s", stem, i, ext)
		}
		if ok, err := exists(dir + name); !ok || err != nil {
			return dir + name, err
		}
	}
	return "", fmt.Errorf("no free name for a renamed copy: %w", fs.ErrExist)
}

// stream copies from *off to the end; if the destination cannot continue
// at an offset it starts over and sets *off to 0.
func (c *Copier) stream(ctx context.Context, sfs, dfs remote.FS, j job, tmp string, off *int64, h hash.Hash) (int64, error) {
	w, err := dfs.Create(ctx, tmp, *off)
	if err != nil && *off > 0 && errors.Is(err, errors.ErrUnsupported) {
		*off = 0
		if c.o.Progress != nil {
			c.o.Progress.Start(j.src.String(), j.size, 0)
		}
		w, err = dfs.Create(ctx, tmp, 0)
	}
	if err != nil {
		return 0, onSide(roleDst, fmt.Errorf("%s: %w", j.dst, err))
	}
	if h != nil { // a local destination: hash the kept part, then what is written
		h.Reset()
		if err := hashLocalPrefix(h, tmp, *off); err != nil {
			w.Abort()
			return 0, onSide(roleDst, fmt.Errorf("%s: %w", j.dst, err))
		}
		w = hashWriter{w, h}
	}
	rd, err := sfs.Open(ctx, j.src.Path, *off)
	if err != nil {
		w.Abort()
		return 0, onSide(roleSrc, fmt.Errorf("%s: %w", j.src, err))
	}
	n, err := copyData(ctx, w, rd, c.o.Progress, c.limiter)
	if err != nil {
		rd.Close()
		w.Abort()
		return n, fmt.Errorf("%s -> %s: %w", j.src, j.dst, err)
	}
	if err := rd.Close(); err != nil {
		w.Abort()
		return n, onSide(roleSrc, fmt.Errorf("%s: %w", j.src, err))
	}
	if err := w.Close(); err != nil {
		return n, onSide(roleDst, fmt.Errorf("%s: %w", j.dst, err))
	}
	return n, nil
}

// copyData moves bytes with whichever side can do it best: a reader that
// writes itself out (SFTP concurrent reads), a writer that reads itself in
// (SFTP concurrent writes), else a large buffer.
func copyData(ctx context.Context, w remote.Writer, r io.Reader, p Progress, lim *rate.Limiter) (int64, error) {
	m := meter{ctx: ctx, p: p, lim: lim}
	if wt, ok := r.(io.WriterTo); ok {
		n, err := wt.WriteTo(&countWriter{w: w, m: m}) // the writer's errors are marked
		return n, onSide(roleSrc, err)
	}
	if rf, ok := w.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(&countReader{r: r, m: m}) // the reader's errors are marked
		return n, onSide(roleDst, err)
	}
	n, err := io.CopyBuffer(&countWriter{w: w, m: m}, r, make([]byte, 256<<10))
	return n, onSide(roleSrc, err)
}

// sideError marks which end of a copy an error came from, so that
// repeated transient failures are charged to that location (failover).
type sideError struct {
	role string
	err  error
}

func (e *sideError) Error() string { return e.err.Error() }
func (e *sideError) Unwrap() error { return e.err }

// onSide marks err as role's unless it is marked already.
func onSide(role string, err error) error {
	var se *sideError
	if err == nil || errors.As(err, &se) || errors.Is(err, context.Canceled) {
		return err
	}
	return &sideError{role: role, err: err}
}

// sideOf returns the role an error was marked with ("" when unknown).
func sideOf(err error) string {
	var se *sideError
	if errors.As(err, &se) {
		return se.role
	}
	return ""
}

// meter reports progress and applies the bandwidth limit.
type meter struct {
	ctx context.Context
	p   Progress
	lim *rate.Limiter
}

func (m meter) add(n int) error {
	if m.p != nil && n > 0 {
		m.p.Add(int64(n))
	}
	for m.lim != nil && n > 0 {
		k := min(n, m.lim.Burst())
		if err := m.lim.WaitN(m.ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return m.ctx.Err()
}

type countWriter struct {
	w io.Writer
	m meter
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	err = onSide(roleDst, err)
	if merr := c.m.add(n); err == nil {
		err = merr
	}
	return n, err
}

type countReader struct {
	r io.Reader
	m meter
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err != io.EOF {
		err = onSide(roleSrc, err)
	}
	if merr := c.m.add(n); err == nil && merr != nil {
		err = merr
	}
	return n, err
}

// Source returns the pooled source-side connection to l's server (for
// listing and archiving what was copied).
func (c *Copier) Source(ctx context.Context, l remote.Location) (remote.FS, error) {
	return c.conn(ctx, l, roleSrc)
}
