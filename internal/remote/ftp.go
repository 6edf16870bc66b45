package remote

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ftpwire"
)

// ftpFS is an FTP or FTPS client on one control connection.
type ftpFS struct {
	conn    net.Conn
	r       *bufio.Reader
	tls     *tls.Config // nil for plain FTP
	prot    bool        // data connections are protected (PROT P)
	feats   map[string]string
	noEPSV  bool
	active  bool
	timeout time.Duration
	log     *slog.Logger
	home    string
	hashSet string // the algorithm OPTS HASH last selected
}

// ftpError is a reply that was not the one expected.
type ftpError struct {
	cmd string
	rep ftpwire.Reply
}

func (e *ftpError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.cmd, e.rep.Code, strings.Join(e.rep.Lines, " "))
}

// Is classifies FTP reply codes into the package's error kinds.
func (e *ftpError) Is(target error) bool {
	text := strings.ToLower(e.rep.Text())
	switch e.rep.Code {
	case 530:
		return target == ErrAuth
	case 552, 452:
		return target == ErrNoSpace
	case 553:
		return target == fs.ErrPermission
	case 500, 502, 504:
		return target == errors.ErrUnsupported
	case 550:
		if strings.Contains(text, "permission") || strings.Contains(text, "denied") {
			return target == fs.ErrPermission
		}
		if strings.Contains(text, "exist") && !strings.Contains(text, "not exist") && !strings.Contains(text, "no such") {
			return target == fs.ErrExist
		}
		return target == fs.ErrNotExist
	}
	return false
}

func dialFTP(ctx context.Context, l Location, pass string, o Options) (*ftpFS, error) {
	host, port := l.Host, ""
	if h, p, err := net.SplitHostPort(l.Host); err == nil {
		host, port = h, p
	}
	if port == "" {
		port = "21"
		if l.Scheme == "ftps-implicit" {
			port = "990"
		}
	}
	d := net.Dialer{Timeout: o.Timeout}
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	c := &ftpFS{conn: raw, timeout: o.Timeout, log: o.Logger, active: o.Active}
	if l.Scheme != "ftp" {
		c.tls = &tls.Config{ServerName: host, InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12,
			ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	}
	if err := c.login(ctx, l, pass); err != nil {
		c.conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *ftpFS) login(ctx context.Context, l Location, pass string) error {
	if l.Scheme == "ftps-implicit" {
		if err := c.startTLS(ctx); err != nil {
			return err
		}
	}
	c.r = bufio.NewReader(c.conn)
	if _, err := c.expect(ctx, "greeting", 2); err != nil {
		return err
	}
	if l.Scheme == "ftps" {
		if _, err := c.cmd(ctx, 2, "AUTH TLS"); err != nil {
			return err
		}
		if err := c.startTLS(ctx); err != nil {
			return err
		}
		c.r = bufio.NewReader(c.conn)
	}
	user := l.User
	if user == "" {
		user, pass = "anonymous", "ferry@"
	}
	rep, err := c.send(ctx, "USER "+user)
	if err == nil && rep.Code == 331 {
		rep, err = c.sendSecret(ctx, "PASS "+pass)
	}
	if err != nil {
		return err
	}
	if rep.Code/100 != 2 {
		return fmt.Errorf("login as %s: %w", user, &ftpError{"PASS", rep})
	}
	if c.tls != nil {
		if _, err := c.cmd(ctx, 2, "PBSZ 0"); err != nil {
			return err
		}
		if _, err := c.cmd(ctx, 2, "PROT P"); err != nil {
			return err
		}
		c.prot = true
	}
	c.feats = map[string]string{}
	if rep, err := c.send(ctx, "FEAT"); err == nil && rep.Code == 211 {
		for _, line := range rep.Lines[1 : len(rep.Lines)-1] {
			k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
			c.feats[strings.ToUpper(k)] = v
		}
	}
	if _, ok := c.feats["UTF8"]; ok {
		c.send(ctx, "OPTS UTF8 ON")
	}
	if _, err := c.cmd(ctx, 2, "TYPE I"); err != nil {
		return err
	}
	c.home = "/"
	if rep, err := c.send(ctx, "PWD"); err == nil && rep.Code == 257 {
		if q := rep.Lines[0]; strings.HasPrefix(q, `"`) {
			if end := strings.LastIndex(q, `"`); end > 0 {
				c.home = strings.ReplaceAll(q[1:end], `""`, `"`)
			}
		}
	}
	return nil
}

func (c *ftpFS) startTLS(ctx context.Context) error {
	tc := tls.Client(c.conn, c.tls)
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	c.conn = tc
	return nil
}

// abs turns a location path into the server's path; "/~" is the home.
func (c *ftpFS) abs(p string) string {
	if p == "/~" || strings.HasPrefix(p, "/~/") {
		return path.Join(c.home, strings.TrimPrefix(p, "/~"))
	}
	return p
}

func (c *ftpFS) deadline(ctx context.Context) {
	d := time.Now().Add(c.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	c.conn.SetDeadline(d)
}

// send writes a command and reads its first reply.
func (c *ftpFS) send(ctx context.Context, line string) (ftpwire.Reply, error) {
	c.log.Debug("ftp >", "cmd", line)
	return c.sendSecret(ctx, line)
}

// sendSecret is send without logging the line.
func (c *ftpFS) sendSecret(ctx context.Context, line string) (ftpwire.Reply, error) {
	if strings.ContainsAny(line, "\r\n") {
		return ftpwire.Reply{}, fmt.Errorf("%q: %w", line, errors.New("line break in a command argument"))
	}
	c.deadline(ctx)
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		return ftpwire.Reply{}, err
	}
	return c.read(ctx)
}

func (c *ftpFS) read(ctx context.Context) (ftpwire.Reply, error) {
	c.deadline(ctx)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	rep, err := ftpwire.ReadReply(c.r)
	if err != nil {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		return rep, fmt.Errorf("control connection: %w", err)
	}
	c.log.Debug("ftp <", "code", rep.Code, "text", rep.Lines[0])
	return rep, nil
}

// expect reads a reply and checks its class.
func (c *ftpFS) expect(ctx context.Context, what string, class int) (ftpwire.Reply, error) {
	rep, err := c.read(ctx)
	if err != nil {
		return rep, err
	}
	if rep.Code/100 != class {
		return rep, &ftpError{what, rep}
	}
	return rep, nil
}

// cmd sends a command and checks the reply's class.
func (c *ftpFS) cmd(ctx context.Context, class int, line string) (ftpwire.Reply, error) {
	rep, err := c.send(ctx, line)
	if err != nil {
		return rep, err
	}
	if rep.Code/100 != class {
		verb, arg, _ := strings.Cut(line, " ")
		return rep, &ftpError{strings.TrimSpace(verb + " " + arg), rep}
	}
	return rep, nil
}

func (c *ftpFS) Close() error {
	c.conn.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c.conn, "QUIT\r\n")
	return c.conn.Close()
}

func (c *ftpFS) Stat(ctx context.Context, p string) (Entry, error) {
	p = c.abs(p)
	if _, ok := c.feats["MLST"]; ok {
		rep, err := c.send(ctx, "MLST "+p)
		if err != nil {
			return Entry{}, err
		}
		if rep.Code/100 != 2 {
			return Entry{}, fmt.Errorf("stat %s: %w", p, &ftpError{"MLST", rep})
		}
		for _, line := range rep.Lines {
			if facts, _, err := ftpwire.ParseMLSx(line); err == nil {
				e := entryFromFacts(facts, path.Base(p))
				return e, nil
			}
		}
		return Entry{}, fmt.Errorf("stat %s: MLST reply has no facts", p)
	}
	rep, err := c.send(ctx, "SIZE "+p)
	if err != nil {
		return Entry{}, err
	}
	if rep.Code == 213 {
		e := Entry{Name: path.Base(p)}
		e.Size, _ = strconv.ParseInt(strings.TrimSpace(rep.Lines[0]), 10, 64)
		if rep, err := c.send(ctx, "MDTM "+p); err == nil && rep.Code == 213 {
			e.ModTime, _ = ftpwire.ParseTime(strings.TrimSpace(rep.Lines[0]))
		}
		return e, nil
	}
	if rep, err := c.send(ctx, "CWD "+p); err != nil {
		return Entry{}, err
	} else if rep.Code/100 == 2 {
		return Entry{Name: path.Base(p), Dir: true}, nil
	}
	return Entry{}, fmt.Errorf("stat %s: %w", p, fs.ErrNotExist)
}

func entryFromFacts(facts map[string]string, name string) Entry {
	e := Entry{Name: name}
	switch strings.ToLower(facts["type"]) {
	case "dir", "cdir", "pdir":
		e.Dir = true
	}
	e.Size, _ = strconv.ParseInt(facts["size"], 10, 64)
	if m, ok := facts["modify"]; ok {
		e.ModTime, _ = ftpwire.ParseTime(m)
	}
	return e
}

func (c *ftpFS) List(ctx context.Context, dir string) ([]Entry, error) {
	dir = c.abs(dir)
	_, mlsd := c.feats["MLST"]
	verb := "LIST "
	if mlsd {
		verb = "MLSD "
	}
	rc, err := c.retrieve(ctx, verb+dir, 0)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []Entry
	br := bufio.NewReader(rc)
	now := time.Now()
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			if mlsd {
				if facts, name, perr := ftpwire.ParseMLSx(line); perr == nil {
					if t := strings.ToLower(facts["type"]); t != "cdir" && t != "pdir" && name != "." && name != ".." {
						out = append(out, entryFromFacts(facts, name))
					}
				}
			} else if le, perr := ftpwire.ParseList(line, now); perr == nil && le.Name != "." && le.Name != ".." {
				out = append(out, Entry{Name: path.Base(le.Name), Size: le.Size, ModTime: le.ModTime, Dir: le.Dir})
			}
		}
		if err != nil {
			if err != io.EOF {
				rc.Close()
				return nil, fmt.Errorf("list %s: %w", dir, err)
			}
			break
		}
	}
	if err := rc.Close(); err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return out, nil
}

func (c *ftpFS) Open(ctx context.Context, p string, off int64) (io.ReadCloser, error) {
	p = c.abs(p)
	rc, err := c.retrieve(ctx, "RETR "+p, off)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return rc, nil
}

func (c *ftpFS) Create(ctx context.Context, p string, off int64) (Writer, error) {
	p = c.abs(p)
	dc, err := c.transfer(ctx, "STOR "+p, off)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", p, err)
	}
	return &ftpWriter{c: c, ctx: ctx, dc: dc, p: p}, nil
}

func (c *ftpFS) Rename(ctx context.Context, from, to string) error {
	from, to = c.abs(from), c.abs(to)
	if _, err := c.cmd(ctx, 3, "RNFR "+from); err != nil {
		return fmt.Errorf("rename %s: %w", from, err)
	}
	if _, err := c.cmd(ctx, 2, "RNTO "+to); err != nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, err)
	}
	return nil
}

func (c *ftpFS) Remove(ctx context.Context, p string) error {
	_, err := c.cmd(ctx, 2, "DELE "+c.abs(p))
	return err
}

func (c *ftpFS) Rmdir(ctx context.Context, p string) error {
	_, err := c.cmd(ctx, 2, "RMD "+c.abs(p))
	return err
}

func (c *ftpFS) Mkdir(ctx context.Context, p string) error {
	_, err := c.cmd(ctx, 2, "MKD "+c.abs(p))
	return err
}

var ftpHashNames = map[string]string{"sha256": "SHA-256", "sha1": "SHA-1", "md5": "MD5", "sha512": "SHA-512"}

// Hash asks the server: HASH (draft-bryan-ftpext-hash) when offered, else
// the X-commands (XSHA256, XSHA1, XMD5).
func (c *ftpFS) Hash(ctx context.Context, p, algo string) ([]byte, error) {
	p = c.abs(p)
	name, ok := ftpHashNames[algo]
	if !ok {
		return nil, fmt.Errorf("hash %s: %w", algo, errors.ErrUnsupported)
	}
	if list, ok := c.feats["HASH"]; ok && strings.Contains(strings.ToUpper(list), name) {
		if c.hashSet != name {
			if _, err := c.cmd(ctx, 2, "OPTS HASH "+name); err != nil {
				return nil, err
			}
			c.hashSet = name
		}
		rep, err := c.cmd(ctx, 2, "HASH "+p)
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", p, err)
		}
		// "SHA-256 0-1234 hexdigest name"
		f := strings.Fields(rep.Lines[0])
		if len(f) >= 3 {
			if sum, err := hex.DecodeString(f[2]); err == nil {
				return sum, nil
			}
		}
		return nil, fmt.Errorf("hash %s: unreadable reply %q", p, rep.Lines[0])
	}
	x := map[string]string{"sha256": "XSHA256", "sha1": "XSHA1", "md5": "XMD5", "sha512": "XSHA512"}[algo]
	if _, ok := c.feats[x]; !ok {
		return nil, fmt.Errorf("hash %s: %w", algo, errors.ErrUnsupported)
	}
	rep, err := c.cmd(ctx, 2, x+" "+p)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", p, err)
	}
	f := strings.Fields(rep.Lines[0])
	if len(f) > 0 {
		if sum, err := hex.DecodeString(f[len(f)-1]); err == nil {
			return sum, nil
		}
	}
	return nil, fmt.Errorf("hash %s: unreadable reply %q", p, rep.Lines[0])
}

// dataConn opens the data connection: passive (EPSV, else PASV) to the
// control connection's address — never the address a PASV reply names —
// or active (EPRT/PORT) from our control connection's address.
type dataConn struct {
	net.Conn
	ln net.Listener // active mode: accepted after the command
}

func (c *ftpFS) openData(ctx context.Context) (*dataConn, error) {
	peer := netip.MustParseAddrPort(c.conn.RemoteAddr().String()).Addr()
	if c.active {
		local := netip.MustParseAddrPort(c.conn.LocalAddr().String()).Addr()
		ln, err := net.Listen("tcp", net.JoinHostPort(local.String(), "0"))
		if err != nil {
			return nil, err
		}
		ap := netip.MustParseAddrPort(ln.Addr().String())
		arg, ok := ftpwire.FormatPORT(ap)
		line := "PORT " + arg
		if !ok {
			line = "EPRT " + ftpwire.FormatEPRT(ap)
		}
		if _, err := c.cmd(ctx, 2, line); err != nil {
			ln.Close()
			return nil, err
		}
		return &dataConn{ln: ln}, nil
	}
	var port uint16
	if !c.noEPSV {
		rep, err := c.send(ctx, "EPSV")
		if err != nil {
			return nil, err
		}
		if rep.Code == 229 {
			port, err = ftpwire.ParseEPSV(rep.Lines[0])
			if err != nil {
				return nil, err
			}
		} else {
			c.noEPSV = true
		}
	}
	if port == 0 {
		rep, err := c.cmd(ctx, 2, "PASV")
		if err != nil {
			return nil, err
		}
		ap, err := ftpwire.ParsePASV(rep.Lines[0])
		if err != nil {
			return nil, err
		}
		port = ap.Port()
	}
	d := net.Dialer{Timeout: c.timeout}
	conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(peer, port).String())
	if err != nil {
		return nil, fmt.Errorf("data connection: %w", err)
	}
	return &dataConn{Conn: conn}, nil
}

// transfer opens a data connection, sends REST (when off > 0) and the
// command, waits for the preliminary reply and secures the connection.
func (c *ftpFS) transfer(ctx context.Context, line string, off int64) (net.Conn, error) {
	dc, err := c.openData(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (net.Conn, error) {
		if dc.Conn != nil {
			dc.Conn.Close()
		}
		if dc.ln != nil {
			dc.ln.Close()
		}
		return nil, err
	}
	if off > 0 {
		if _, err := c.cmd(ctx, 3, "REST "+strconv.FormatInt(off, 10)); err != nil {
			return fail(fmt.Errorf("resume at %d: %w", off, err))
		}
	}
	if _, err := c.cmd(ctx, 1, line); err != nil {
		return fail(err)
	}
	conn := dc.Conn
	if dc.ln != nil {
		if tl, ok := dc.ln.(*net.TCPListener); ok {
			tl.SetDeadline(time.Now().Add(c.timeout))
		}
		conn, err = dc.ln.Accept()
		dc.ln.Close()
		dc.ln = nil
		if err != nil {
			return fail(fmt.Errorf("data connection: %w", err))
		}
		dc.Conn = conn
	}
	if c.prot {
		// Same config, same ServerName: the handshake resumes the control
		// connection's session, as vsftpd's require_ssl_reuse demands.
		tc := tls.Client(conn, c.tls)
		hctx, cancel := context.WithTimeout(ctx, c.timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return fail(fmt.Errorf("data connection TLS: %w", err))
		}
		conn = tc
	}
	return conn, nil
}

// retrieve runs a download-type command and returns its data as a reader.
func (c *ftpFS) retrieve(ctx context.Context, line string, off int64) (io.ReadCloser, error) {
	conn, err := c.transfer(ctx, line, off)
	if err != nil {
		return nil, err
	}
	return &ftpReader{c: c, ctx: ctx, dc: conn, what: line}, nil
}

type ftpReader struct {
	c    *ftpFS
	ctx  context.Context
	dc   net.Conn
	what string
	eof  bool
	done bool
}

func (r *ftpReader) Read(p []byte) (int, error) {
	r.dc.SetReadDeadline(time.Now().Add(r.c.timeout))
	n, err := r.dc.Read(p)
	if err == io.EOF {
		r.eof = true
	}
	return n, err
}

// Close ends the transfer and reads the final reply: a transfer read to
// its end must be confirmed by 226/250; one given up early is aborted.
func (r *ftpReader) Close() error {
	if r.done {
		return nil
	}
	r.done = true
	r.dc.Close()
	rep, err := r.c.read(r.ctx)
	if err != nil {
		return err
	}
	if !r.eof {
		if rep.Code/100 == 1 { // a late preliminary reply
			r.c.read(r.ctx)
		}
		return nil
	}
	if rep.Code/100 != 2 {
		return &ftpError{r.what, rep}
	}
	return nil
}

type ftpWriter struct {
	c    *ftpFS
	ctx  context.Context
	dc   net.Conn
	p    string
	done bool
}

func (w *ftpWriter) Write(p []byte) (int, error) {
	w.dc.SetWriteDeadline(time.Now().Add(w.c.timeout))
	return w.dc.Write(p)
}

// Close sends end-of-file (a TLS close_notify first) and waits for the
// server's confirmation that it stored the file.
func (w *ftpWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if err := closeData(w.dc, w.c.timeout); err != nil {
		w.c.read(w.ctx)
		return fmt.Errorf("write %s: %w", w.p, err)
	}
	rep, err := w.c.read(w.ctx)
	if err != nil {
		return fmt.Errorf("write %s: %w", w.p, err)
	}
	if rep.Code/100 != 2 {
		return fmt.Errorf("write %s: %w", w.p, &ftpError{"STOR", rep})
	}
	return nil
}

// Abort closes the data connection without close_notify (so the server
// sees a broken transfer, not a complete one) and reads the reply.
func (w *ftpWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if tc, ok := w.dc.(*tls.Conn); ok {
		tc.NetConn().Close()
	} else {
		if tcp, ok := w.dc.(*net.TCPConn); ok {
			tcp.SetLinger(0)
		}
		w.dc.Close()
	}
	w.c.read(w.ctx)
	return nil
}

// closeData ends an upload's data connection. Over TLS it sends
// close_notify with the TCP write side shut, then reads until the server
// closes too: vsftpd (and OpenSSL servers generally) count an upload whose
// TLS stream was not shut down cleanly — or that a reset cut — as failed.
func closeData(dc net.Conn, timeout time.Duration) error {
	tc, ok := dc.(*tls.Conn)
	if !ok {
		return dc.Close()
	}
	if err := tc.CloseWrite(); err != nil {
		tc.Close()
		return err
	}
	tc.SetReadDeadline(time.Now().Add(timeout))
	io.Copy(io.Discard, tc) // the server's close_notify, session tickets
	return tc.NetConn().Close()
}
