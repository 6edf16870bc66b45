package sshd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"strconv"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

// Sizes. OpenSSH's client refuses messages over 256 KiB and sizes its
// requests from limits@openssh.com, so the data limits are what OpenSSH's
// own server advertises: the largest that fit.
const (
	maxPacket    = 256 << 10          // largest message we advertise
	maxAccept    = maxPacket + 8<<10  // largest message we read
	maxData      = maxPacket - 1024   // max read/write length
	maxHandles   = 1024               // open handles per channel
	readdirBatch = 1024               // entries per READDIR reply at most
	readdirBytes = maxPacket - 16<<10 // bytes per READDIR reply at most
	dataHeader   = 4 + 1 + 4 + 4      // length, type, id, data length
	smallBufSize = 4 << 10
	largeBufSize = maxAccept
	// readerBufSize holds many small requests; a WRITE's payload bypasses
	// it (see loop), so it stays small.
	readerBufSize = 8 << 10
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBufSize); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, largeBufSize); return &b }}
)

func getBuf(n int) *[]byte {
	if n <= smallBufSize {
		return smallPool.Get().(*[]byte)
	}
	return largePool.Get().(*[]byte)
}

func putBuf(bp *[]byte) {
	switch cap(*bp) {
	case smallBufSize:
		smallPool.Put(bp)
	case largeBufSize:
		largePool.Put(bp)
	}
}

// job is one request: its type, id, payload (after the id) and the pooled
// buffer holding it.
type job struct {
	typ     byte
	id      uint32
	payload []byte
	buf     *[]byte
	shared  bool // may run beside other shared jobs of the same handle
	h       *handle
	seq     uint64 // order among the handle's jobs
	sent    bool
}

// handle is an open file or directory.
type handle struct {
	name string
	path string // virtual path as the client gave it

	// Files.
	dl      *core.Download
	up      *core.Upload
	flags   uint32
	werr    error // first failed write: close aborts
	written int64 // highest offset written
	setMode *fs.FileMode
	setTime *[2]time.Time

	// Directories.
	next  func() (fs.FileInfo, error, bool)
	stop  func()
	ahead fs.FileInfo // an entry pulled but not yet sent
	eof   bool

	// Scheduling: jobs run in arrival order; shared ones (reads) together.
	mu      sync.Mutex
	running int
	excl    bool
	queue   []*job
	nseq    uint64

	// Replies of a handle's jobs leave in request order.
	tmu  sync.Mutex
	tc   *sync.Cond
	turn uint64
}

func (h *handle) canStart(shared bool) bool {
	return h.running == 0 || shared && !h.excl
}

// sftpServer serves one SFTP channel.
type sftpServer struct {
	sess *core.Session
	ctx  context.Context
	w    io.Writer
	wmu  sync.Mutex
	sem  chan struct{}
	wg   sync.WaitGroup

	hmu     sync.Mutex
	handles map[string]*handle
	nextH   uint64
}

// serveSFTP runs the SFTP protocol on rw until the client closes it or sends
// something that cannot be framed. Open uploads left at the end are
// aborted: nothing half-written appears under its name.
func serveSFTP(sess *core.Session, rw io.ReadWriter, workers int) {
	s := &sftpServer{sess: sess, ctx: sess.Context(), w: rw, sem: make(chan struct{}, workers),
		handles: make(map[string]*handle)}
	err := s.loop(bufio.NewReaderSize(rw, readerBufSize), rw)
	s.wg.Wait()
	cause := errors.New("connection lost")
	if err != nil && !errors.Is(err, io.EOF) {
		sess.Logger().Info("sftp channel ended", "err", err)
		cause = err
	}
	for _, h := range s.handles {
		s.release(h, cause)
	}
}

// loop reads requests from r, which buffers ch. A message's body is read
// with direct: what r holds, then straight from ch into the job's buffer,
// so a WRITE's payload is copied once from the SSH channel and the channel
// is read in large pieces (fewer window adjustments).
func (s *sftpServer) loop(r *bufio.Reader, ch io.Reader) error {
	body := direct{r, ch}
	var hdr [4]byte
	inited := false
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n < 1 || n > maxAccept {
			return fmt.Errorf("sftp: message of %d bytes refused (limit %d)", n, maxAccept)
		}
		bp := getBuf(int(n))
		b := (*bp)[:n]
		if _, err := io.ReadFull(body, b); err != nil {
			putBuf(bp)
			return err
		}
		if !inited {
			if b[0] != fxpInit {
				putBuf(bp)
				return fmt.Errorf("sftp: first message is type %d, not INIT", b[0])
			}
			putBuf(bp)
			inited = true
			s.sendVersion()
			continue
		}
		if n < 5 {
			putBuf(bp)
			return fmt.Errorf("sftp: message of %d bytes has no request id", n)
		}
		j := &job{typ: b[0], id: binary.BigEndian.Uint32(b[1:5]), payload: b[5:], buf: bp}
		if name, shared, ok := handleOf(j.typ, j.payload); ok {
			s.hmu.Lock()
			h := s.handles[name]
			s.hmu.Unlock()
			if h != nil {
				j.shared = shared && h.dl != nil && h.up == nil
				if j.typ == fxpWrite && !s.sess.UploadThrottled() && s.runIdle(h, j) {
					continue
				}
				s.submit(h, j)
				continue
			}
		}
		s.spawn(nil, j)
	}
}

// handleOf returns the handle a request works on, and whether it may run
// beside others on the same handle.
func handleOf(typ byte, p []byte) (string, bool, bool) {
	d := decoder{b: p}
	switch typ {
	case fxpRead:
		h := d.bytes()
		return string(h), true, !d.bad
	case fxpClose, fxpWrite, fxpFstat, fxpFsetstat, fxpReaddir:
		h := d.bytes()
		return string(h), false, !d.bad
	case fxpExtended:
		switch d.str() {
		case "fsync@openssh.com", "fstatvfs@openssh.com", "check-file-handle":
			h := d.bytes()
			return string(h), false, !d.bad
		case "copy-data":
			// Ordered after the source handle's earlier requests; the
			// destination is written by this one job.
			h := d.bytes()
			return string(h), false, !d.bad
		}
	}
	return "", false, false
}

func (s *sftpServer) submit(h *handle, j *job) {
	h.mu.Lock()
	j.h, j.seq = h, h.nseq
	h.nseq++
	if len(h.queue) == 0 && h.canStart(j.shared) {
		h.running++
		h.excl = !j.shared
		h.mu.Unlock()
		s.spawn(h, j)
		return
	}
	h.queue = append(h.queue, j)
	h.mu.Unlock()
}

// runIdle runs a WRITE on this goroutine when its handle has nothing
// queued or running, and reports whether it did. An upload's writes come
// one after another on one handle: running each here, between reading it
// and reading the next, saves a goroutine and two hand-offs per request
// (the SSH layer keeps buffering what arrives meanwhile, up to the
// channel window). Not when a bandwidth limit may make the write wait:
// other handles' requests would wait behind it.
func (s *sftpServer) runIdle(h *handle, j *job) bool {
	h.mu.Lock()
	if len(h.queue) != 0 || h.running != 0 {
		h.mu.Unlock()
		return false
	}
	j.h, j.seq = h, h.nseq
	h.nseq++
	h.running++
	h.excl = true
	h.mu.Unlock()
	s.run(j)
	s.finished(h)
	return true
}

// spawn runs j on a worker; it blocks while every worker is busy, which
// stops reading from the client (flow control does the rest).
func (s *sftpServer) spawn(h *handle, j *job) {
	s.sem <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(j)
		<-s.sem
		if h != nil {
			s.finished(h)
		}
	}()
}

func (s *sftpServer) finished(h *handle) {
	h.mu.Lock()
	h.running--
	if h.running == 0 {
		h.excl = false
	}
	var ready []*job
	for len(h.queue) > 0 && h.canStart(h.queue[0].shared) {
		j := h.queue[0]
		h.queue[0] = nil
		h.queue = h.queue[1:]
		h.running++
		h.excl = !j.shared
		ready = append(ready, j)
	}
	h.mu.Unlock()
	for _, j := range ready {
		s.spawn(h, j)
	}
}

func (s *sftpServer) run(j *job) {
	defer putBuf(j.buf)
	defer func() {
		if j.h != nil && !j.sent {
			s.sendJob(j, nil) // pass the turn on, whatever happened
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			s.sess.Logger().Error("sftp request panicked", "type", j.typ, "panic", r)
			s.sendJob(j, s.statusMsg(j.id, fmt.Errorf("internal error: %w", errors.ErrUnsupported)))
		}
	}()
	s.dispatch(j)
}

// sendJob sends msg (may be nil) as job j's reply, in j's turn when it
// works on a handle.
func (s *sftpServer) sendJob(j *job, msg []byte) {
	h := j.h
	if h == nil {
		if msg != nil {
			s.send(msg)
		}
		return
	}
	h.tmu.Lock()
	if h.tc == nil {
		h.tc = sync.NewCond(&h.tmu)
	}
	for h.turn != j.seq {
		h.tc.Wait()
	}
	h.tmu.Unlock()
	if msg != nil {
		s.send(msg)
	}
	j.sent = true
	h.tmu.Lock()
	h.turn++
	h.tc.Broadcast()
	h.tmu.Unlock()
}

// send writes one complete message; messages from concurrent workers never
// interleave.
func (s *sftpServer) send(b []byte) {
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	s.wmu.Lock()
	_, _ = s.w.Write(b)
	s.wmu.Unlock()
}

// reply starts a message of type typ for request id in a pooled buffer.
func reply(typ byte, id uint32) (*[]byte, []byte) {
	bp := smallPool.Get().(*[]byte)
	b := append((*bp)[:0], 0, 0, 0, 0, typ)
	return bp, putU32(b, id)
}

// sendBuf sends b, built in bp (which may have been outgrown), and recycles
// bp.
func (s *sftpServer) sendBuf(bp *[]byte, b []byte) {
	s.send(b)
	if cap(b) == cap(*bp) {
		*bp = b[:0]
	}
	putBuf(bp)
}

func (s *sftpServer) sendStatus(id uint32, err error) {
	s.send(s.statusMsg(id, err))
}

// statusMsg builds a STATUS reply (small: no pooling needed).
func (s *sftpServer) statusMsg(id uint32, err error) []byte {
	code, msg := status(err)
	if code != fxOK && code != fxEOF {
		s.sess.Logger().Debug("sftp request failed", "id", id, "err", err)
	}
	b := make([]byte, 0, 64)
	b = append(b, 0, 0, 0, 0, fxpStatus)
	b = putU32(b, id)
	b = putU32(b, code)
	b = putStr(b, msg)
	return putStr(b, "en")
}

func (s *sftpServer) sendHandle(id uint32, name string) {
	bp, b := reply(fxpHandle, id)
	s.sendBuf(bp, putStr(b, name))
}

// extensions are advertised in VERSION.
var extensions = [][2]string{
	{"posix-rename@openssh.com", "1"},
	{"statvfs@openssh.com", "2"},
	{"fstatvfs@openssh.com", "2"},
	{"hardlink@openssh.com", "1"},
	{"fsync@openssh.com", "1"},
	{"lsetstat@openssh.com", "1"},
	{"limits@openssh.com", "1"},
	{"expand-path@openssh.com", "1"},
	{"copy-data", "1"},
	{"home-directory", "1"},
	{"users-groups-by-id@openssh.com", "1"},
	{"check-file", "md5,sha1,sha256,sha512"},
	{"check-file-name", "1"},
	{"check-file-handle", "1"},
}

func (s *sftpServer) sendVersion() {
	bp := smallPool.Get().(*[]byte)
	b := append((*bp)[:0], 0, 0, 0, 0, fxpVersion)
	b = putU32(b, 3)
	for _, e := range extensions {
		b = putStr(b, e[0])
		b = putStr(b, e[1])
	}
	s.sendBuf(bp, b)
}

// addHandle registers h and returns its name, or an error when too many
// are open.
func (s *sftpServer) addHandle(h *handle) (string, error) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if len(s.handles) >= maxHandles {
		return "", fmt.Errorf("too many open handles (%d): %w", maxHandles, ferry.ErrLimit)
	}
	s.nextH++
	h.name = strconv.FormatUint(s.nextH, 16)
	s.handles[h.name] = h
	return h.name, nil
}

func (s *sftpServer) getHandle(name string) *handle {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return s.handles[name]
}

func (s *sftpServer) removeHandle(name string) *handle {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	h := s.handles[name]
	delete(s.handles, name)
	return h
}

// release ends a handle the client did not close: uploads are aborted.
func (s *sftpServer) release(h *handle, cause error) {
	if h.up != nil {
		_ = h.up.Abort(cause)
	}
	if h.dl != nil {
		if h.up != nil {
			_ = h.dl.Close()
		} else {
			_ = h.dl.Fail(cause)
		}
	}
	if h.stop != nil {
		h.stop()
	}
}

// openDir starts a streaming listing, pulling the first entry so that a
// missing or forbidden directory fails the OPENDIR itself.
func openDir(seq iter.Seq2[fs.FileInfo, error]) (*handle, error) {
	next, stop := iter.Pull2(seq)
	fi, err, ok := next()
	if err != nil {
		stop()
		return nil, err
	}
	h := &handle{next: next, stop: stop}
	if ok {
		h.ahead = fi
	} else {
		h.eof = true
	}
	return h, nil
}
