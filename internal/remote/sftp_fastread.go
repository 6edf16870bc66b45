package remote

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// The download fast path. pkg/sftp allocates (and zeroes) a new buffer
// for every reply and copies the data out of it again; a bulk download
// of one file here speaks SFTP v3 itself on a channel of its own: READs
// pipelined, each DATA payload read from the channel straight into a
// reused buffer and written out in offset order. Everything else (and a
// server that refuses a second sftp channel) stays with pkg/sftp.

// SFTP v3 packet types and status codes used here
// (draft-ietf-secsh-filexfer-02).
const (
	fxpInit    = 1
	fxpVersion = 2
	fxpOpen    = 3
	fxpClose   = 4
	fxpRead    = 5
	fxpStatus  = 101
	fxpHandle  = 102
	fxpData    = 103

	fxOK  = 0
	fxEOF = 1
)

// Pipelining: requests start few and grow by one per full reply (doubling
// each round trip) up to fastMaxReqs, and the data asked for but not yet
// written stays under fastBudget: twice x/crypto/ssh's 2 MiB channel
// window keeps the window full without queueing much at the server.
const (
	fastFirstReqs = 4
	fastMaxReqs   = 64
	fastBudget    = 4 << 20
	fastMaxCtl    = 64 << 10 // the longest non-DATA reply accepted
)

// errFastSetup is an sftp channel of our own that could not be set up;
// a download falls back to pkg/sftp.
var errFastSetup = errors.New("no second sftp channel")

// fastChan is an sftp session of our own, reused by successive downloads
// on one connection.
type fastChan struct {
	ch    ssh.Channel
	br    *bufio.Reader
	id    uint32
	chunk int
	out   []byte   // the packets being sent
	start int      // where in out the packet begun last starts
	free  [][]byte // payload buffers of chunk bytes, for reuse
}

// openFast starts a download on the fast channel, or returns nil when the
// caller must use pkg/sftp (no channel, or OPEN failed: pkg/sftp then
// reports the error exactly as it always has).
func (f *sftpFS) openFast(ctx context.Context, p string, off int64) *fastReader {
	c, err := f.takeFast()
	if err != nil {
		return nil
	}
	h, err := c.open(f.abs(p))
	if err != nil {
		if errors.Is(err, errFastStatus) {
			f.putFast(c) // the channel is fine; the file is not
		} else {
			c.ch.Close()
		}
		return nil
	}
	r := &fastReader{fs: f, c: c, p: p, handle: h, next: off, want: fastFirstReqs}
	r.stop = context.AfterFunc(ctx, func() { c.ch.Close() })
	r.ctx = ctx
	return r
}

// takeFast returns the idle fast channel or opens one.
func (f *sftpFS) takeFast() (*fastChan, error) {
	f.mu.Lock()
	c, no := f.fast, f.noFast
	f.fast = nil
	f.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if no {
		return nil, errFastSetup
	}
	c, err := dialFast(f.ssh, f.chunk)
	if err != nil {
		f.mu.Lock()
		f.noFast = true
		f.mu.Unlock()
		return nil, err
	}
	return c, nil
}

func (f *sftpFS) putFast(c *fastChan) {
	f.mu.Lock()
	old := f.fast
	f.fast = c
	f.mu.Unlock()
	if old != nil {
		old.ch.Close()
	}
}

// dialFast opens a session channel with the sftp subsystem and exchanges
// INIT/VERSION. READ lengths are chunk: the connection's limits
// (sftpChunk), asked once when it was dialled (sftpExtended, which asks
// them, passes 0 and sends no READ).
func dialFast(client *ssh.Client, chunk int) (*fastChan, error) {
	ch, reqs, err := client.OpenChannel("session", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFastSetup, err)
	}
	go ssh.DiscardRequests(reqs)
	go io.Copy(io.Discard, ch.Stderr())
	ok, err := ch.SendRequest("subsystem", true, ssh.Marshal(struct{ Name string }{"sftp"}))
	if err != nil || !ok {
		ch.Close()
		return nil, fmt.Errorf("%w: subsystem refused", errFastSetup)
	}
	// A small bufio for headers: a payload read finds at most a few KiB of
	// itself buffered and reads the rest from the channel directly.
	c := &fastChan{ch: ch, br: bufio.NewReaderSize(ch, 4<<10), chunk: chunk}
	c.out = append(c.out[:0], 0, 0, 0, 5, fxpInit, 0, 0, 0, 3)
	if err := c.flush(); err != nil {
		ch.Close()
		return nil, fmt.Errorf("%w: %v", errFastSetup, err)
	}
	typ, body, err := c.readCtl()
	if err != nil || typ != fxpVersion || len(body) < 4 || binary.BigEndian.Uint32(body) != 3 {
		ch.Close()
		return nil, fmt.Errorf("%w: no SFTP v3 VERSION", errFastSetup)
	}
	return c, nil
}

// errFastStatus marks an error status answered to OPEN.
var errFastStatus = errors.New("sftp status")

// open sends OPEN (read) and returns the handle.
func (c *fastChan) open(p string) ([]byte, error) {
	id := c.begin(fxpOpen)
	c.putString([]byte(p))
	c.out = binary.BigEndian.AppendUint32(c.out, 1) // SSH_FXF_READ
	c.out = binary.BigEndian.AppendUint32(c.out, 0) // no attributes
	c.end()
	if err := c.flush(); err != nil {
		return nil, err
	}
	typ, body, err := c.readCtl()
	if err != nil {
		return nil, err
	}
	if len(body) < 4 || binary.BigEndian.Uint32(body) != id {
		return nil, errors.New("sftp: reply to OPEN with a wrong id")
	}
	switch body = body[4:]; typ {
	case fxpHandle:
		if len(body) < 4 || int(binary.BigEndian.Uint32(body)) != len(body)-4 || len(body) > 4+256 {
			return nil, errors.New("sftp: malformed HANDLE")
		}
		return body[4:], nil
	case fxpStatus:
		return nil, errFastStatus
	}
	return nil, fmt.Errorf("sftp: unexpected reply type %d to OPEN", typ)
}

// closeHandle sends CLOSE and waits for its status.
func (c *fastChan) closeHandle(h []byte) error {
	id := c.begin(fxpClose)
	c.putString(h)
	c.end()
	if err := c.flush(); err != nil {
		return err
	}
	typ, body, err := c.readCtl()
	if err != nil {
		return err
	}
	if typ != fxpStatus || len(body) < 4 || binary.BigEndian.Uint32(body) != id {
		return errors.New("sftp: bad reply to CLOSE")
	}
	return statusErr(body[4:])
}

// begin starts a packet of type typ with a new request id in c.out
// (length filled in by end) and returns the id.
func (c *fastChan) begin(typ byte) uint32 {
	c.id++
	c.start = len(c.out)
	c.out = append(c.out, 0, 0, 0, 0, typ)
	c.out = binary.BigEndian.AppendUint32(c.out, c.id)
	return c.id
}

func (c *fastChan) putString(s []byte) {
	c.out = binary.BigEndian.AppendUint32(c.out, uint32(len(s)))
	c.out = append(c.out, s...)
}

// end fills in the length of the packet begun last.
func (c *fastChan) end() {
	binary.BigEndian.PutUint32(c.out[c.start:], uint32(len(c.out)-c.start-4))
}

// flush sends the packets built in c.out in one channel write.
func (c *fastChan) flush() error {
	_, err := c.ch.Write(c.out)
	c.out = c.out[:0]
	return err
}

// readCtl reads one whole non-DATA packet (type, body).
func (c *fastChan) readCtl() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 1 || n > fastMaxCtl {
		return 0, nil, fmt.Errorf("sftp: reply of %d bytes refused", n)
	}
	body := make([]byte, n-1)
	if _, err := io.ReadFull(c.br, body); err != nil {
		return 0, nil, err
	}
	return hdr[4], body, nil
}

// statusErr turns a STATUS body (after the id) into nil for OK, io.EOF,
// or an error as pkg/sftp and sftpErr would classify it.
func statusErr(b []byte) error {
	if len(b) < 4 {
		return errors.New("malformed STATUS")
	}
	code := binary.BigEndian.Uint32(b)
	var msg string
	if len(b) >= 8 {
		if n := binary.BigEndian.Uint32(b[4:]); int64(n) <= int64(len(b)-8) {
			msg = string(b[8 : 8+n])
		}
	}
	err := &fxError{code: code, msg: msg}
	switch code {
	case fxOK:
		return nil
	case fxEOF:
		return io.EOF
	case 2: // SSH_FX_NO_SUCH_FILE
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	case 3: // SSH_FX_PERMISSION_DENIED
		return fmt.Errorf("%w: %w", fs.ErrPermission, err)
	case 8: // SSH_FX_OP_UNSUPPORTED
		return fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
	}
	if m := strings.ToLower(msg); strings.Contains(m, "no space") || strings.Contains(m, "quota") {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// fxError is an SFTP error status, worded as pkg/sftp words its own.
type fxError struct {
	code uint32
	msg  string
}

var fxNames = []string{"SSH_FX_OK", "SSH_FX_EOF", "SSH_FX_NO_SUCH_FILE", "SSH_FX_PERMISSION_DENIED",
	"SSH_FX_FAILURE", "SSH_FX_BAD_MESSAGE", "SSH_FX_NO_CONNECTION", "SSH_FX_CONNECTION_LOST", "SSH_FX_OP_UNSUPPORTED"}

func (e *fxError) Error() string {
	name := "unknown"
	if int64(e.code) < int64(len(fxNames)) {
		name = fxNames[e.code]
	}
	return fmt.Sprintf("sftp: %q (%s)", e.msg, name)
}

// fastReq is one READ: outstanding, or answered and waiting for the
// replies before it to be written.
type fastReq struct {
	id   uint32
	off  int64
	n    int    // bytes asked
	data []byte // the answer (a buffer from fastChan.free), when done
	done bool
	eof  bool
}

// fastReader is one download on a fastChan. Read and WriteTo deliver the
// file in offset order from the head of q.
type fastReader struct {
	fs     *sftpFS
	c      *fastChan
	ctx    context.Context
	stop   func() bool // unregisters the channel close on ctx
	p      string
	handle []byte
	next   int64      // offset of the next READ to send
	want   int        // requests to keep in q (grows to fastMaxReqs)
	q      []*fastReq // in offset order
	eof    bool       // a READ hit the end: send no more
	cur    []byte     // delivered by next, not yet consumed by Read
	held   []byte     // the buffer cur lies in
	err    error      // sticky
	closed bool
}

// nextChunk returns the next bytes of the file in order, valid until the
// next call; io.EOF at the end.
func (r *fastReader) nextChunk() ([]byte, error) {
	r.c.release(r.held)
	r.held = nil
	if err := r.ctx.Err(); err != nil {
		r.fail(err)
	}
	for r.err == nil {
		if err := r.fill(); err != nil {
			r.fail(err)
			break
		}
		if len(r.q) == 0 {
			return nil, io.EOF
		}
		if h := r.q[0]; h.done {
			if h.eof {
				return nil, io.EOF // q keeps the head: Close drains the rest
			}
			r.q = r.q[1:]
			r.held = h.data
			return h.data, nil
		}
		if err := r.recv(); err != nil {
			r.fail(err)
		}
	}
	return nil, r.err
}

// fail keeps the first error; a cancelled ctx (which closed the channel)
// reports itself, a broken channel or reply names the file.
func (r *fastReader) fail(err error) {
	if r.err != nil {
		return
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the channel ended mid-reply
	}
	var fe *fxError
	switch cerr := r.ctx.Err(); {
	case cerr != nil:
		err = cerr
	case !errors.As(err, &fe): // a status stays as pkg/sftp returns one
		err = fmt.Errorf("sftp: read %s: %w", r.p, err)
	}
	r.err = err
}

// fill sends READs, in one channel write, until q holds want requests or
// fastBudget bytes.
func (r *fastReader) fill() error {
	chunk := r.c.chunk
	for !r.eof && len(r.q) < min(r.want, fastMaxReqs) && (len(r.q)+1)*chunk <= max(fastBudget, chunk) {
		r.q = append(r.q, r.c.read(r.handle, r.next, chunk))
		r.next += int64(chunk)
	}
	if len(r.c.out) == 0 {
		return nil
	}
	return r.c.flush()
}

// read appends a READ to c.out and returns its request.
func (c *fastChan) read(h []byte, off int64, n int) *fastReq {
	id := c.begin(fxpRead)
	c.putString(h)
	c.out = binary.BigEndian.AppendUint64(c.out, uint64(off))
	c.out = binary.BigEndian.AppendUint32(c.out, uint32(n))
	c.end()
	return &fastReq{id: id, off: off, n: n}
}

// recv reads one reply to a READ in q: DATA straight into a reused
// buffer, or STATUS. A short DATA gets a READ for the rest, placed right
// after it in q.
func (r *fastReader) recv() error {
	c := r.c
	var hdr [9]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return err
	}
	n, typ, id := binary.BigEndian.Uint32(hdr[:]), hdr[4], binary.BigEndian.Uint32(hdr[5:])
	i := slices.IndexFunc(r.q, func(q *fastReq) bool { return q.id == id && !q.done })
	if i < 0 || n < 5 {
		return fmt.Errorf("reply with unknown id %d", id)
	}
	q := r.q[i]
	switch typ {
	case fxpStatus:
		if n > fastMaxCtl {
			return fmt.Errorf("reply of %d bytes refused", n)
		}
		body := make([]byte, n-5)
		if _, err := io.ReadFull(c.br, body); err != nil {
			return err
		}
		err := statusErr(body)
		if err != io.EOF {
			return cmpErr(err, errors.New("OK status answered to READ"))
		}
		q.done, q.eof, r.eof = true, true, true
		return nil
	case fxpData:
		var l [4]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			return err
		}
		dn := binary.BigEndian.Uint32(l[:])
		if dn == 0 || int64(dn) > int64(q.n) || n != 9+dn {
			return fmt.Errorf("DATA of %d bytes (packet %d) for a READ of %d refused", dn, n, q.n)
		}
		buf := c.buffer()
		if _, err := io.ReadFull(c.br, buf[:dn]); err != nil {
			c.release(buf)
			return err
		}
		q.data, q.done = buf[:dn], true
		if rest := q.n - int(dn); rest > 0 { // a short read: ask the rest
			q.n = int(dn)
			r.q = slices.Insert(r.q, i+1, c.read(r.handle, q.off+int64(dn), rest))
			return c.flush()
		}
		r.want++
		return nil
	}
	return fmt.Errorf("unexpected reply type %d to READ", typ)
}

// cmpErr returns err, or alt when err is nil.
func cmpErr(err, alt error) error {
	if err == nil {
		return alt
	}
	return err
}

// buffer returns a payload buffer of chunk bytes, reused when one is free.
func (c *fastChan) buffer() []byte {
	if k := len(c.free); k > 0 {
		b := c.free[k-1]
		c.free = c.free[:k-1]
		return b
	}
	return make([]byte, c.chunk)
}

func (r *fastReader) Read(p []byte) (int, error) {
	if len(r.cur) == 0 {
		b, err := r.nextChunk()
		if err != nil {
			return 0, err
		}
		r.cur = b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// WriteTo writes the rest of the file to w in order.
func (r *fastReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if len(r.cur) > 0 {
		n, err := w.Write(r.cur)
		total += int64(n)
		r.cur = r.cur[n:]
		if err != nil {
			return total, err
		}
	}
	for {
		b, err := r.nextChunk()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(b)
		total += int64(n)
		if err != nil {
			r.cur = b[n:]
			return total, err
		}
	}
}

// Close ends the download. After a clean end of file the remaining
// replies are drained, the handle closed and the channel kept for the
// next download; otherwise the channel is closed (which closes the
// handle at the server).
func (r *fastReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	c := r.c
	c.release(r.held)
	r.held, r.cur = nil, nil
	cancelled := !r.stop()
	for r.err == nil && !cancelled && r.eof && slices.ContainsFunc(r.q, pending) {
		if err := r.recv(); err != nil {
			r.fail(err)
		}
	}
	for _, q := range r.q {
		c.release(q.data)
	}
	if r.err != nil || cancelled || !r.eof {
		c.ch.Close()
		return nil
	}
	if err := c.closeHandle(r.handle); err != nil {
		c.ch.Close()
		return sftpErr("read", r.p, err)
	}
	r.fs.putFast(c)
	return nil
}

func pending(q *fastReq) bool { return !q.done }

// release keeps a payload buffer for reuse.
func (c *fastChan) release(b []byte) {
	if b != nil {
		c.free = append(c.free, b[:cap(b)])
	}
}
