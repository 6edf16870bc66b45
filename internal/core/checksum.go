package core

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sync"
)

// Upload checksums: with Options.UploadChecksum "" or "sha256", an upload
// that starts at offset 0 and is written front to back is hashed as its
// bytes arrive (no re-read), and the digest goes into the upload event
// (ferry.Event.SHA256). Hashing reads every byte in user space, so a plain
// upload from a socket no longer splices; "none" keeps the splice path and
// publishes no digest. Resumed, appended, in-place, truncated or
// out-of-order uploads get no digest.

// ChecksumNone turns upload hashing off.
const ChecksumNone = "none"

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

// reader wraps r so what is read is hashed at off; without a digest it
// returns r itself, keeping the splice path.
func (u *upHash) reader(r io.Reader, off int64) io.Reader {
	if u == nil {
		return r
	}
	return &hashReader{r: r, u: u, off: off}
}

type hashReader struct {
	r   io.Reader
	u   *upHash
	off int64
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.u.add(p[:n], h.off)
	h.off += int64(n)
	return n, err
}
