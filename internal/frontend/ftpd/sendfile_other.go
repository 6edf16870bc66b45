//go:build !linux

package ftpd

import (
	"io"
	"net"
	"time"
)

// Elsewhere a download uses Go's own sendfile path.
func newFileSender(tcp *net.TCPConn, _ time.Duration) io.Writer { return tcp }

// dataCloser closes a data connection for abort.
type dataCloser struct{ tcp *net.TCPConn }

func (d *dataCloser) Close() error { return d.tcp.Close() }
