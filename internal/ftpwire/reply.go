package ftpwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Reply is a server reply: a three-digit code and one or more lines of
// text.
type Reply struct {
	Code  int
	Lines []string
}

// Text is the reply's lines joined with newlines.
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// AppendReply appends the wire form of a reply. One line gives
// "CODE text\r\n". Several give RFC 959's multi-line form: "CODE-first",
// the middle lines each prefixed with a space (so none can be taken for
// the end, whatever it starts with), and "CODE last". CR and LF inside a
// line are replaced by spaces so text can never inject a reply.
func AppendReply(b []byte, code int, lines ...string) []byte {
	if len(lines) == 0 {
		lines = []string{""}
	}
	c := strconv.Itoa(code)
	for i, l := range lines {
		l = sanitize(l)
		switch {
		case len(lines) == 1:
			b = append(b, c...)
			b = append(b, ' ')
		case i == 0:
			b = append(b, c...)
			b = append(b, '-')
		case i == len(lines)-1:
			b = append(b, c...)
			b = append(b, ' ')
		default:
			b = append(b, ' ')
		}
		b = append(b, l...)
		b = append(b, '\r', '\n')
	}
	return b
}

func sanitize(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// FormatReply returns the wire form of a reply.
func FormatReply(code int, lines ...string) string {
	return string(AppendReply(nil, code, lines...))
}

// ErrBadReply is returned by ReadReply for a line that is not a reply.
var ErrBadReply = errors.New("ftpwire: malformed reply")

// ReadReply reads one reply, single or multi-line (for clients and the
// proxy). Lines of a multi-line reply are returned without their code
// prefix on the first and last line, and as sent in between.
func ReadReply(r *bufio.Reader) (Reply, error) {
	line, err := ReadLine(r)
	if err != nil {
		return Reply{}, err
	}
	code, sep, text, err := splitReply(line)
	if err != nil {
		return Reply{}, err
	}
	rep := Reply{Code: code, Lines: []string{text}}
	if sep == ' ' {
		return rep, nil
	}
	prefix := line[:3] + " "
	for n := 0; n < 10000; n++ {
		l, err := ReadLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Reply{}, err
		}
		if strings.HasPrefix(l, prefix) || l == line[:3] {
			rep.Lines = append(rep.Lines, strings.TrimPrefix(l, prefix))
			return rep, nil
		}
		rep.Lines = append(rep.Lines, l)
	}
	return Reply{}, fmt.Errorf("%w: multi-line reply too long", ErrBadReply)
}

func splitReply(line string) (code int, sep byte, text string, err error) {
	if len(line) < 3 {
		return 0, 0, "", fmt.Errorf("%w: %q", ErrBadReply, truncate(line, 40))
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, 0, "", fmt.Errorf("%w: %q", ErrBadReply, truncate(line, 40))
		}
	}
	code, _ = strconv.Atoi(line[:3])
	if code < 100 || code > 599 {
		return 0, 0, "", fmt.Errorf("%w: code %d", ErrBadReply, code)
	}
	if len(line) == 3 {
		return code, ' ', "", nil
	}
	if line[3] != ' ' && line[3] != '-' {
		return 0, 0, "", fmt.Errorf("%w: %q", ErrBadReply, truncate(line, 40))
	}
	return code, line[3], line[4:], nil
}

// WriteReply writes one reply to w and flushes it when w is a
// *bufio.Writer.
func WriteReply(w io.Writer, code int, lines ...string) error {
	_, err := w.Write(AppendReply(nil, code, lines...))
	if err == nil {
		if bw, ok := w.(*bufio.Writer); ok {
			err = bw.Flush()
		}
	}
	return err
}
