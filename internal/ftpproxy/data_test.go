package ftpproxy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan *net.TCPConn, 1)
	go func() { c, _ := ln.AcceptTCP(); ch <- c }()
	a, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	b = <-ch
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// Small writes pass through the spliced relay as they come (a sender that
// waits for its bytes to arrive before closing must not stall), and the
// count is exact.
func TestRelaySmallWritesFlowBeforeEOF(t *testing.T) {
	sender, srcIn := tcpPair(t)
	dstOut, receiver := tcpPair(t)
	type res struct {
		n   int64
		err error
	}
	done := make(chan res, 1)
	go func() { n, err := relay(dstOut, srcIn); dstOut.CloseWrite(); done <- res{n, err} }()
	msg := []byte("hello, slow sender")
	for range 3 {
		if _, err := sender.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		// a hang guard, not a timing assertion
		_ = receiver.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := io.ReadFull(receiver, got); err != nil {
			t.Fatalf("bytes held back: %v", err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("got %q", got)
		}
	}
	sender.CloseWrite()
	r := <-done
	if r.err != nil || r.n != int64(3*len(msg)) {
		t.Fatalf("relay = %d, %v; want %d, nil", r.n, r.err, 3*len(msg))
	}
	if rest, _ := io.ReadAll(receiver); len(rest) != 0 {
		t.Fatalf("extra bytes %q", rest)
	}
}
