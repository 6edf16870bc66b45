package core

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
	"time"
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

// sumCache remembers the SHA-256 of files uploaded through this engine, so
// a client asking for the digest of a file unchanged since (same size and
// modification time) gets it without a re-read. Bounded; the zero value is
// ready to use.
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

func sumKey(home, name string) string { return home + "\x00" + name }

func (c *sumCache) put(key string, size int64, mtime time.Time, hexSum string) {
	sum, err := hex.DecodeString(hexSum)
	if err != nil {
		return
	}
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

// rememberSum records a committed upload's digest with the file's size
// and modification time.
func (u *Upload) rememberSum(hexSum string) {
	if hexSum == "" {
		return
	}
	fi, err := u.s.fs.Stat(u.s.ctx, u.name)
	if err != nil {
		return
	}
	u.s.eng.sums.put(sumKey(u.s.user.Home, u.name), fi.Size(), fi.ModTime(), hexSum)
}

// knownSum is the recorded SHA-256 of name when the whole file is asked
// for and it is unchanged since its upload.
func (s *Session) knownSum(algo, name string, offset, length int64, fi interface {
	Size() int64
	ModTime() time.Time
}) []byte {
	if a := strings.ToLower(algo); (a != "sha256" && a != "sha-256") || offset != 0 || (length >= 0 && length < fi.Size()) {
		return nil
	}
	return s.eng.sums.get(sumKey(s.user.Home, name), fi.Size(), fi.ModTime())
}
