package ftpwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxLine is the longest command line ReadCommand accepts (CRLF
// included). RFC 959 sets no limit; paths longer than this are not real.
const MaxLine = 4096

// ErrLineTooLong is returned by ReadCommand for a line over MaxLine; the
// rest of the line has been consumed, so the connection can go on.
var ErrLineTooLong = errors.New("ftpwire: command line too long")

// ErrBadCommand is returned for a line that is not an FTP command.
var ErrBadCommand = errors.New("ftpwire: malformed command")

// Command is one parsed command line: the verb in upper case and the
// argument exactly as sent (one space after the verb removed).
type Command struct {
	Verb string
	Arg  string
}

func (c Command) String() string {
	if c.Arg == "" {
		return c.Verb
	}
	return c.Verb + " " + c.Arg
}

// ParseCommand parses one command line without its line ending. Telnet
// IAC sequences (the IP and Synch clients send before ABOR) are removed.
// The verb must be 1–8 ASCII letters or digits.
func ParseCommand(line string) (Command, error) {
	line = StripTelnet(line)
	line = strings.TrimRight(line, "\r\n")
	// Leading garbage before a command can only be leftovers of an urgent
	// sequence; a command never starts with a space.
	verb, arg, _ := strings.Cut(line, " ")
	if len(verb) == 0 || len(verb) > 8 {
		return Command{}, fmt.Errorf("%w: %q", ErrBadCommand, truncate(line, 40))
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return Command{}, fmt.Errorf("%w: %q", ErrBadCommand, truncate(line, 40))
		}
	}
	return Command{Verb: strings.ToUpper(verb), Arg: arg}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// StripTelnet removes Telnet command sequences (IAC x, IAC WILL/WONT/DO/
// DONT opt) and turns IAC IAC into one 0xFF byte.
func StripTelnet(s string) string {
	if strings.IndexByte(s, 0xff) < 0 && strings.IndexByte(s, 0xf2) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != 0xff {
			// A lone Data Mark left by urgent data without its IAC.
			if c == 0xf2 && b.Len() == 0 {
				continue
			}
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			break
		}
		switch n := s[i+1]; {
		case n == 0xff:
			b.WriteByte(0xff)
			i++
		case n >= 251 && n <= 254: // WILL WONT DO DONT option
			i += 2
		default:
			i++
		}
	}
	return b.String()
}

// ReadLine reads one line ending in LF (a CR before it is removed). A line
// longer than MaxLine is consumed to its end and ErrLineTooLong returned.
// io.EOF means the peer closed; a partial last line is io.ErrUnexpectedEOF.
func ReadLine(r *bufio.Reader) (string, error) {
	var buf []byte
	tooLong := false
	for {
		frag, err := r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(frag) > MaxLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, frag...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return "", ErrLineTooLong
			}
			s := string(buf[:len(buf)-1])
			return strings.TrimSuffix(s, "\r"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) > 0 || tooLong {
				return "", io.ErrUnexpectedEOF
			}
			return "", io.EOF
		default:
			return "", err
		}
	}
}

// ReadCommand reads and parses one command line.
func ReadCommand(r *bufio.Reader) (Command, error) {
	line, err := ReadLine(r)
	if err != nil {
		return Command{}, err
	}
	return ParseCommand(line)
}
