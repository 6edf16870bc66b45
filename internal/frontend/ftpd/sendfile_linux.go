package ftpd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A plain binary download goes out with sendfile(2) on a socket switched
// to blocking mode for the call: the kernel sleeps until the socket
// drains and carries on, where Go's runtime sendfile returns at every
// full socket buffer, parks the goroutine and comes back through the
// poller (a measured 15 % of the server's CPU per GiB on loopback).
// SO_SNDTIMEO keeps the data timeout; abort shuts the socket down, which
// wakes the sleeping call. Each such send holds an OS thread, so at most
// blockingSends run at once; the others take Go's path.
const blockingSends = 128

var sendSlots = make(chan struct{}, blockingSends)

// fileSender is the io.Writer a RETR writes to; io.Copy from a file lands
// in ReadFrom.
type fileSender struct {
	tcp     *net.TCPConn
	timeout time.Duration
}

func newFileSender(tcp *net.TCPConn, timeout time.Duration) io.Writer {
	return &fileSender{tcp: tcp, timeout: timeout}
}

func (s *fileSender) Write(p []byte) (int, error) { return s.tcp.Write(p) }

// ReadFrom sends r (a file, or a file limited by an io.LimitedReader);
// anything else, or every slot taken, goes through the TCP connection's
// own ReadFrom.
func (s *fileSender) ReadFrom(r io.Reader) (int64, error) {
	remain := int64(-1)
	lr, limited := r.(*io.LimitedReader)
	src := r
	if limited {
		remain, src = lr.N, lr.R
		if remain <= 0 {
			return 0, nil
		}
	}
	sc, ok := src.(syscall.Conn)
	if !ok {
		return s.tcp.ReadFrom(r)
	}
	select {
	case sendSlots <- struct{}{}:
		defer func() { <-sendSlots }()
	default:
		return s.tcp.ReadFrom(r)
	}
	srcRC, err := sc.SyscallConn()
	if err != nil {
		return s.tcp.ReadFrom(r)
	}
	dstRC, err := s.tcp.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int64
	var serr error
	cerr := dstRC.Control(func(dst uintptr) {
		rerr := srcRC.Control(func(fd uintptr) {
			n, serr = s.send(int(dst), int(fd), remain)
		})
		if serr == nil {
			serr = rerr
		}
	})
	if limited {
		lr.N -= n
	}
	if serr == nil {
		serr = cerr
	}
	return n, serr
}

// send runs sendfile from src's current offset until remain bytes (all
// when negative) went out or the file ended.
func (s *fileSender) send(dst, src int, remain int64) (int64, error) {
	if err := unix.SetNonblock(dst, false); err != nil {
		return 0, fmt.Errorf("sendfile: %w", err)
	}
	defer unix.SetNonblock(dst, true)
	tv := unix.NsecToTimeval(s.timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(dst, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return 0, fmt.Errorf("sendfile: %w", err)
	}
	var total int64
	for remain != 0 {
		step := 1 << 30
		if remain > 0 && remain < int64(step) {
			step = int(remain)
		}
		m, err := unix.Sendfile(dst, src, nil, step)
		if m > 0 {
			total += int64(m)
			if remain > 0 {
				remain -= int64(m)
			}
		}
		switch {
		case err == nil && m == 0:
			return total, nil // end of file
		case err == nil, errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			// SO_SNDTIMEO passed without the client taking a byte.
			return total, fmt.Errorf("sendfile: %w", os.ErrDeadlineExceeded)
		default:
			return total, fmt.Errorf("sendfile: %w", err)
		}
	}
	return total, nil
}

// dataCloser closes a plain data connection for abort: it shuts the
// socket down first, which wakes a blocking sendfile (Close alone would
// wait for it to return).
type dataCloser struct {
	tcp  *net.TCPConn
	once sync.Once
}

func (d *dataCloser) Close() error {
	d.once.Do(func() {
		if rc, err := d.tcp.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RDWR) })
		}
	})
	return d.tcp.Close()
}
