package ftpd

import (
	"bytes"
	"fmt"
	"io"
)

// transferStatus is STAT's answer during a transfer.
func (c *conn) transferStatus(x *transfer) string {
	if c.sess != nil {
		if t := c.sess.Info().Transfer; t != nil {
			return fmt.Sprintf("%s, %d bytes transferred", x.what, t.Bytes)
		}
	}
	return x.what + " in progress"
}

// toCRLF converts LF line ends to CRLF for TYPE A downloads; a CR
// already before the LF is kept as is.
type toCRLF struct {
	w      io.Writer
	lastCR bool
	buf    []byte
}

func (t *toCRLF) Write(p []byte) (int, error) {
	t.buf = t.buf[:0]
	for _, b := range p {
		if b == '\n' && !t.lastCR {
			t.buf = append(t.buf, '\r')
		}
		t.buf = append(t.buf, b)
		t.lastCR = b == '\r'
	}
	if _, err := t.w.Write(t.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fromCRLF converts CRLF to LF for TYPE A uploads. A CR not followed by
// LF is kept.
type fromCRLF struct {
	r         io.Reader
	pendingCR bool
	buf       []byte
}

func (f *fromCRLF) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if cap(f.buf) < len(p) {
		f.buf = make([]byte, len(p))
	}
	for {
		n, err := f.r.Read(f.buf[:len(p)-1])
		out := p[:0]
		in := f.buf[:n]
		if f.pendingCR && n > 0 {
			if in[0] != '\n' {
				out = append(out, '\r')
			}
			f.pendingCR = false
		}
		for len(in) > 0 {
			i := bytes.IndexByte(in, '\r')
			if i < 0 {
				out = append(out, in...)
				break
			}
			out = append(out, in[:i]...)
			switch {
			case i+1 == len(in):
				f.pendingCR = true
			case in[i+1] != '\n':
				out = append(out, '\r')
			}
			in = in[i+1:]
		}
		if err == io.EOF && f.pendingCR {
			out = append(out, '\r')
			f.pendingCR = false
		}
		if len(out) > 0 || err != nil {
			return len(out), err
		}
	}
}
