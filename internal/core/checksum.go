package core

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/storage/mountfs"
)

// Upload checksums: an upload that starts at offset 0 and is written front
// to back is hashed as its bytes arrive (no re-read), and the digest goes
// into the upload event (ferry.Event.SHA256). Hashing reads every byte in
// user space, which a plain upload from a socket otherwise skips (splice):
// "auto" (the default) hashes everything except those, keeping plain FTP
// uploads at the kernel's speed; "sha256" hashes them too; "none" hashes
// nothing. Resumed, appended, in-place, truncated or out-of-order uploads
// get no digest.

// Upload checksum modes.
const (
	ChecksumAuto   = "auto"
	ChecksumSHA256 = "sha256"
	ChecksumNone   = "none"
)

// upHash is the running digest of an upload, abandoned when bytes arrive
// out of order.
type upHash struct {
	mu   sync.Mutex
	h    hash.Hash // nil once abandoned
	next int64     // offset the next hashed byte must have
}

// newUpHash returns a digest for an upload starting fresh at offset 0, or
// nil when this upload cannot or should not be hashed.
func (s *Session) newUpHash(o WriteOptions) *upHash {
	if s.eng.opts.UploadChecksum == ChecksumNone || o.Offset != 0 || o.Append || o.InPlace {
		return nil
	}
	return &upHash{h: sha256.New()}
}

// add hashes p written at off.
func (u *upHash) add(p []byte, off int64) {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.h == nil {
		return
	}
	if off != u.next {
		u.h = nil
		return
	}
	u.h.Write(p)
	u.next += int64(len(p))
}

// abandon gives up on the digest (truncate, overrun).
func (u *upHash) abandon() {
	if u == nil {
		return
	}
	u.mu.Lock()
	u.h = nil
	u.mu.Unlock()
}

// sum returns the hex digest when every one of size bytes was hashed.
func (u *upHash) sum(size int64) string {
	if u == nil {
		return ""
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.h == nil || u.next != size {
		return ""
	}
	return hex.EncodeToString(u.h.Sum(nil))
}

// SumStore keeps upload digests across restarts (the store does). A
// digest is keyed by the storage root it lies in (a user's home or a
// virtual folder's directory, so every user mounting a folder sees it) and
// the file's path inside that root, and is valid while the file keeps the
// size and modification time recorded with it.
type SumStore interface {
	PutSum(ctx context.Context, root, name string, size int64, mtime time.Time, sum []byte) error
	// GetSum returns a nil sum and no error when none is recorded.
	GetSum(ctx context.Context, root, name string) (size int64, mtime time.Time, sum []byte, err error)
	// MoveSums moves the digest of from, or of everything below it, to
	// to, replacing what was recorded there.
	MoveSums(ctx context.Context, root, from, to string) error
	// DropSums forgets name and everything below it.
	DropSums(ctx context.Context, root, name string) error
}

// sumCache remembers the SHA-256 of files uploaded through this engine, so
// a client asking for the digest of a file unchanged since (same size and
// modification time) gets it without a re-read. Bounded; the zero value is
// ready to use. Options.Sums, when set, keeps them across restarts; the
// cache then saves a store read for recent uploads.
type sumCache struct {
	mu sync.Mutex
	m  map[string]sumEntry
}

type sumEntry struct {
	size  int64
	mtime time.Time
	sum   []byte
}

const sumCacheSize = 4096

func sumKey(root, name string) string { return root + "\x00" + name }

func (c *sumCache) put(key string, size int64, mtime time.Time, sum []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]sumEntry)
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= sumCacheSize {
		for k := range c.m { // drop an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[key] = sumEntry{size: size, mtime: mtime, sum: sum}
}

// get returns the digest recorded for key if the file still has size and
// mtime.
func (c *sumCache) get(key string, size int64, mtime time.Time) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || e.size != size || !e.mtime.Equal(mtime) {
		return nil
	}
	return append([]byte(nil), e.sum...)
}

// drop forgets key (a file).
func (c *sumCache) drop(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// dropTree forgets key and every key below it ("root\x00dir/…").
func (c *sumCache) dropTree(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if k == key || strings.HasPrefix(k, key+"/") {
			delete(c.m, k)
		}
	}
}

// move gives the entries of from (and below it) to to, replacing what to
// held.
func (c *sumCache) move(from, to string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	moved := map[string]sumEntry{}
	for k, e := range c.m {
		if k == from || strings.HasPrefix(k, from+"/") {
			moved[to+k[len(from):]] = e
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if k == to || strings.HasPrefix(k, to+"/") {
			delete(c.m, k)
		}
	}
	for k, e := range moved {
		c.m[k] = e
	}
}

// sumLoc returns the storage root holding name and name inside it.
func (s *Session) sumLoc(name string) (root, rel string) {
	if m, ok := s.fs.(*mountfs.FS); ok {
		if mp, ok := m.MountOf(name); ok && s.folders[mp] != nil {
			rel = strings.TrimPrefix(strings.TrimPrefix(name, mp), "/")
			return s.folders[mp].Path, cmp.Or(rel, ".")
		}
	}
	return s.user.Home, name
}

// rememberSum records a committed upload's digest with the file's size
// and modification time; an upload without a digest forgets the one of
// the file it replaced.
func (u *Upload) rememberSum(hexSum string) {
	s := u.s
	ctx := context.WithoutCancel(s.ctx)
	sum, err := hex.DecodeString(hexSum)
	if hexSum == "" || err != nil {
		s.dropSum(ctx, u.name)
		return
	}
	fi, err := s.fs.Stat(ctx, u.name)
	if err != nil {
		return
	}
	s.putSum(ctx, u.name, fi.Size(), fi.ModTime(), sum)
}

func (s *Session) putSum(ctx context.Context, name string, size int64, mtime time.Time, sum []byte) {
	root, rel := s.sumLoc(name)
	s.eng.sums.put(sumKey(root, rel), size, mtime, sum)
	s.eng.writeSums(func(ctx context.Context, st SumStore) {
		if err := st.PutSum(ctx, root, rel, size, mtime, sum); err != nil {
			s.log.Warn("upload checksum not recorded", "path", rel, "err", err)
		}
	})
}

// dropSum forgets the digest of the file name.
func (s *Session) dropSum(ctx context.Context, name string) {
	root, rel := s.sumLoc(name)
	s.eng.sums.drop(sumKey(root, rel))
	s.eng.writeSums(func(ctx context.Context, st SumStore) {
		if err := st.DropSums(ctx, root, rel); err != nil {
			s.log.Warn("upload checksum not forgotten", "path", rel, "err", err)
		}
	})
}

// moveSum follows a rename: the digests of from (a file, or the files
// below a directory) now belong to to.
func (s *Session) moveSum(ctx context.Context, from, to string) {
	rf, nf := s.sumLoc(from)
	rt, nt := s.sumLoc(to)
	if rf == rt {
		s.eng.sums.move(sumKey(rf, nf), sumKey(rt, nt))
	} else {
		s.eng.sums.dropTree(sumKey(rt, nt))
		s.eng.sums.dropTree(sumKey(rf, nf))
	}
	s.eng.writeSums(func(ctx context.Context, st SumStore) {
		var err error
		if rf == rt {
			err = st.MoveSums(ctx, rf, nf, nt)
		} else {
			err = errors.Join(st.DropSums(ctx, rf, nf), st.DropSums(ctx, rt, nt))
		}
		if err != nil {
			s.log.Warn("upload checksum not moved", "from", nf, "to", nt, "err", err)
		}
	})
}

// touchSum follows a change of modification time (clients set it right
// after an upload): a digest valid before the change stays valid.
func (s *Session) touchSum(ctx context.Context, name string, before fs.FileInfo, mtime time.Time) {
	if before == nil || !before.Mode().IsRegular() {
		return
	}
	if sum := s.recordedSum(ctx, name, before); sum != nil {
		fi, err := s.fs.Stat(ctx, name)
		if err == nil {
			mtime = fi.ModTime()
		}
		s.putSum(ctx, name, before.Size(), mtime, sum)
	}
}

// recordedSum is the digest recorded for name if it is still valid for fi.
func (s *Session) recordedSum(ctx context.Context, name string, fi interface {
	Size() int64
	ModTime() time.Time
}) []byte {
	root, rel := s.sumLoc(name)
	if sum := s.eng.sums.get(sumKey(root, rel), fi.Size(), fi.ModTime()); sum != nil {
		return sum
	}
	st := s.eng.opts.Sums
	if st == nil {
		return nil
	}
	size, mtime, sum, err := st.GetSum(ctx, root, rel)
	if err != nil {
		s.log.Warn("upload checksum not read", "path", rel, "err", err)
		return nil
	}
	if sum == nil || size != fi.Size() || !mtime.Equal(fi.ModTime()) {
		return nil
	}
	s.eng.sums.put(sumKey(root, rel), size, mtime, sum)
	return sum
}

// knownSum is the recorded SHA-256 of name when the whole file is asked
// for and it is unchanged since its upload.
func (s *Session) knownSum(ctx context.Context, algo, name string, offset, length int64, fi interface {
	Size() int64
	ModTime() time.Time
}) []byte {
	if a := strings.ToLower(algo); (a != "sha256" && a != "sha-256") || offset != 0 || (length >= 0 && length < fi.Size()) {
		return nil
	}
	return s.recordedSum(ctx, name, fi)
}

// sumWriter applies digest changes to Options.Sums in order on its own
// goroutine: a store write waits for the disk, which an upload's Commit
// should not. Reads go to the memory cache first, which changes at once.
// The zero value is ready to use.
type sumWriter struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []func(context.Context, SumStore)
	running bool
}

// sumQueueMax bounds the queue; a writer beyond it waits (the store is
// slower than the uploads).
const sumQueueMax = 4096

func (w *sumWriter) wait() {
	if w.cond == nil {
		w.cond = sync.NewCond(&w.mu)
	}
	w.cond.Wait()
}

// writeSums queues op for the store, when there is one.
func (e *Engine) writeSums(op func(context.Context, SumStore)) {
	st := e.opts.Sums
	if st == nil {
		return
	}
	w := &e.sumw
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) >= sumQueueMax {
		w.wait()
	}
	w.queue = append(w.queue, op)
	if !w.running {
		w.running = true
		go w.drain(st)
	}
}

func (w *sumWriter) drain(st SumStore) {
	ctx := context.Background()
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running = false
			if w.cond != nil {
				w.cond.Broadcast()
			}
			w.mu.Unlock()
			return
		}
		op := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		if w.cond != nil {
			w.cond.Broadcast()
		}
		w.mu.Unlock()
		op(ctx, st)
	}
}

// FlushSums waits until every upload digest change so far has reached
// Options.Sums (call it before closing the store).
func (e *Engine) FlushSums() {
	w := &e.sumw
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.running {
		w.wait()
	}
}
