package sshd

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/vpath"
)

func (s *sftpServer) dispatch(j *job) {
	d := &decoder{b: j.payload}
	switch j.typ {
	case fxpOpen:
		s.open(j.id, d)
	case fxpClose:
		s.sendStatus(j.id, s.close(d))
	case fxpRead:
		s.read(j, d)
	case fxpWrite:
		s.sendStatus(j.id, s.write(d))
	case fxpStat, fxpLstat:
		p := d.str()
		if d.bad {
			s.sendStatus(j.id, errBadMessage)
			return
		}
		var fi fs.FileInfo
		var err error
		if j.typ == fxpStat {
			fi, err = s.sess.Stat(s.ctx, p)
		} else {
			fi, err = s.sess.Lstat(s.ctx, p)
		}
		s.sendAttrs(j.id, fi, err)
	case fxpFstat:
		s.fstat(j.id, d)
	case fxpSetstat:
		p, a := d.str(), d.attrs()
		if err := d.err(); err != nil {
			s.sendStatus(j.id, err)
			return
		}
		s.sendStatus(j.id, s.setstat(p, a))
	case fxpFsetstat:
		s.sendStatus(j.id, s.fsetstat(d))
	case fxpOpendir:
		s.opendir(j.id, d)
	case fxpReaddir:
		s.readdir(j.id, d)
	case fxpRemove:
		s.pathOp(j.id, d, s.sess.Remove)
	case fxpMkdir:
		p, a := d.str(), d.attrs()
		if d.bad {
			s.sendStatus(j.id, errBadMessage)
			return
		}
		err := s.sess.Mkdir(s.ctx, p)
		if err == nil && a.flags&attrPermissions != 0 && a.perm&0o777 != 0o777 && s.sess.Can(ferry.PermChmod, p) {
			_ = s.sess.Chmod(s.ctx, p, fs.FileMode(a.perm&0o777))
		}
		s.sendStatus(j.id, err)
	case fxpRmdir:
		s.pathOp(j.id, d, s.sess.Rmdir)
	case fxpRealpath:
		p := d.str()
		if d.bad {
			s.sendStatus(j.id, errBadMessage)
			return
		}
		vp, err := vpath.Clean(p)
		s.sendName(j.id, vp, err)
	case fxpRename:
		from, to := d.str(), d.str()
		if d.bad {
			s.sendStatus(j.id, errBadMessage)
			return
		}
		s.sendStatus(j.id, s.rename(from, to))
	case fxpReadlink:
		p := d.str()
		if d.bad {
			s.sendStatus(j.id, errBadMessage)
			return
		}
		target, err := s.sess.Readlink(s.ctx, p)
		s.sendName(j.id, target, err)
	case fxpSymlink:
		// OpenSSH sends the target first and the link second, the reverse
		// of the draft; every common client follows OpenSSH.
		target, link := d.str(), d.str()
		if d.bad {
			s.sendStatus(j.id, errBadMessage)
			return
		}
		s.sendStatus(j.id, s.sess.Symlink(s.ctx, target, link))
	case fxpExtended:
		s.extended(j.id, d)
	default:
		s.sendStatus(j.id, fmt.Errorf("request type %d: %w", j.typ, errors.ErrUnsupported))
	}
}

func (s *sftpServer) pathOp(id uint32, d *decoder, op func(ctx context.Context, p string) error) {
	p := d.str()
	if d.bad {
		s.sendStatus(id, errBadMessage)
		return
	}
	s.sendStatus(id, op(s.ctx, p))
}

func (s *sftpServer) sendAttrs(id uint32, fi fs.FileInfo, err error) {
	if err != nil {
		s.sendStatus(id, err)
		return
	}
	bp, b := reply(fxpAttrs, id)
	s.sendBuf(bp, putAttrs(b, fi))
}

// sendName answers with a single name (REALPATH, READLINK, expand-path).
func (s *sftpServer) sendName(id uint32, name string, err error) {
	if err != nil {
		s.sendStatus(id, err)
		return
	}
	bp, b := reply(fxpName, id)
	b = putU32(b, 1)
	b = putStr(b, name)
	b = putStr(b, name)
	b = putU32(b, 0) // no attributes
	s.sendBuf(bp, b)
}

func (s *sftpServer) open(id uint32, d *decoder) {
	p, pflags, a := d.str(), d.u32(), d.attrs()
	if d.bad {
		s.sendStatus(id, errBadMessage)
		return
	}
	h, err := s.openFile(p, pflags, a)
	if err == nil {
		var name string
		if name, err = s.addHandle(h); err == nil {
			s.sendHandle(id, name)
			return
		}
		s.release(h, err)
	}
	s.sendStatus(id, err)
}

// openFile maps SFTP's open flags to core: read-only opens are downloads;
// a write open that truncates or creates a missing file is an atomic
// upload; a write open of an existing file without TRUNC writes in place.
// A write open without TRUNC of the user's own partial (upload mode
// atomic-resumable shows it in place of the missing file) resumes it, so
// OpenSSH's reput continues the atomic upload.
func (s *sftpServer) openFile(p string, pflags uint32, a attrs) (*handle, error) {
	h := &handle{path: p, flags: pflags}
	if pflags&fxfWrite == 0 {
		dl, err := s.sess.OpenRead(s.ctx, p, 0)
		if err != nil {
			return nil, err
		}
		h.dl = dl
		return h, nil
	}
	exists, partial := false, int64(-1)
	if fi, err := s.sess.Stat(s.ctx, p); err == nil {
		if fi.IsDir() {
			return nil, fmt.Errorf("open %q: %w", p, ferry.ErrIsDir)
		}
		exists = true
		if core.IsPartial(fi) {
			partial = fi.Size()
		}
	}
	if exists && pflags&fxfExcl != 0 && pflags&fxfCreat != 0 {
		return nil, fmt.Errorf("open %q: %w", p, ferry.ErrExists)
	}
	if !exists && pflags&fxfCreat == 0 {
		return nil, fmt.Errorf("open %q: %w", p, fs.ErrNotExist)
	}
	var o core.WriteOptions
	switch {
	case partial >= 0 && pflags&fxfTrunc == 0:
		o.Offset = partial // APPEND included: the partial's end is the file's
	case pflags&fxfAppend != 0:
		o.Append = true
	case exists && pflags&fxfTrunc == 0:
		o.InPlace = true
	}
	up, err := s.sess.OpenWrite(s.ctx, p, o)
	if err != nil {
		return nil, err
	}
	h.up = up
	h.written = o.Offset
	if a.flags&attrPermissions != 0 && (!exists || partial >= 0) && s.sess.Can(ferry.PermChmod, p) {
		m := fs.FileMode(a.perm & 0o777)
		h.setMode = &m
	}
	return h, nil
}

func (s *sftpServer) close(d *decoder) error {
	name := d.str()
	if d.bad {
		return errBadMessage
	}
	h := s.removeHandle(name)
	if h == nil {
		return errBadHandle
	}
	switch {
	case h.stop != nil:
		h.stop()
		return nil
	case h.up != nil:
		if h.dl != nil {
			_ = h.dl.Close()
		}
		if h.werr != nil {
			_ = h.up.Abort(h.werr)
			return h.werr
		}
		if err := h.up.Commit(); err != nil {
			return err
		}
		// Attributes set on the open handle apply to the file now in place.
		if h.setMode != nil {
			if err := s.sess.Chmod(s.ctx, h.path, *h.setMode); err != nil {
				return err
			}
		}
		if h.setTime != nil {
			return s.sess.Chtimes(s.ctx, h.path, h.setTime[0], h.setTime[1])
		}
		return nil
	default:
		return h.dl.Close()
	}
}

// fileHandle returns the open file named by the next field.
func (s *sftpServer) fileHandle(d *decoder) (*handle, error) {
	name := d.str()
	if d.bad {
		return nil, errBadMessage
	}
	h := s.getHandle(name)
	if h == nil || h.stop != nil {
		return nil, errBadHandle
	}
	return h, nil
}

// reader returns a Download for reading from h; a read-write handle opens
// one on its first read (it sees the file in place).
func (s *sftpServer) reader(h *handle) (*core.Download, error) {
	if h.dl != nil {
		return h.dl, nil
	}
	if h.flags&fxfRead == 0 {
		return nil, fmt.Errorf("handle not open for reading: %w", fs.ErrPermission)
	}
	dl, err := s.sess.OpenRead(s.ctx, h.path, 0)
	if err != nil {
		return nil, err
	}
	h.dl = dl
	return dl, nil
}

// read answers READ. Reads of one handle run in parallel, but their
// replies leave in request order: OpenSSH's client truncates a download at
// the first reply that arrives out of order.
func (s *sftpServer) read(j *job, d *decoder) {
	id := j.id
	h, err := s.fileHandle(d)
	off, n := d.u64(), d.u32()
	if err == nil {
		err = d.err()
	}
	var dl *core.Download
	if err == nil {
		dl, err = s.reader(h)
	}
	if err != nil {
		s.sendJob(j, s.statusMsg(id, err))
		return
	}
	n = min(n, maxData)
	bp := largePool.Get().(*[]byte)
	defer largePool.Put(bp)
	b := *bp
	m, err := dl.ReadAt(b[dataHeader:dataHeader+int(n)], int64(off))
	if m == 0 {
		if err == nil {
			err = io.EOF
		}
		s.sendJob(j, s.statusMsg(id, err))
		return
	}
	b[4] = fxpData
	putU32(b[5:5], id)
	putU32(b[9:9], uint32(m))
	s.sendJob(j, b[:dataHeader+m])
}

func (s *sftpServer) write(d *decoder) error {
	h, err := s.fileHandle(d)
	off, data := d.u64(), d.bytes()
	if err != nil {
		return err
	}
	if err := d.err(); err != nil {
		return err
	}
	if h.up == nil {
		return fmt.Errorf("handle not open for writing: %w", fs.ErrPermission)
	}
	if h.werr != nil {
		return h.werr
	}
	var err2 error
	if h.flags&fxfAppend != 0 {
		// O_APPEND: every write goes to the end (OpenSSH's reput), in the
		// order the requests came, as writes on a handle run one by one.
		_, err2 = h.up.Write(data)
	} else {
		_, err2 = h.up.WriteAt(data, int64(off))
	}
	if err2 != nil {
		h.werr = err2
		return err2
	}
	h.written = max(h.written, int64(off)+int64(len(data)))
	return nil
}

func (s *sftpServer) fstat(id uint32, d *decoder) {
	h, err := s.fileHandle(d)
	if err != nil {
		s.sendStatus(id, err)
		return
	}
	if h.up == nil {
		fi, err := s.sess.Stat(s.ctx, h.path)
		s.sendAttrs(id, fi, err)
		return
	}
	// The file being written is not in place yet: describe what was sent.
	size := h.written
	if h.up != nil && h.flags&fxfTrunc == 0 {
		if fi, err := s.sess.Stat(s.ctx, h.path); err == nil {
			size = max(size, fi.Size())
		}
	}
	mode := fs.FileMode(0o644)
	if h.setMode != nil {
		mode = *h.setMode
	}
	s.sendAttrs(id, uploadInfo{name: vpath.Base(h.path), size: size, mode: mode}, nil)
}

type uploadInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (u uploadInfo) Name() string       { return u.name }
func (u uploadInfo) Size() int64        { return u.size }
func (u uploadInfo) Mode() fs.FileMode  { return u.mode }
func (u uploadInfo) ModTime() time.Time { return time.Now() }
func (u uploadInfo) IsDir() bool        { return false }
func (u uploadInfo) Sys() any           { return nil }

func (s *sftpServer) setstat(p string, a attrs) error {
	if a.flags&attrSize != 0 {
		fi, err := s.sess.Stat(s.ctx, p)
		if err != nil {
			return err
		}
		if uint64(fi.Size()) != a.size {
			return fmt.Errorf("truncate by path: %w", errors.ErrUnsupported)
		}
	}
	if a.flags&attrPermissions != 0 {
		if err := s.sess.Chmod(s.ctx, p, fs.FileMode(a.perm&0o777)); err != nil {
			return err
		}
	}
	if a.flags&attrACModTime != 0 {
		return s.sess.Chtimes(s.ctx, p, time.Unix(int64(a.atime), 0), time.Unix(int64(a.mtime), 0))
	}
	return nil // uid/gid: ownership is the server's, silently kept
}

func (s *sftpServer) fsetstat(d *decoder) error {
	h, err := s.fileHandle(d)
	a := d.attrs()
	if err != nil {
		return err
	}
	if err := d.err(); err != nil {
		return err
	}
	if h.up == nil {
		return s.setstat(h.path, a)
	}
	if a.flags&attrSize != 0 {
		if err := h.up.Truncate(int64(a.size)); err != nil {
			return err
		}
		h.written = int64(a.size)
	}
	if a.flags&attrPermissions != 0 {
		if !s.sess.Can(ferry.PermChmod, h.path) {
			return fmt.Errorf("chmod %q: %w", h.path, fs.ErrPermission)
		}
		m := fs.FileMode(a.perm & 0o777)
		h.setMode = &m
	}
	if a.flags&attrACModTime != 0 {
		h.setTime = &[2]time.Time{time.Unix(int64(a.atime), 0), time.Unix(int64(a.mtime), 0)}
	}
	return nil
}

func (s *sftpServer) opendir(id uint32, d *decoder) {
	p := d.str()
	if d.bad {
		s.sendStatus(id, errBadMessage)
		return
	}
	h, err := openDir(s.sess.List(s.ctx, p))
	if err == nil {
		h.path = p
		var name string
		if name, err = s.addHandle(h); err == nil {
			s.sendHandle(id, name)
			return
		}
		h.stop()
	}
	s.sendStatus(id, err)
}

func (s *sftpServer) readdir(id uint32, d *decoder) {
	name := d.str()
	if d.bad {
		s.sendStatus(id, errBadMessage)
		return
	}
	h := s.getHandle(name)
	if h == nil || h.stop == nil {
		s.sendStatus(id, errBadHandle)
		return
	}
	if h.ahead == nil && h.eof {
		s.sendStatus(id, io.EOF)
		return
	}
	bp, b := reply(fxpName, id)
	countAt := len(b)
	b = putU32(b, 0)
	count := 0
	owner := s.sess.User().Name
	now := time.Now()
	for count < readdirBatch && len(b) < readdirBytes {
		fi := h.ahead
		h.ahead = nil
		if fi == nil {
			var err error
			var ok bool
			fi, err, ok = h.next()
			if !ok {
				h.eof = true
				break
			}
			if err != nil {
				if count == 0 {
					smallPool.Put(bp)
					h.eof = true
					s.sendStatus(id, err)
					return
				}
				h.eof = true
				break
			}
		}
		b = putStr(b, fi.Name())
		lenAt := len(b)
		b = putU32(b, 0)
		b = longname(b, fi, owner, now)
		putU32(b[lenAt:lenAt], uint32(len(b)-lenAt-4))
		b = putAttrs(b, fi)
		count++
	}
	if count == 0 {
		smallPool.Put(bp)
		s.sendStatus(id, io.EOF)
		return
	}
	putU32(b[countAt:countAt], uint32(count))
	s.sendBuf(bp, b)
}

// rename is SFTP v3's RENAME: it refuses to replace an existing target
// (posix-rename@openssh.com replaces).
func (s *sftpServer) rename(from, to string) error {
	if _, err := s.sess.Lstat(s.ctx, to); err == nil {
		vf, _ := vpath.Clean(from)
		vt, _ := vpath.Clean(to)
		if vf != vt {
			return fmt.Errorf("rename to %q: %w", to, ferry.ErrExists)
		}
	}
	return s.sess.Rename(s.ctx, from, to)
}

func (s *sftpServer) extended(id uint32, d *decoder) {
	ext := d.str()
	if d.bad {
		s.sendStatus(id, errBadMessage)
		return
	}
	switch ext {
	case "posix-rename@openssh.com":
		from, to := d.str(), d.str()
		if d.bad {
			s.sendStatus(id, errBadMessage)
			return
		}
		s.sendStatus(id, s.sess.Rename(s.ctx, from, to))
	case "hardlink@openssh.com":
		from, to := d.str(), d.str()
		if d.bad {
			s.sendStatus(id, errBadMessage)
			return
		}
		s.sendStatus(id, s.sess.Link(s.ctx, from, to))
	case "statvfs@openssh.com":
		p := d.str()
		if d.bad {
			s.sendStatus(id, errBadMessage)
			return
		}
		s.statvfs(id, p)
	case "fstatvfs@openssh.com":
		h, err := s.fileHandle(d)
		if err != nil {
			s.sendStatus(id, err)
			return
		}
		s.statvfs(id, h.path)
	case "fsync@openssh.com":
		// Flushes the bytes written so far to stable storage (the hidden
		// partial of an atomic upload); the file appears under its name on
		// CLOSE. A read-only handle has nothing to flush.
		h, err := s.fileHandle(d)
		if err == nil && h.up != nil {
			err = cmp.Or(h.werr, h.up.Sync())
		}
		s.sendStatus(id, err)
	case "users-groups-by-id@openssh.com":
		s.usersGroupsByID(id, d)
	case "lsetstat@openssh.com":
		p, a := d.str(), d.attrs()
		if err := d.err(); err != nil {
			s.sendStatus(id, err)
			return
		}
		s.sendStatus(id, s.setstat(p, a))
	case "limits@openssh.com":
		bp, b := reply(fxpExtendedReply, id)
		b = putU64(b, maxPacket)
		b = putU64(b, maxData)
		b = putU64(b, maxData)
		b = putU64(b, maxHandles)
		s.sendBuf(bp, b)
	case "expand-path@openssh.com":
		p := d.str()
		if d.bad {
			s.sendStatus(id, errBadMessage)
			return
		}
		if p == "~" || strings.HasPrefix(p, "~/") {
			p = "/" + strings.TrimPrefix(strings.TrimPrefix(p, "~"), "/")
		}
		vp, err := vpath.Clean(p)
		s.sendName(id, vp, err)
	case "home-directory":
		s.sendName(id, "/", nil)
	case "copy-data":
		s.sendStatus(id, s.copyData(d))
	case "check-file-name", "check-file-handle":
		s.checkFile(id, ext, d)
	default:
		s.sendStatus(id, fmt.Errorf("extension %q: %w", ext, errors.ErrUnsupported))
	}
}

func (s *sftpServer) statvfs(id uint32, p string) {
	u, err := s.sess.StatFS(s.ctx, p)
	if err != nil {
		s.sendStatus(id, err)
		return
	}
	bs := max(u.BlockSize, 1)
	bp, b := reply(fxpExtendedReply, id)
	for _, v := range []uint64{bs, bs, u.Total / bs, u.Free / bs, u.Avail / bs,
		u.Files, u.FilesFree, u.FilesFree, 0, 0, u.NameMax} {
		b = putU64(b, v)
	}
	s.sendBuf(bp, b)
}

// copyData copies a range from one open file to another on the server
// (copy-data, draft-ietf-secsh-filexfer-extensions-00).
func (s *sftpServer) copyData(d *decoder) error {
	src, err := s.fileHandle(d)
	roff, rlen := d.u64(), d.u64()
	dst, err2 := s.fileHandle(d)
	woff := d.u64()
	if err := errors.Join(err, err2, d.err()); err != nil {
		return err
	}
	if dst.up == nil {
		return fmt.Errorf("copy-data destination not open for writing: %w", fs.ErrPermission)
	}
	dl, err := s.reader(src)
	if err != nil {
		return err
	}
	bp := largePool.Get().(*[]byte)
	defer largePool.Put(bp)
	buf := (*bp)[:maxData]
	for rlen == 0 || rlen > 0 {
		n := len(buf)
		if rlen > 0 && uint64(n) > rlen {
			n = int(rlen)
		}
		m, rerr := dl.ReadAt(buf[:n], int64(roff))
		if m > 0 {
			if _, err := dst.up.WriteAt(buf[:m], int64(woff)); err != nil {
				dst.werr = err
				return err
			}
			dst.written = max(dst.written, int64(woff)+int64(m))
			roff += uint64(m)
			woff += uint64(m)
		}
		if rerr == io.EOF || m == 0 {
			return nil
		}
		if rerr != nil {
			return rerr
		}
		if rlen > 0 {
			rlen -= uint64(m)
			if rlen == 0 {
				return nil
			}
		}
	}
	return nil
}

// checkFile answers check-file-name / check-file-handle with ranged hashes
// computed by core.
func (s *sftpServer) checkFile(id uint32, ext string, d *decoder) {
	var p string
	if ext == "check-file-handle" {
		h, err := s.fileHandle(d)
		if err != nil {
			s.sendStatus(id, err)
			return
		}
		p = h.path
	} else {
		p = d.str()
	}
	algos, off, length, block := d.str(), d.u64(), d.u64(), d.u32()
	if d.bad {
		s.sendStatus(id, errBadMessage)
		return
	}
	algo := ""
	for _, a := range strings.Split(algos, ",") {
		switch a = strings.TrimSpace(a); a {
		case "md5", "sha1", "sha256", "sha512", "sha224", "sha384":
			if a != "sha224" && a != "sha384" && algo == "" {
				algo = a
			}
		}
	}
	if algo == "" {
		s.sendStatus(id, fmt.Errorf("check-file: no supported algorithm in %q: %w", algos, errors.ErrUnsupported))
		return
	}
	fi, err := s.sess.Stat(s.ctx, p)
	if err != nil {
		s.sendStatus(id, err)
		return
	}
	end := fi.Size()
	if length > 0 && int64(off+length) < end {
		end = int64(off + length)
	}
	if int64(off) > end {
		s.sendStatus(id, fmt.Errorf("check-file: offset beyond the end: %w", ferry.ErrInvalid))
		return
	}
	step := end - int64(off)
	if block > 0 && int64(block) < step {
		step = int64(block)
		if (end-int64(off))/step > 4096 {
			s.sendStatus(id, fmt.Errorf("check-file: block size too small: %w", ferry.ErrInvalid))
			return
		}
	}
	bp, b := reply(fxpExtendedReply, id)
	b = putStr(b, "check-file")
	b = putStr(b, algo)
	for at := int64(off); ; at += step {
		sum, err := s.sess.Hash(s.ctx, p, algo, at, min(step, end-at))
		if err != nil {
			smallPool.Put(bp)
			s.sendStatus(id, err)
			return
		}
		b = append(b, sum...)
		if step == 0 || at+step >= end {
			break
		}
	}
	s.sendBuf(bp, b)
}

// usersGroupsByID answers users-groups-by-id@openssh.com. Ferry's accounts
// are virtual: every file is reported as owned by the session's user and
// group ids (sessionUID, sessionGID), which map to the account's name; any
// other id has no name (an empty string, as the extension specifies).
func (s *sftpServer) usersGroupsByID(id uint32, d *decoder) {
	uids, gids := d.bytes(), d.bytes()
	if d.bad || len(uids)%4 != 0 || len(gids)%4 != 0 || len(uids)+len(gids) > 4*maxIDs {
		s.sendStatus(id, errBadMessage)
		return
	}
	name := s.sess.User().Name
	names := func(b []byte, ids []byte, own uint32) []byte {
		at := len(b)
		b = putU32(b, 0)
		for i := 0; i < len(ids); i += 4 {
			n := ""
			if binary.BigEndian.Uint32(ids[i:]) == own {
				n = name
			}
			b = putStr(b, n)
		}
		putU32(b[at:at], uint32(len(b)-at-4))
		return b
	}
	bp, b := reply(fxpExtendedReply, id)
	b = names(b, uids, sessionUID)
	b = names(b, gids, sessionGID)
	s.sendBuf(bp, b)
}
