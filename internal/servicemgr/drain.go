package servicemgr

import (
	"net"
	"sync"
)

// drainListener lets the manager close a service's socket while its
// Runner keeps serving the connections it has: after drain, Accept blocks
// until Close (the Runner's own shutdown when its context ends) instead of
// failing, so the Runner does not take the closed socket for an error and
// cut its sessions before the grace period is over.
type drainListener struct {
	net.Listener
	mu       sync.Mutex
	draining bool
	closed   chan struct{}
	once     sync.Once
}

func newDrainListener(ln net.Listener) *drainListener {
	return &drainListener{Listener: ln, closed: make(chan struct{})}
}

func (l *drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		l.mu.Lock()
		draining := l.draining
		l.mu.Unlock()
		if draining {
			<-l.closed
			return nil, net.ErrClosed
		}
	}
	return c, err
}

// drain closes the socket; Accept then waits for Close.
func (l *drainListener) drain() {
	l.mu.Lock()
	l.draining = true
	l.mu.Unlock()
	l.Listener.Close()
}

func (l *drainListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}
