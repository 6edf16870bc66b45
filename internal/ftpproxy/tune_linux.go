//go:build linux

package ftpproxy

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// spliceLowat is the receive low-water mark set on the sending side of a
// spliced data connection: the relay wakes when this many bytes wait (or
// at EOF, or when the receive window runs out) instead of once per
// loopback segment, so each splice moves more and the proxy spends less
// CPU per byte. A sender that stalls below it is flushed by the watch
// in batchReads.
const spliceLowat = 256 << 10

// stallCheck is how often batchReads looks for bytes held back by the
// low-water mark.
const stallCheck = 200 * time.Millisecond

// batchReads sets the low-water mark on c and returns a function that
// stops its watch. The watch drops the mark (back to 1 byte) for good
// once bytes sit below it unread for a whole check interval: a slow
// sender's data then flows as it comes.
func batchReads(c *net.TCPConn) (stop func()) {
	rc, err := c.SyscallConn()
	if err != nil {
		return func() {}
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, spliceLowat)
	}); err != nil || serr != nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(stallCheck)
		defer t.Stop()
		last := -1
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			queued := -1
			if rc.Control(func(fd uintptr) {
				queued, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
			}) != nil {
				return
			}
			if queued > 0 && queued < spliceLowat && queued == last {
				_ = rc.Control(func(fd uintptr) {
					_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, 1)
				})
				return
			}
			last = queued
		}
	}()
	return func() { close(done) }
}
