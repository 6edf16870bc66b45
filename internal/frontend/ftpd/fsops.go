package ftpd

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ftpwire"
)

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 4096) }

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// alertSkipper drops the TLS close_notify record a client may send after
// CCC before going on in plain text. A command never starts with 0x15.
type alertSkipper struct {
	r       io.Reader
	checked bool
}

func (a *alertSkipper) Read(p []byte) (int, error) {
	if !a.checked && len(p) > 0 {
		a.checked = true
		var hdr [5]byte
		if _, err := io.ReadFull(a.r, hdr[:1]); err != nil {
			return 0, err
		}
		if hdr[0] != 0x15 {
			p[0] = hdr[0]
			return 1, nil
		}
		if _, err := io.ReadFull(a.r, hdr[1:]); err != nil {
			return 0, err
		}
		if _, err := io.CopyN(io.Discard, a.r, int64(hdr[3])<<8|int64(hdr[4])); err != nil {
			return 0, err
		}
	}
	return a.r.Read(p)
}

func (c *conn) path(arg string) (string, bool) {
	p, err := c.resolve(arg)
	if err != nil {
		c.reply(501, "Invalid path.")
		return "", false
	}
	return p, true
}

func (c *conn) cmdCwd(arg string) {
	if arg == "" {
		arg = "/"
	}
	p, ok := c.path(arg)
	if !ok {
		return
	}
	fi, err := c.sess.Stat(c.ctx, p)
	if err != nil {
		c.serverErr(err)
		return
	}
	if !fi.IsDir() {
		c.reply(550, "Not a directory.")
		return
	}
	if !c.sess.Can(ferry.PermList, p) {
		c.reply(550, "Permission denied.")
		return
	}
	c.cwd = p
	c.reply(250, "Directory changed to "+p+".")
}

func (c *conn) cmdMkd(arg string) {
	if arg == "" {
		c.reply(501, "MKD needs a path.")
		return
	}
	p, ok := c.path(arg)
	if !ok {
		return
	}
	if err := c.sess.Mkdir(c.ctx, p); err != nil {
		c.serverErr(err)
		return
	}
	c.reply(257, quotePath(p)+" created.")
}

func (c *conn) pathOp(arg string, op func(context.Context, string) error, code int, text string) {
	if arg == "" {
		c.reply(501, "Missing path.")
		return
	}
	p, ok := c.path(arg)
	if !ok {
		return
	}
	if err := op(c.ctx, p); err != nil {
		c.serverErr(err)
		return
	}
	c.reply(code, text)
}

func (c *conn) cmdRnfr(arg string) {
	if arg == "" {
		c.reply(501, "RNFR needs a path.")
		return
	}
	p, ok := c.path(arg)
	if !ok {
		return
	}
	if _, err := c.sess.Lstat(c.ctx, p); err != nil {
		c.serverErr(err)
		return
	}
	c.rnfr = p
	c.reply(350, "Ready for RNTO.")
}

func (c *conn) cmdRnto(arg string) {
	from := c.rnfr
	c.rnfr = ""
	if from == "" {
		c.reply(503, "RNFR required first.")
		return
	}
	if arg == "" {
		c.reply(501, "RNTO needs a path.")
		return
	}
	p, ok := c.path(arg)
	if !ok {
		return
	}
	if err := c.sess.Rename(c.ctx, from, p); err != nil {
		c.serverErr(err)
		return
	}
	c.reply(250, "Rename successful.")
}

func (c *conn) statFile(arg string) (string, fs.FileInfo, bool) {
	if arg == "" {
		c.reply(501, "Missing path.")
		return "", nil, false
	}
	p, ok := c.path(arg)
	if !ok {
		return "", nil, false
	}
	fi, err := c.sess.Stat(c.ctx, p)
	if err != nil {
		c.serverErr(err)
		return "", nil, false
	}
	return p, fi, true
}

func (c *conn) cmdSize(arg string) {
	_, fi, ok := c.statFile(arg)
	if !ok {
		return
	}
	if !fi.Mode().IsRegular() {
		c.reply(550, "Not a regular file.")
		return
	}
	c.reply(213, strconv.FormatInt(fi.Size(), 10))
}

func (c *conn) cmdMdtm(arg string) {
	// "MDTM YYYYMMDDHHMMSS path" sets the time, as some clients do.
	if ts, rest, ok := strings.Cut(arg, " "); ok && len(ts) >= 14 {
		if t, err := ftpwire.ParseTime(ts); err == nil {
			c.setTime(t, rest, 213)
			return
		}
	}
	_, fi, ok := c.statFile(arg)
	if !ok {
		return
	}
	c.reply(213, ftpwire.FormatTime(fi.ModTime()))
}

func (c *conn) cmdMfmt(arg string) {
	ts, rest, ok := strings.Cut(arg, " ")
	if !ok || rest == "" {
		c.reply(501, "MFMT needs YYYYMMDDHHMMSS and a path.")
		return
	}
	t, err := ftpwire.ParseTime(ts)
	if err != nil {
		c.reply(501, "Bad time: want YYYYMMDDHHMMSS.")
		return
	}
	c.setTime(t, rest, 213)
}

func (c *conn) setTime(t time.Time, arg string, code int) {
	p, ok := c.path(arg)
	if !ok {
		return
	}
	if err := c.sess.Chtimes(c.ctx, p, t, t); err != nil {
		c.serverErr(err)
		return
	}
	c.reply(code, "Modify="+ftpwire.FormatTime(t)+"; "+arg)
}

func (c *conn) cmdType(arg string) {
	f := strings.Fields(strings.ToUpper(arg))
	switch {
	case len(f) == 0:
		c.reply(501, "TYPE needs an argument.")
	case f[0] == "I" && len(f) == 1, f[0] == "L" && len(f) == 2 && f[1] == "8":
		c.ascii = false
		c.reply(200, "Type set to I.")
	case f[0] == "A" && (len(f) == 1 || f[1] == "N"):
		c.ascii = !c.srv.opts.IgnoreASCII
		c.reply(200, "Type set to A.")
	default:
		c.reply(504, "TYPE accepts A, I or L 8.")
	}
}

func (c *conn) cmdRest(arg string) {
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 {
		c.reply(501, "REST needs a non-negative byte offset.")
		return
	}
	c.rest = n
	c.reply(350, fmt.Sprintf("Restarting at %d. Send STOR or RETR.", n))
}

func (c *conn) cmdStat(arg string) {
	if arg == "" {
		mode := "plain text"
		if c.tlsCtl != nil {
			mode = "TLS"
		}
		typ := "BINARY"
		if c.ascii {
			typ = "ASCII"
		}
		u := c.sess.User()
		c.reply(211, "Ferry FTP server status:",
			"Connected to "+c.remote.Addr().String(),
			"Logged in as "+u.Name,
			"TYPE: "+typ+"; STRUcture: File; transfer MODE: Stream",
			"Control connection: "+mode+"; data protection: "+map[bool]string{true: "P", false: "C"}[c.protP],
			"No data connection",
			"End of status")
		return
	}
	p, ok := c.path(stripListFlags(arg))
	if !ok {
		return
	}
	fi, err := c.sess.Stat(c.ctx, p)
	if err != nil {
		c.serverErr(err)
		return
	}
	lines := []string{"Status of " + p + ":"}
	now := time.Now()
	add := func(fi fs.FileInfo) {
		lines = append(lines, strings.TrimRight(string(ftpwire.AppendList(nil, fi, ftpwire.ListOptions{Now: now})), "\r\n"))
	}
	if fi.IsDir() {
		for e, err := range c.sess.List(c.ctx, p) {
			if err != nil {
				c.serverErr(err)
				return
			}
			add(e)
			if len(lines) > 10000 {
				break
			}
		}
	} else {
		add(fi)
	}
	c.reply(213, append(lines, "End of status")...)
}

func (c *conn) cmdSite(arg string) {
	sub, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	switch strings.ToUpper(sub) {
	case "HELP":
		lines := []string{"SITE commands:", "CHMOD <mode> <path>"}
		if c.srv.opts.AllowSiteSymlink {
			lines = append(lines, "SYMLINK <target> <link>")
		}
		c.reply(214, append(lines, "HELP")...)
	case "CHMOD":
		m, p, ok := strings.Cut(strings.TrimSpace(rest), " ")
		mode, err := strconv.ParseUint(m, 8, 32)
		if !ok || err != nil || mode > 0o7777 {
			c.reply(501, "Usage: SITE CHMOD <octal mode> <path>.")
			return
		}
		c.pathOp(p, func(ctx context.Context, vp string) error { return c.sess.Chmod(ctx, vp, fs.FileMode(mode)) },
			200, "SITE CHMOD command ok.")
	case "SYMLINK":
		if !c.srv.opts.AllowSiteSymlink {
			c.reply(502, "SITE SYMLINK is not enabled on this service.")
			return
		}
		target, link, ok := strings.Cut(strings.TrimSpace(rest), " ")
		if !ok || link == "" {
			c.reply(501, "Usage: SITE SYMLINK <target> <link>.")
			return
		}
		lp, ok := c.path(link)
		if !ok {
			return
		}
		if err := c.sess.Symlink(c.ctx, target, lp); err != nil {
			c.serverErr(err)
			return
		}
		c.reply(200, "SITE SYMLINK command ok.")
	case "":
		c.reply(501, "SITE needs a subcommand; try SITE HELP.")
	default:
		c.reply(504, "Unknown SITE command; try SITE HELP.")
	}
}

func (c *conn) cmdAvbl(arg string) {
	p, ok := c.path(arg)
	if !ok {
		return
	}
	u, err := c.sess.StatFS(c.ctx, p)
	if err != nil {
		c.serverErr(err)
		return
	}
	c.reply(213, strconv.FormatUint(u.Avail, 10))
}

// Hash algorithms as FTP names them (draft-bryan-ftpext-hash).
func hashNames() []string { return []string{"SHA-1", "SHA-256", "SHA-512", "MD5", "CRC32"} }

func hashAlgoOf(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "-", ""))
}

func hashAlgo(name string) (string, bool) {
	for _, n := range hashNames() {
		if strings.EqualFold(n, strings.TrimSpace(name)) {
			return hashAlgoOf(n), true
		}
	}
	return "", false
}

func hashName(algo string) string {
	for _, n := range hashNames() {
		if hashAlgoOf(n) == algo {
			return n
		}
	}
	return algo
}

func (c *conn) cmdHash(arg string) {
	p, fi, ok := c.statFile(arg)
	if !ok {
		return
	}
	if !fi.Mode().IsRegular() {
		c.reply(553, "Not a regular file.")
		return
	}
	off := c.rest
	sum, err := c.sess.Hash(c.ctx, p, c.hashAlgo, off, -1)
	if err != nil {
		c.serverErr(err)
		return
	}
	c.reply(213, fmt.Sprintf("%s %d-%d %x %s", hashName(c.hashAlgo), off, fi.Size(), sum, arg))
}

// cmdXHash serves XCRC/XMD5/XSHA*: "XCRC path [start [end]]".
func (c *conn) cmdXHash(verb, arg string) {
	algo := map[string]string{"XCRC": "crc32", "XMD5": "md5", "XSHA": "sha1", "XSHA1": "sha1",
		"XSHA256": "sha256", "XSHA512": "sha512"}[verb]
	name, off, length := parseRangeArg(arg)
	if name == "" {
		c.reply(501, verb+" needs a path.")
		return
	}
	p, ok := c.path(name)
	if !ok {
		return
	}
	sum, err := c.sess.Hash(c.ctx, p, algo, off, length)
	if err != nil {
		c.serverErr(err)
		return
	}
	code := 251
	if verb == "XCRC" {
		code = 250
	}
	c.reply(code, strings.ToUpper(hex.EncodeToString(sum)))
}

// parseRangeArg splits "path [start [end]]", the path possibly quoted.
func parseRangeArg(arg string) (name string, off, length int64) {
	arg = strings.TrimSpace(arg)
	length = -1
	if strings.HasPrefix(arg, `"`) {
		if i := strings.Index(arg[1:], `"`); i >= 0 {
			name, arg = arg[1:i+1], strings.TrimSpace(arg[i+2:])
		}
	} else {
		f := strings.Fields(arg)
		// Trailing numbers are the range; the rest is the name.
		n := len(f)
		for n > 1 && n > len(f)-2 {
			if _, err := strconv.ParseInt(f[n-1], 10, 64); err != nil {
				break
			}
			n--
		}
		name, arg = strings.Join(f[:n], " "), strings.Join(f[n:], " ")
	}
	nums := strings.Fields(arg)
	if len(nums) >= 1 {
		off, _ = strconv.ParseInt(nums[0], 10, 64)
	}
	if len(nums) >= 2 {
		if end, err := strconv.ParseInt(nums[1], 10, 64); err == nil && end >= off {
			length = end - off
		}
	}
	return name, off, length
}

// cmdComb concatenates parts into a target and deletes the parts:
// COMB "target" "part1" "part2" …
func (c *conn) cmdComb(arg string) {
	names := splitQuoted(arg)
	if len(names) < 2 {
		c.reply(501, `Usage: COMB "target" "part1" ["part2" …].`)
		return
	}
	var paths []string
	for _, n := range names {
		p, ok := c.path(n)
		if !ok {
			return
		}
		paths = append(paths, p)
	}
	up, err := c.sess.OpenWrite(c.ctx, paths[0], core.WriteOptions{})
	if err != nil {
		c.serverErr(err)
		return
	}
	for _, src := range paths[1:] {
		dl, err := c.sess.OpenRead(c.ctx, src, 0)
		if err == nil {
			_, err = dl.WriteTo(up)
			if err != nil {
				dl.Fail(err)
			} else {
				dl.Close()
			}
		}
		if err != nil {
			up.Abort(err)
			c.serverErr(err)
			return
		}
	}
	if err := up.Commit(); err != nil {
		c.serverErr(err)
		return
	}
	for _, src := range paths[1:] {
		if src != paths[0] {
			_ = c.sess.Remove(c.ctx, src)
		}
	}
	c.reply(250, "COMB successful.")
}

func splitQuoted(s string) []string {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				out = append(out, s[1:])
				break
			}
			out = append(out, s[1:end+1])
			s = strings.TrimSpace(s[end+2:])
			continue
		}
		f, rest, _ := strings.Cut(s, " ")
		out = append(out, f)
		s = strings.TrimSpace(rest)
	}
	return out
}
