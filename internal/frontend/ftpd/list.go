package ftpd

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ftpwire"
	"github.com/ferrymft/ferry/internal/vpath"
)

type listKind int

const (
	listLong listKind = iota
	listNames
	listMLSD
)

// stripListFlags removes ls-style flags (-a, -l, -la, -1 …) that clients
// put before LIST and NLST paths; they change nothing here.
func stripListFlags(arg string) string {
	for {
		arg = strings.TrimLeft(arg, " ")
		if !strings.HasPrefix(arg, "-") {
			return arg
		}
		f, rest, _ := strings.Cut(arg, " ")
		if len(f) < 2 || strings.ContainsAny(f[1:], "-/") {
			return arg
		}
		arg = rest
	}
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?[") }

// listTarget is what a listing command shows: a directory (and a pattern
// on its entries) or a single file.
type listTarget struct {
	dir     string
	pattern string
	file    fs.FileInfo
	prefix  string // NLST prints names with the path the client gave
}

func (c *conn) listTarget(arg string, kind listKind) (listTarget, error) {
	if kind != listMLSD {
		arg = stripListFlags(arg)
	}
	p, err := c.resolve(arg)
	if err != nil {
		return listTarget{}, err
	}
	t := listTarget{dir: p}
	if kind == listNames && arg != "" && arg != "." {
		t.prefix = strings.TrimSuffix(arg, "/") + "/"
	}
	fi, err := c.sess.Stat(c.ctx, p)
	switch {
	case err == nil && fi.IsDir():
		return t, nil
	case err == nil && kind == listMLSD:
		return listTarget{}, ferry.ErrNotDir
	case err == nil:
		t.file, t.dir = fi, vpath.Dir(p)
		if kind == listNames {
			t.prefix = ""
			if i := strings.LastIndexByte(arg, '/'); i >= 0 {
				t.prefix = arg[:i+1]
			}
		}
		return t, nil
	case errors.Is(err, fs.ErrNotExist) && kind != listMLSD && hasWildcard(vpath.Base(p)):
		t.dir, t.pattern = vpath.Dir(p), vpath.Base(p)
		if _, err := path.Match(t.pattern, ""); err != nil {
			return listTarget{}, ferry.ErrInvalid
		}
		t.prefix = ""
		if i := strings.LastIndexByte(arg, '/'); i >= 0 && kind == listNames {
			t.prefix = arg[:i+1]
		}
		return t, nil
	}
	return listTarget{}, err
}

func (c *conn) cmdList(arg string, kind listKind) {
	t, err := c.listTarget(arg, kind)
	if err != nil {
		c.serverErr(err)
		return
	}
	facts := c.facts
	what := map[listKind]string{listLong: "LIST", listNames: "NLST", listMLSD: "MLSD"}[kind]
	c.startTransfer(what, "Opening ASCII mode data connection for file list.", func(ctx context.Context, dc *dataConn, x *transfer) (string, error) {
		w := bufio.NewWriterSize(dc.conn, 32<<10)
		var line []byte
		now := time.Now()
		emit := func(fi fs.FileInfo) error {
			line = c.formatEntry(ctx, line[:0], t, fi, kind, facts, now)
			_ = dc.tcp.SetWriteDeadline(time.Now().Add(c.srv.opts.DataTimeout))
			_, err := w.Write(line)
			return err
		}
		if t.file != nil {
			if err := emit(t.file); err != nil {
				return "", err
			}
		} else {
			for fi, err := range c.sess.List(ctx, t.dir) {
				if err != nil {
					return "", err
				}
				if t.pattern != "" {
					if ok, _ := path.Match(t.pattern, fi.Name()); !ok {
						continue
					}
				}
				if err := emit(fi); err != nil {
					return "", err
				}
			}
		}
		if err := w.Flush(); err != nil {
			return "", err
		}
		return "Transfer complete.", nil
	}, func(error) {})
}

func (c *conn) formatEntry(ctx context.Context, b []byte, t listTarget, fi fs.FileInfo, kind listKind, facts ftpwire.Facts, now time.Time) []byte {
	switch kind {
	case listNames:
		b = append(b, t.prefix...)
		b = append(b, fi.Name()...)
		return append(b, '\r', '\n')
	case listMLSD:
		return ftpwire.AppendMLSx(b, c.mlsxEntry(ctx, childPath(t.dir, fi.Name()), fi), facts, false)
	}
	o := ftpwire.ListOptions{Now: now}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if target, err := c.sess.Readlink(ctx, childPath(t.dir, fi.Name())); err == nil {
			o.LinkTarget = target
		}
	}
	return ftpwire.AppendList(b, fi, o)
}

// mlsxEntry describes p for MLSD/MLST: a symlink shows as what it points
// to when that is inside the home, and perm says what the user may do.
func (c *conn) mlsxEntry(ctx context.Context, p string, fi fs.FileInfo) ftpwire.MLSxEntry {
	e := ftpwire.MLSxEntry{Name: fi.Name(), Info: fi}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if tfi, err := c.sess.Stat(ctx, p); err == nil {
			e.Info = tfi
		}
	}
	can := func(op ferry.Perm, ch byte) string {
		if c.sess.Can(op, p) {
			return string(ch)
		}
		return ""
	}

	var perm string
	if e.Info.IsDir() {
		perm = can(ferry.PermUpload, 'c') + can(ferry.PermRmdir, 'd') + can(ferry.PermList, 'e') +
			can(ferry.PermRename, 'f') + can(ferry.PermList, 'l') + can(ferry.PermMkdir, 'm') + can(ferry.PermDelete, 'p')
	} else {
		perm = can(ferry.PermUpload, 'a') + can(ferry.PermDelete, 'd') + can(ferry.PermRename, 'f') +
			can(ferry.PermDownload, 'r') + can(ferry.PermUpload, 'w')
	}

	e.Perm = perm
	return e
}

func (c *conn) cmdMlst(arg string) {
	p, ok := c.path(arg)
	if !ok {
		return
	}
	fi, err := c.sess.Stat(c.ctx, p)
	if err != nil {
		c.serverErr(err)
		return
	}
	e := c.mlsxEntry(c.ctx, p, fi)
	e.Name = p
	line := ftpwire.AppendMLSx(nil, e, c.facts, true)
	c.reply(250, "Listing "+p, strings.TrimRight(string(line[1:]), "\r\n"), "End")
}

// childPath joins a clean directory and an entry name from a listing.
func childPath(dir, name string) string { return path.Join(dir, name) }
