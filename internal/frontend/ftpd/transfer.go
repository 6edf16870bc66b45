package ftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

// transfer is the one data transfer a control connection runs at a time,
// in its own goroutine, so the control goroutine can serve ABOR and STAT
// while the bytes flow.
type transfer struct {
	what    string
	cancel  context.CancelFunc
	done    chan struct{}
	aborted atomic.Bool

	mu     sync.Mutex
	closer []io.Closer
}

func (x *transfer) setCloser(cl io.Closer) {
	x.mu.Lock()
	x.closer = append(x.closer, cl)
	aborted := x.aborted.Load()
	x.mu.Unlock()
	if aborted {
		cl.Close()
	}
}

// abort stops the transfer: the data connection (or the passive listener
// still waiting for it) is closed, so sendfile/splice return at once.
func (x *transfer) abort() {
	x.aborted.Store(true)
	x.cancel()
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, cl := range x.closer {
		cl.Close()
	}
}

// A download sends in chunks, each bounded by the data timeout, so a
// stalled client cannot hold the transfer forever. A chunk starts at
// dataChunk and doubles, up to maxDataChunk, while chunks take under
// 1/64 of the data timeout, and halves again when one takes over 1/8 of
// it: a fast client gets fewer, larger sendfile calls (each one a
// system call and, in the Go runtime, a scheduler hand-off: at 1 MiB a
// GiB took about 1070 of them), and no chunk is larger than a client can
// take in 1/8 of the timeout at the pace it just showed.
const (
	dataChunk    = 1 << 20
	maxDataChunk = 16 << 20
)

// nextChunk sizes the chunk after one of size bytes that took el.
func nextChunk(size int64, el, timeout time.Duration) int64 {
	switch {
	case el < timeout/64 && size < maxDataChunk:
		return size * 2
	case el > timeout/8 && size > dataChunk:
		return size / 2
	}
	return size
}

// startTransfer runs work in the transfer goroutine: it sends 150, opens
// the data connection, runs work, closes the connection and sends the
// final reply. work returns the 226 text, or an error.
func (c *conn) startTransfer(what, opening string, work func(ctx context.Context, dc *dataConn, x *transfer) (string, error), cleanup func(error)) {
	if !c.haveDataAddr() {
		c.reply(425, "Use PORT, EPRT, PASV or EPSV first.")
		cleanup(errors.New("no data connection"))
		return
	}
	if c.dataTLSRequired() && !c.protP {
		c.reply(521, "Data connections must be protected: send PROT P.")
		cleanup(errors.New("data protection required"))
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	x := &transfer{what: what, cancel: cancel, done: make(chan struct{})}
	c.xmu.Lock()
	c.xfer = x
	c.armLocked()
	c.xmu.Unlock()
	go func() {
		defer close(x.done)
		defer cancel()
		c.reply(150, opening)
		dc, code, err := c.openData(ctx, x)
		if err != nil {
			cleanup(err)
			c.finishTransfer(x, code, err.Error())
			return
		}
		text, err := work(ctx, dc, x)
		cerr := dc.Close()
		if err == nil {
			err = cerr
		}
		if err == nil && x.aborted.Load() {
			err = errors.New("aborted")
		}
		cleanup(err)
		switch {
		case x.aborted.Load():
			c.finishTransfer(x, 426, "Connection closed; transfer aborted.")
		case err != nil:
			code, text := transferReply(err)
			c.finishTransfer(x, code, text)
		default:
			c.finishTransfer(x, 226, text)
		}
	}()
}

func (c *conn) finishTransfer(x *transfer, code int, text string) {
	c.reply(code, text)
	c.xmu.Lock()
	if c.xfer == x {
		c.xfer = nil
	}
	c.armLocked()
	c.xmu.Unlock()
}

// waitTransfer blocks until the running transfer (if any) has replied.
func (c *conn) waitTransfer() {
	c.xmu.Lock()
	x := c.xfer
	c.xmu.Unlock()
	if x != nil {
		<-x.done
	}
}

// abortTransfer serves ABOR while a transfer runs: the transfer replies
// 426, then ABOR gets 226.
func (c *conn) abortTransfer() {
	c.xmu.Lock()
	x := c.xfer
	c.xmu.Unlock()
	if x == nil {
		c.reply(225, "No transfer to abort.")
		return
	}
	x.abort()
	<-x.done
	c.reply(226, "ABOR command successful.")
}

func (c *conn) cmdRetr(arg string) {
	if arg == "" {
		c.reply(501, "RETR needs a path.")
		return
	}
	p, ok := c.path(arg)
	if !ok {
		return
	}
	off := c.rest
	dl, err := c.sess.OpenRead(c.ctx, p, off)
	if err != nil {
		c.serverErr(err)
		return
	}
	mode := "BINARY"
	if c.ascii {
		mode = "ASCII"
	}
	ascii := c.ascii
	opening := fmt.Sprintf("Opening %s mode data connection for %s (%d bytes).", mode, arg, dl.Size()-off)
	c.startTransfer("RETR "+arg, opening, func(ctx context.Context, dc *dataConn, x *transfer) (string, error) {
		var w io.Writer
		switch {
		case ascii:
			w = &toCRLF{w: dc.conn}
		case dc.conn == net.Conn(dc.tcp): // no TLS: sendfile
			w = newFileSender(dc.tcp, c.srv.opts.DataTimeout)
		default:
			w = dc.conn
		}
		size := int64(dataChunk)
		for {
			start := time.Now()
			_ = dc.tcp.SetWriteDeadline(start.Add(c.srv.opts.DataTimeout))
			n, err := dl.CopyTo(w, size)
			if err != nil {
				return "", err
			}
			if n < size {
				return "Transfer complete.", nil
			}
			size = nextChunk(size, time.Since(start), c.srv.opts.DataTimeout)
		}
	}, func(err error) {
		if err != nil {
			dl.Fail(err)
		} else {
			dl.Close()
		}
	})
}

func (c *conn) cmdStor(arg string, appendMode bool) {
	if arg == "" {
		c.reply(501, "STOR needs a path.")
		return
	}
	p, ok := c.path(arg)
	if !ok {
		return
	}
	c.store(p, arg, core.WriteOptions{Offset: c.rest, Append: appendMode}, "", "Transfer complete.")
}

func (c *conn) store(p, name string, o core.WriteOptions, opening, done string) {
	if o.Append {
		o.Offset = 0
	}
	up, err := c.sess.OpenWrite(c.ctx, p, o)
	if err != nil {
		c.serverErr(err)
		return
	}
	ascii := c.ascii
	if opening == "" {
		opening = "Opening BINARY mode data connection for " + name + "."
		if ascii {
			opening = "Opening ASCII mode data connection for " + name + "."
		}
	}
	c.startTransfer("STOR "+name, opening, func(ctx context.Context, dc *dataConn, x *transfer) (string, error) {
		var err error
		if ascii {
			_, err = io.Copy(up, &fromCRLF{r: dc.conn})
		} else {
			_, err = up.ReadFrom(dc.conn) // *net.TCPConn without TLS: splice
		}
		if errors.Is(err, ferry.ErrQuota) {
			drainRefused(dc.conn)
		}
		if err != nil {
			return "", err
		}
		if x.aborted.Load() {
			return "", errors.New("aborted")
		}
		if err := up.Commit(); err != nil {
			return "", err
		}
		if up.Path() != p { // rename-on-conflict chose another name
			return done + " Stored as " + path.Base(up.Path()) + ".", nil
		}
		return done, nil
	}, func(err error) {
		if err != nil {
			up.Abort(err)
		}
	})
}

// drainRefused reads and discards what a client still sends after an
// upload was refused for quota, so it sees the 552 instead of a connection
// reset; it gives up after 64 MiB or 10 seconds.
func drainRefused(r io.Reader) {
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = d.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<20))
}

func (c *conn) cmdStou(arg string) {
	base := "ferry"
	if arg != "" {
		base = arg
	}
	for i := 0; i < 10; i++ {
		name := base + "." + newID()[:8]
		p, ok := c.path(name)
		if !ok {
			return
		}
		if _, err := c.sess.Lstat(c.ctx, p); err == nil {
			continue
		}
		c.store(p, name, core.WriteOptions{}, "FILE: "+name, "Transfer complete (unique file name: "+name+").")
		return
	}
	c.reply(450, "Could not find a unique file name.")
}
