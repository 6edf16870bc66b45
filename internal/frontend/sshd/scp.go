package sshd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/vpath"
)

// scpArgs is a parsed `scp -t|-f [-r] [-p] [-d] [--] PATH` command.
type scpArgs struct {
	sink, source             bool
	recursive, preserve, dir bool
	path                     string
}

// parseSCP parses the arguments of an scp command. The path is the rest of
// the command taken literally — never through a shell, so `x;echo pwned`
// is a file name — except that one pair of enclosing quotes is removed.
func parseSCP(args string) (scpArgs, error) {
	var a scpArgs
	rest := strings.TrimLeft(args, " \t")
	for strings.HasPrefix(rest, "-") {
		word, after, _ := strings.Cut(rest, " ")
		rest = strings.TrimLeft(after, " \t")
		if word == "--" {
			break
		}
		for _, c := range word[1:] {
			switch c {
			case 't':
				a.sink = true
			case 'f':
				a.source = true
			case 'r':
				a.recursive = true
			case 'p':
				a.preserve = true
			case 'd':
				a.dir = true
			case 'v', 'q', 'E', 'O':
			default:
				return a, fmt.Errorf("unknown option -%c", c)
			}
		}
	}
	if a.sink == a.source {
		return a, errors.New("exactly one of -t and -f is required")
	}
	if n := len(rest); n >= 2 && (rest[0] == '\'' || rest[0] == '"') && rest[n-1] == rest[0] {
		rest = rest[1 : n-1]
	}
	if rest == "" {
		rest = "."
	}
	a.path = rest
	return a, nil
}

func runSCP(sess *core.Session, ch ssh.Channel, args string) uint32 {
	a, err := parseSCP(args)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "scp: %v\n", err)
		_, _ = ch.Write([]byte("\x02scp: " + err.Error() + "\n"))
		return 1
	}
	c := &scpConn{sess: sess, ch: ch, r: bufio.NewReaderSize(ch, 64<<10), args: a}
	if a.sink {
		err = c.sink()
	} else {
		err = c.sourceTop()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		sess.Logger().Info("scp ended", "err", err)
	}
	if c.failed || err != nil && !errors.Is(err, io.EOF) {
		return 1
	}
	return 0
}

type scpConn struct {
	sess   *core.Session
	ch     ssh.Channel
	r      *bufio.Reader
	args   scpArgs
	failed bool
}

// errFatal ends the transfer; other errors were reported and skipped.
var errFatal = errors.New("scp: fatal protocol error")

func (c *scpConn) ok() error {
	_, err := c.ch.Write([]byte{0})
	return err
}

// warn reports a per-file error (the client prints it and goes on).
func (c *scpConn) warn(p string, err error) error {
	c.failed = true
	_, msg := status(err)
	_, werr := fmt.Fprintf(c.ch, "\x01scp: %s: %s\n", p, msg)
	return werr
}

func (c *scpConn) fatal(msg string) error {
	c.failed = true
	_, _ = fmt.Fprintf(c.ch, "\x02scp: %s\n", msg)
	return errFatal
}

// line reads one protocol line (without the newline).
func (c *scpConn) line() (string, error) {
	b, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", c.fatal("protocol line too long")
	}
	if err != nil {
		return "", err
	}
	return string(b[:len(b)-1]), nil
}

// ack reads the client's reply to something we sent.
func (c *scpConn) ack() error {
	b, err := c.r.ReadByte()
	if err != nil {
		return err
	}
	if b == 0 {
		return nil
	}
	msg, _ := c.line()
	if b == 1 {
		return fmt.Errorf("client: %s", msg)
	}
	return fmt.Errorf("client: %s: %w", msg, errFatal)
}

// parseSCPHeader parses a C or D line: "C0644 1234 name".
func parseSCPHeader(l string) (mode fs.FileMode, size int64, name string, err error) {
	if len(l) < 2 {
		return 0, 0, "", errors.New("short header")
	}
	fields := strings.SplitN(l[1:], " ", 3)
	if len(fields) != 3 {
		return 0, 0, "", fmt.Errorf("bad header %q", l)
	}
	m, err := strconv.ParseUint(fields[0], 8, 32)
	if err != nil {
		return 0, 0, "", fmt.Errorf("bad mode in %q", l)
	}
	size, err = strconv.ParseInt(fields[1], 10, 64)
	if err != nil || size < 0 {
		return 0, 0, "", fmt.Errorf("bad size in %q", l)
	}
	name = fields[2]
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return 0, 0, "", fmt.Errorf("unexpected file name %q", name)
	}
	return fs.FileMode(m) & fs.ModePerm, size, name, nil
}

// parseSCPTimes parses "T<mtime> 0 <atime> 0".
func parseSCPTimes(l string) (mtime, atime time.Time, err error) {
	f := strings.Fields(l[1:])
	if len(f) != 4 {
		return mtime, atime, fmt.Errorf("bad time line %q", l)
	}
	m, err1 := strconv.ParseInt(f[0], 10, 64)
	a, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || m < 0 || a < 0 {
		return mtime, atime, fmt.Errorf("bad time line %q", l)
	}
	return time.Unix(m, 0), time.Unix(a, 0), nil
}

type scpDir struct {
	path  string
	times *[2]time.Time
}

// sink receives files (scp -t).
func (c *scpConn) sink() error {
	ctx := c.sess.Context()
	target := c.args.path
	fi, err := c.sess.Stat(ctx, target)
	targetIsDir := err == nil && fi.IsDir()
	if c.args.dir && !targetIsDir {
		return c.fatal(target + ": Not a directory")
	}
	if err := c.ok(); err != nil {
		return err
	}
	var stack []scpDir
	var times *[2]time.Time
	for {
		l, err := c.line()
		if err != nil {
			return err
		}
		if l == "" {
			return c.fatal("empty protocol line")
		}
		switch l[0] {
		case 1, 2:
			c.failed = true
			if l[0] == 2 {
				return errFatal
			}
		case 'T':
			mt, at, err := parseSCPTimes(l)
			if err != nil {
				return c.fatal(err.Error())
			}
			times = &[2]time.Time{at, mt}
			if err := c.ok(); err != nil {
				return err
			}
		case 'E':
			if len(stack) == 0 {
				return c.fatal("unexpected end of directory")
			}
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if d.times != nil {
				_ = c.sess.Chtimes(ctx, d.path, d.times[0], d.times[1])
			}
			if err := c.ok(); err != nil {
				return err
			}
		case 'D':
			mode, _, name, err := parseSCPHeader(l)
			if err != nil {
				return c.fatal(err.Error())
			}
			if !c.args.recursive {
				return c.fatal("received a directory without -r")
			}
			var p string
			switch {
			case len(stack) > 0:
				p, err = vpath.Join(stack[len(stack)-1].path, name)
			case targetIsDir:
				p, err = vpath.Join(target, name)
			default:
				// Like OpenSSH: a missing target becomes the directory.
				p, err = vpath.Join("/", target)
			}
			if err == nil {
				err = c.mkdir(p)
			}
			if err != nil {
				// The client skips the directory's content (no E follows).
				if werr := c.warn(p, err); werr != nil {
					return werr
				}
				times = nil
				continue
			}
			if c.args.preserve && c.sess.Can(ferry.PermChmod, p) {
				_ = c.sess.Chmod(ctx, p, mode)
			}
			stack = append(stack, scpDir{path: p, times: times})
			times = nil
			if err := c.ok(); err != nil {
				return err
			}
		case 'C':
			mode, size, name, err := parseSCPHeader(l)
			if err != nil {
				return c.fatal(err.Error())
			}
			var p string
			switch {
			case len(stack) > 0:
				p, err = vpath.Join(stack[len(stack)-1].path, name)
			case targetIsDir:
				p, err = vpath.Join(target, name)
			default:
				p, err = vpath.Join("/", target)
			}
			if err := c.receive(p, err, mode, size, times); err != nil {
				return err
			}
			times = nil
		default:
			return c.fatal(fmt.Sprintf("unexpected protocol line %q", l))
		}
	}
}

func (c *scpConn) mkdir(p string) error {
	ctx := c.sess.Context()
	if fi, err := c.sess.Stat(ctx, p); err == nil {
		if fi.IsDir() {
			return nil
		}
		return ferry.ErrNotDir
	}
	return c.sess.Mkdir(ctx, p)
}

// receive stores one file of size bytes at p.
func (c *scpConn) receive(p string, perr error, mode fs.FileMode, size int64, times *[2]time.Time) error {
	ctx := c.sess.Context()
	var up *core.Upload
	err := perr
	if err == nil {
		up, err = c.sess.OpenWrite(ctx, p, core.WriteOptions{})
	}
	if err != nil {
		// OpenSSH's client skips the file's data when its header is refused.
		return c.warn(p, err)
	}
	if err := c.ok(); err != nil {
		_ = up.Abort(err)
		return err
	}
	// Exactly size bytes, read straight from the channel into the
	// upload's buffer once the line reader's few buffered bytes are used.
	n, werr := up.ReadFrom(io.LimitReader(direct{c.r, c.ch}, size))
	if werr == nil && n < size {
		werr = io.ErrUnexpectedEOF
	}
	if werr != nil && n < size {
		// Keep the stream in step: drain what the client still sends.
		if _, err := io.CopyN(io.Discard, c.r, size-n); err != nil {
			_ = up.Abort(err)
			return err
		}
	}
	if err := c.ack(); err != nil {
		_ = up.Abort(err)
		if errors.Is(err, errFatal) {
			return err
		}
		c.failed = true
		return nil
	}
	if werr != nil {
		_ = up.Abort(werr)
		return c.warn(p, werr)
	}
	if err := up.Commit(); err != nil {
		return c.warn(p, err)
	}
	if c.args.preserve {
		if c.sess.Can(ferry.PermChmod, p) {
			_ = c.sess.Chmod(ctx, p, mode)
		}
		if times != nil {
			_ = c.sess.Chtimes(ctx, p, times[0], times[1])
		}
	}
	return c.ok()
}

// direct reads what r has buffered, then from ch itself: large reads skip
// a copy through r's buffer (and the SSH channel adjusts its window once per
// read rather than once per 64 KiB). Whoever reads r afterwards loses
// nothing, as r held nothing when ch was read.
type direct struct {
	r  *bufio.Reader
	ch io.Reader
}

func (d direct) Read(p []byte) (int, error) {
	if d.r.Buffered() > 0 {
		return d.r.Read(p)
	}
	return d.ch.Read(p)
}

// sourceTop sends the requested path (scp -f).
func (c *scpConn) sourceTop() error {
	if err := c.ack(); err != nil { // the client's go-ahead
		return err
	}
	p := c.args.path
	fi, err := c.sess.Stat(c.sess.Context(), p)
	if err != nil {
		return c.warn(p, err)
	}
	return c.send(p, fi)
}

func (c *scpConn) send(p string, fi fs.FileInfo) error {
	ctx := c.sess.Context()
	if fi.IsDir() && !c.args.recursive {
		return c.warn(p, fmt.Errorf("not a regular file: %w", ferry.ErrIsDir))
	}
	if c.args.preserve {
		t := fi.ModTime().Unix()
		if _, err := fmt.Fprintf(c.ch, "T%d 0 %d 0\n", t, t); err != nil {
			return err
		}
		if err := c.ack(); err != nil {
			return c.skip(err)
		}
	}
	name := vpath.Base(mustClean(p))
	if name == "/" {
		name = "."
	}
	if fi.IsDir() {
		if _, err := fmt.Fprintf(c.ch, "D%04o 0 %s\n", fi.Mode().Perm(), name); err != nil {
			return err
		}
		if err := c.ack(); err != nil {
			return c.skip(err)
		}
		for child, err := range c.sess.List(ctx, p) {
			if err != nil {
				if werr := c.warn(p, err); werr != nil {
					return werr
				}
				break
			}
			cp, jerr := vpath.Join(mustClean(p), child.Name())
			if jerr != nil {
				continue
			}
			if child.Mode()&fs.ModeSymlink != 0 {
				st, err := c.sess.Stat(ctx, cp)
				if err != nil {
					continue
				}
				child = st
			}
			if !child.IsDir() && !child.Mode().IsRegular() {
				continue
			}
			if err := c.send(cp, child); err != nil {
				return err
			}
		}
		if _, err := c.ch.Write([]byte("E\n")); err != nil {
			return err
		}
		return c.skip(c.ack())
	}
	dl, err := c.sess.OpenRead(ctx, p, 0)
	if err != nil {
		return c.warn(p, err)
	}
	size := dl.Size()
	if _, err := fmt.Fprintf(c.ch, "C%04o %d %s\n", fi.Mode().Perm(), size, name); err != nil {
		_ = dl.Fail(err)
		return err
	}
	if err := c.ack(); err != nil {
		_ = dl.Fail(err)
		return c.skip(err)
	}
	n, err := dl.CopyTo(c.ch, size)
	if err == nil && n < size {
		// The file shrank: pad so the stream stays in step, report failure.
		_, err = io.CopyN(c.ch, zeroReader{}, size-n)
		if err == nil {
			_ = dl.Fail(io.ErrUnexpectedEOF)
			_ = c.warn(p, fmt.Errorf("file shrank while sent: %w", io.ErrUnexpectedEOF))
			return c.skip(c.ack())
		}
	}
	if err != nil {
		_ = dl.Fail(err)
		return err
	}
	if err := c.ok(); err != nil {
		_ = dl.Fail(err)
		return err
	}
	if err := c.ack(); err != nil {
		_ = dl.Fail(err)
		return c.skip(err)
	}
	return dl.Close()
}

// skip turns a client's per-file error into a note and keeps going; a fatal
// one ends the transfer.
func (c *scpConn) skip(err error) error {
	if err == nil {
		return nil
	}
	c.failed = true
	if errors.Is(err, errFatal) || errors.Is(err, io.EOF) {
		return err
	}
	c.sess.Logger().Info("scp client reported", "err", err)
	return nil
}

func mustClean(p string) string {
	vp, err := vpath.Clean(p)
	if err != nil {
		return "/"
	}
	return vp
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
