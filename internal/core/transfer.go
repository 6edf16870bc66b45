package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
	"github.com/ferrymft/ferry/internal/vpath"
)

// chunk is how many bytes a transfer moves between progress updates and
// cancellation checks. Each chunk still goes kernel-to-kernel
// (sendfile/splice) when both ends allow it.
const chunk = 4 << 20

// Download is an open file being sent to a client. Use WriteTo (or CopyTo
// for a range) so local files go to sockets with sendfile; Read works too.
// Close publishes the download event with the bytes sent.
type Download struct {
	s     *Session
	f     storage.File
	vp    string
	size  int64
	mtime time.Time
	t     *transfer
	once  sync.Once
}

// OpenRead opens p for download from offset. Needs the download right.
func (s *Session) OpenRead(ctx context.Context, p string, offset int64) (*Download, error) {
	vp, name, err := s.check(ferry.PermDownload, p)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, ferry.EventDownload, vp); err != nil {
		return nil, err
	}
	f, err := s.fs.OpenFile(ctx, name, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("core: open %q: %w", vp, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = ferry.ErrIsDir
	}
	if err == nil && (offset < 0 || offset > fi.Size()) {
		err = fmt.Errorf("offset %d outside file of %d bytes: %w", offset, fi.Size(), ferry.ErrInvalid)
	}
	if err == nil && offset > 0 {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("core: open %q: %w", vp, err)
	}
	t := &transfer{path: vp, dir: "download", size: fi.Size(), start: s.eng.now()}
	s.xfer.Store(t)
	return &Download{s: s, f: f, vp: vp, size: fi.Size(), mtime: fi.ModTime(), t: t}, nil
}

// Size is the file's size; ModTime its modification time.
func (d *Download) Size() int64 { return d.size }

// ModTime is the file's modification time when opened.
func (d *Download) ModTime() time.Time { return d.mtime }

// Read reads the next bytes.
func (d *Download) Read(p []byte) (int, error) {
	if err := d.s.waitDown(len(p)); err != nil {
		return 0, err
	}
	n, err := d.f.Read(p)
	d.t.bytes.Add(int64(n))
	return n, err
}

// ReadAt reads at an offset (SFTP); it counts the bytes as sent.
func (d *Download) ReadAt(p []byte, off int64) (int, error) {
	if err := d.s.waitDown(len(p)); err != nil {
		return 0, err
	}
	n, err := d.f.ReadAt(p, off)
	d.t.bytes.Add(int64(n))
	return n, err
}

// Seek moves the read offset.
func (d *Download) Seek(off int64, whence int) (int64, error) { return d.f.Seek(off, whence) }

// WriteTo sends the rest of the file to w.
func (d *Download) WriteTo(w io.Writer) (int64, error) { return d.CopyTo(w, -1) }

// CopyTo sends at most n bytes (all when n < 0) to w, in chunks so progress
// shows and a kicked session stops.
func (d *Download) CopyTo(w io.Writer, n int64) (int64, error) {
	var total int64
	for n < 0 || total < n {
		if err := d.s.ctx.Err(); err != nil {
			return total, fmt.Errorf("core: download %q: %w", d.vp, ferry.ErrClosed)
		}
		step := int64(chunk)
		if d.s.limitedDown() {
			step = burst
		}
		if n >= 0 && n-total < step {
			step = n - total
		}
		if err := d.s.waitDown(int(step)); err != nil {
			return total, err
		}
		// io.CopyN wraps the bare file in an io.LimitedReader, which
		// net.TCPConn.ReadFrom still turns into sendfile.
		m, err := io.CopyN(w, d.f, step)
		total += m
		d.t.bytes.Add(m)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Close closes the file and publishes the download event; failure (nil when
// the transfer completed) is recorded as its status.
func (d *Download) Close() error { return d.finish(nil) }

// Fail closes the download recording why it did not complete.
func (d *Download) Fail(cause error) error { return d.finish(cause) }

func (d *Download) finish(cause error) error {
	var err error
	d.once.Do(func() {
		err = d.f.Close()
		d.s.xfer.CompareAndSwap(d.t, nil)
		d.s.transferDone(ferry.EventDownload, d.t, cause)
	})
	return err
}

func (s *Session) transferDone(typ ferry.EventType, t *transfer, cause error) {
	dur := s.eng.now().Sub(t.start)
	ev := ferry.Event{Type: typ, Path: t.path, Size: t.bytes.Load(), Duration: dur, Status: "ok", SHA256: t.sha256}
	if cause != nil {
		ev.Status = cause.Error()
	}
	s.log.Info(string(typ), "path", t.path, "bytes", ev.Size, "duration", dur.Round(time.Millisecond), "status", ev.Status)
	s.publish(ev)
}

// WriteOptions say how an upload starts.
type WriteOptions struct {
	// Offset > 0 resumes an interrupted upload: the bytes before Offset are
	// kept (from the hidden partial, or the existing file) and writing
	// continues there.
	Offset int64
	// Append writes at the end of the existing file, in place.
	Append bool
	// InPlace writes into the existing file without truncating it (SFTP
	// open without O_TRUNC); the upload is not atomic.
	InPlace bool
}

// Upload is a file being received. Write (or ReadFrom, which splices from a
// socket) the bytes, then Commit to put the file in place, or Abort.
type Upload struct {
	s        *Session
	f        storage.File
	vp, name string // final virtual path and storage name
	partial  string // storage name of the partial; "" when writing in place
	existing int64  // size of the file replaced, -1 for a new file
	limit    int64  // largest size allowed (quota, max file size); -1: none
	end      atomic.Int64
	overrun  atomic.Bool // the limit was hit: nothing is kept
	sum      *upHash     // running SHA-256; nil when not computed
	t        *transfer
	once     sync.Once
}

// partialName is the hidden name an atomic upload of name by user writes to,
// in the same directory, so the final rename never crosses file systems.
func partialName(user, name string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + name))
	return path.Join(path.Dir(name), partialPrefix+hex.EncodeToString(sum[:8])+".part")
}

// OpenWrite opens p for upload. It needs the upload right, and overwrite
// when p exists. By default the bytes go to a hidden partial that Commit
// renames into place (see docs/uploads.md).
func (s *Session) OpenWrite(ctx context.Context, p string, o WriteOptions) (*Upload, error) {
	vp, name, err := s.check(ferry.PermUpload, p)
	if err != nil {
		return nil, err
	}
	if vpath.IsRoot(vp) {
		return nil, fmt.Errorf("core: upload /: %w", ferry.ErrIsDir)
	}
	var existing int64 = -1
	if fi, err := s.fs.Stat(ctx, name); err == nil && !fi.IsDir() && o.Offset == 0 && !o.Append && !o.InPlace &&
		ferry.Bool(s.view().pol.RenameOnConflict) {
		// Keep the existing file; this upload gets the next free name.
		if vp, name, err = s.freeName(ctx, vp); err != nil {
			return nil, err
		}
	}
	if fi, err := s.fs.Stat(ctx, name); err == nil {
		if fi.IsDir() {
			return nil, fmt.Errorf("core: upload %q: %w", vp, ferry.ErrIsDir)
		}
		if err := s.overwriteAllowed(vp); err != nil {
			return nil, err
		}
		existing = fi.Size()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("core: upload %q: %w", vp, err)
	}
	if o.Offset < 0 {
		return nil, fmt.Errorf("core: upload %q: negative offset: %w", vp, ferry.ErrInvalid)
	}
	if err := s.view().uploadAllowed(vp); err != nil {
		return nil, err
	}
	limit, err := s.uploadLimit(ctx, vp, name, existing)
	if err != nil {
		return nil, err
	}
	if limit >= 0 && o.Offset > limit {
		return nil, fmt.Errorf("core: upload %q: resume offset %d beyond the %d bytes allowed: %w", vp, o.Offset, limit, ferry.ErrQuota)
	}
	if err := s.allow(ctx, ferry.EventUpload, vp); err != nil {
		return nil, err
	}
	u := &Upload{s: s, vp: vp, name: name, existing: existing, limit: limit}
	if o.Append && existing > 0 {
		u.end.Store(existing)
	}
	switch {
	case o.Append:
		u.f, err = s.fs.OpenFile(ctx, name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, s.fileMode())
	case o.InPlace:
		u.f, err = s.fs.OpenFile(ctx, name, os.O_WRONLY|os.O_CREATE, s.fileMode())
	case s.view().user.UploadMode == ferry.UploadDirect:
		u.f, err = s.openDirect(ctx, name, o.Offset, existing)
	default:
		u.partial = partialName(s.user.Name, name)
		u.f, err = s.openPartial(ctx, u.partial, name, o.Offset, existing)
	}
	if err != nil {
		return nil, fmt.Errorf("core: upload %q: %w", vp, err)
	}
	u.sum = s.newUpHash(o)
	u.t = &transfer{path: vp, dir: "upload", size: -1, start: s.eng.now()}
	u.t.bytes.Store(o.Offset)
	u.end.Store(max(u.end.Load(), o.Offset))
	s.xfer.Store(u.t)
	return u, nil
}

func (s *Session) openDirect(ctx context.Context, name string, off, existing int64) (storage.File, error) {
	if off > 0 && off > existing {
		return nil, fmt.Errorf("resume offset %d beyond the %d bytes received: %w", off, max(existing, 0), ferry.ErrInvalid)
	}
	f, err := s.fs.OpenFile(ctx, name, os.O_WRONLY|os.O_CREATE, s.fileMode())
	if err != nil {
		return nil, err
	}
	if err := truncSeek(f, off); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openPartial opens the partial for a fresh upload (off == 0) or a resume.
// A resume continues the partial when it holds at least off bytes, or else
// starts a partial from the first off bytes of the existing file.
func (s *Session) openPartial(ctx context.Context, partial, name string, off, existing int64) (storage.File, error) {
	if off == 0 {
		return s.fs.OpenFile(ctx, partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, s.fileMode())
	}
	if fi, err := s.fs.Stat(ctx, partial); err == nil && fi.Size() >= off {
		f, err := s.fs.OpenFile(ctx, partial, os.O_WRONLY, 0o666)
		if err != nil {
			return nil, err
		}
		if err := truncSeek(f, off); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	if existing < off {
		return nil, fmt.Errorf("resume offset %d beyond the %d bytes received: %w", off, max(existing, 0), ferry.ErrInvalid)
	}
	src, err := s.fs.OpenFile(ctx, name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	f, err := s.fs.OpenFile(ctx, partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, s.fileMode())
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(f, src, off); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func truncSeek(f storage.File, off int64) error {
	if err := f.Truncate(off); err != nil {
		return err
	}
	_, err := f.Seek(off, io.SeekStart)
	return err
}

// grow checks that writing up to end stays within the limit and records
// the new end.
func (u *Upload) grow(end int64) error {
	if err := u.s.ctx.Err(); err != nil {
		return fmt.Errorf("core: upload %q: %w", u.vp, ferry.ErrClosed)
	}
	if u.limit >= 0 && end > u.limit {
		u.overrun.Store(true)
		return fmt.Errorf("core: upload %q: larger than the %d bytes allowed (quota or maximum file size): %w", u.vp, u.limit, ferry.ErrQuota)
	}
	for {
		cur := u.end.Load()
		if end <= cur || u.end.CompareAndSwap(cur, end) {
			return nil
		}
	}
}

// Path is the virtual path the upload will have: the requested one, or
// the free name chosen by rename-on-conflict.
func (u *Upload) Path() string { return u.vp }

// Write appends bytes at the current offset.
func (u *Upload) Write(p []byte) (int, error) {
	if err := u.grow(u.end.Load() + int64(len(p))); err != nil {
		return 0, err
	}
	if err := u.s.waitUp(len(p)); err != nil {
		return 0, err
	}
	return u.put(p)
}

// put writes p, already counted by grow and waitUp, at the current offset.
func (u *Upload) put(p []byte) (int, error) {
	off := u.end.Load() - int64(len(p))
	n, err := u.f.Write(p)
	u.sum.add(p[:n], off)
	u.t.bytes.Add(int64(n))
	return n, err
}

// WriteAt writes at an offset (SFTP).
func (u *Upload) WriteAt(p []byte, off int64) (int, error) {
	if err := u.grow(off + int64(len(p))); err != nil {
		return 0, err
	}
	if err := u.s.waitUp(len(p)); err != nil {
		return 0, err
	}
	n, err := u.f.WriteAt(p, off)
	u.sum.add(p[:n], off)
	u.t.bytes.Add(int64(n))
	return n, err
}

// ReadFrom receives bytes from r until EOF. From a socket into a local
// file it splices, in chunks; from anything else (TLS, an SSH channel, a
// request body) it reads into a large pooled buffer and writes that in one
// call, so the file sees few big writes and the bytes are copied once.
func (u *Upload) ReadFrom(r io.Reader) (int64, error) {
	if u.splices(r) {
		return u.spliceFrom(r)
	}
	// The digest is computed here, between a read and the next: on a
	// separate goroutine it measured 10 % more CPU per GiB (a hand-off per
	// buffer) and, with two cores shared with the client, less throughput.
	bp := upBufs.Get().(*[]byte)
	defer upBufs.Put(bp)
	var total int64
	for {
		buf := *bp
		step := int64(len(buf))
		if u.s.limitedUp() {
			step = min(step, burst)
		}
		if u.limit >= 0 {
			// One byte past the limit tells a too-large upload from one
			// that ends exactly at it.
			step = min(step, u.limit-u.end.Load()+1)
		}
		if err := u.s.waitUp(int(step)); err != nil {
			return total, err
		}
		n, rerr := fill(r, buf[:step])
		if n > 0 {
			// n bytes were taken from r: count them even when refused, so
			// a front end draining the rest of a stream stays in step.
			total += int64(n)
			if err := u.grow(u.end.Load() + int64(n)); err != nil {
				return total, err
			}
			off := u.end.Load() - int64(n)
			m, err := u.f.Write(buf[:n])
			u.t.bytes.Add(int64(m))
			u.sum.add(buf[:m], off)
			if err != nil {
				return total, err
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// fill reads into p until it is full or r fails; io.EOF means r ended
// cleanly (unlike io.ReadFull, whose io.ErrUnexpectedEOF could not be told
// from a source's own, such as a request body cut short).
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// upBuf is the size of ReadFrom's buffer: large enough that a 16 KiB TLS
// record or a 32 KiB SSH packet is a small part of one file write, small
// enough to stay in cache while it is hashed.
const upBuf = 256 << 10

var upBufs = sync.Pool{New: func() any { b := make([]byte, upBuf); return &b }}

// splices reports whether r's bytes can go to the file without passing
// through user space: r is a socket (perhaps limited), the file takes
// ReadFrom, and no digest needs the bytes (auto mode skips sockets).
func (u *Upload) splices(r io.Reader) bool {
	if _, ok := u.f.(io.ReaderFrom); !ok {
		return false
	}
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	if _, ok := r.(syscall.Conn); !ok {
		return false
	}
	return u.sum == nil || u.s.eng.opts.UploadChecksum != ChecksumSHA256
}

// spliceFrom is ReadFrom from a socket, in chunks so progress shows and a
// kicked session stops.
func (u *Upload) spliceFrom(r io.Reader) (int64, error) {
	u.sum.abandon() // auto mode: the bytes never reach user space
	var total int64
	for {
		step := int64(chunk)
		if u.s.limitedUp() {
			step = burst
		}
		if u.limit >= 0 {
			step = min(step, u.limit-u.end.Load()+1)
		}
		if err := u.s.waitUp(int(step)); err != nil {
			return total, err
		}
		// f.ReadFrom(io.LimitReader(conn)) is what os.File splices.
		m, err := io.Copy(u.f, io.LimitReader(r, step))
		total += m
		u.t.bytes.Add(m)
		if gerr := u.grow(u.end.Load() + m); gerr != nil {
			return total, gerr
		}
		if err != nil {
			return total, err
		}
		if m < step {
			return total, nil
		}
	}
}

// Sync flushes what was written so far to stable storage (SFTP
// fsync@openssh.com). For an atomic upload that is the hidden partial: the
// file still appears under its name only on Commit.
func (u *Upload) Sync() error {
	if err := u.f.Sync(); err != nil {
		return fmt.Errorf("core: upload %q: sync: %w", u.vp, err)
	}
	return nil
}

// Truncate sets the size of the file being written (SFTP setstat size).
func (u *Upload) Truncate(size int64) error {
	u.sum.abandon()
	return u.f.Truncate(size)
}

// Commit finishes the upload: the partial is renamed over the final name
// and the upload event is published.
func (u *Upload) Commit() error {
	err := errors.New("upload already finished")
	u.once.Do(func() {
		err = u.f.Close()
		if err == nil && u.overrun.Load() {
			err = fmt.Errorf("upload went past the %d bytes allowed: %w", u.limit, ferry.ErrQuota)
			u.discard()
		}
		if err == nil && u.partial != "" {
			err = u.s.fs.Rename(u.s.ctx, u.partial, u.name)
		}
		if err == nil {
			u.t.sha256 = u.sum.sum(u.end.Load())
			u.rememberSum(u.t.sha256)
		}
		if err != nil {
			err = fmt.Errorf("core: upload %q: %w", u.vp, err)
		} else if u.s.quotaActive() || u.s.folderQuota(u.s.folderOf(u.name)) {
			if fi, serr := u.s.fs.Stat(u.s.ctx, u.name); serr == nil {
				files := int64(0)
				if u.existing < 0 {
					files = 1
				}
				u.s.recordUsage(u.s.ctx, u.name, fi.Size()-max(u.existing, 0), files)
			}
		}
		u.finish(err)
	})
	return err
}

// Abort ends an upload that did not complete. Nothing appears under the
// final name; a partial holding bytes is kept so the client can resume.
func (u *Upload) Abort(cause error) error {
	if cause == nil {
		cause = errors.New("aborted")
	}
	var err error
	u.once.Do(func() {
		err = u.f.Close()
		if u.overrun.Load() || u.partial != "" && u.t.bytes.Load() == 0 {
			u.discard()
		}
		u.finish(cause)
	})
	return err
}

// discard removes what an upload over its limit wrote: a partial, or the
// file written in place when it was new.
func (u *Upload) discard() {
	ctx := context.WithoutCancel(u.s.ctx)
	switch {
	case u.partial != "":
		_ = u.s.fs.Remove(ctx, u.partial)
	case u.existing < 0:
		_ = u.s.fs.Remove(ctx, u.name)
	}
}

func (u *Upload) finish(cause error) {
	u.s.xfer.CompareAndSwap(u.t, nil)
	u.s.transferDone(ferry.EventUpload, u.t, cause)
}
