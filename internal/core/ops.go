package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
	"github.com/ferrymft/ferry/internal/vpath"
)

// listBatch is how many entries a listing reads from storage at a time: a
// 100k-entry directory streams in bounded memory.
const listBatch = 256

// Stat returns information about p, following a final symlink. Stat needs
// the list right on p's parent directory (the root is always visible).
func (s *Session) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	return s.stat(ctx, p, s.fs.Stat)
}

// Lstat is Stat without following a final symlink.
func (s *Session) Lstat(ctx context.Context, p string) (fs.FileInfo, error) {
	return s.stat(ctx, p, s.fs.Lstat)
}

func (s *Session) stat(ctx context.Context, p string, statFn func(context.Context, string) (fs.FileInfo, error)) (fs.FileInfo, error) {
	vp, name, err := s.resolve(p)
	if err != nil {
		return nil, err
	}
	if !vpath.IsRoot(vp) {
		v := s.view()
		if err := v.rules.Check(ferry.PermList, vpath.Dir(vp)); err != nil {
			return nil, err
		}
		if err := v.filter(vp, opRead); err != nil {
			return nil, err
		}
	}
	fi, err := statFn(ctx, name)
	if errors.Is(err, fs.ErrNotExist) && s.view().user.UploadMode == ferry.UploadAtomicResumable {
		// The uploading user sees its own partial, so it can resume.
		if pfi, perr := s.fs.Stat(ctx, partialName(s.user.Name, name)); perr == nil {
			return partialInfo{named(pfi, vp)}, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("core: stat %q: %w", vp, err)
	}
	return named(fi, vp), nil
}

// List streams the entries of directory p (symlinks are not followed). It
// needs the list right on p. Upload partials are never listed.
func (s *Session) List(ctx context.Context, p string) iter.Seq2[fs.FileInfo, error] {
	return func(yield func(fs.FileInfo, error) bool) {
		vp, name, err := s.check(ferry.PermList, p)
		if err != nil {
			yield(nil, err)
			return
		}
		d, err := s.fs.OpenDir(ctx, name)
		if err != nil {
			yield(nil, fmt.Errorf("core: list %q: %w", vp, err))
			return
		}
		defer d.Close()
		v := s.view()
		for {
			batch, err := d.Readdir(listBatch)
			for _, fi := range batch {
				if isPartialName(fi.Name()) || v.hidden(vp, fi.Name()) {
					continue
				}
				if !yield(fi, nil) {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("core: list %q: %w", vp, err))
				return
			}
			if ctx.Err() != nil {
				yield(nil, ctx.Err())
				return
			}
		}
	}
}

// Mkdir creates directory p.
func (s *Session) Mkdir(ctx context.Context, p string) error {
	vp, name, err := s.check(ferry.PermMkdir, p)
	if err != nil {
		return err
	}
	if vpath.IsRoot(vp) {
		return fmt.Errorf("core: mkdir /: %w", ferry.ErrExists)
	}
	err = mapErr(s.fs.Mkdir(ctx, name, s.dirMode()))
	if err != nil {
		err = fmt.Errorf("core: mkdir %q: %w", vp, err)
	}
	return s.opDone(ferry.EventMkdir, vp, "", err)
}

// Rmdir removes the empty directory p.
func (s *Session) Rmdir(ctx context.Context, p string) error {
	vp, name, err := s.check(ferry.PermRmdir, p)
	if err != nil {
		return err
	}
	if vpath.IsRoot(vp) {
		return fmt.Errorf("core: rmdir /: %w", fs.ErrPermission)
	}
	fi, err := s.fs.Lstat(ctx, name)
	switch {
	case err != nil:
	case !fi.IsDir():
		err = ferry.ErrNotDir
	default:
		err = s.fs.Remove(ctx, name)
	}
	if err != nil {
		err = fmt.Errorf("core: rmdir %q: %w", vp, err)
	}
	return s.opDone(ferry.EventRmdir, vp, "", err)
}

// Remove deletes the file (or symlink) p; directories need Rmdir.
func (s *Session) Remove(ctx context.Context, p string) error {
	vp, name, err := s.check(ferry.PermDelete, p)
	if err != nil {
		return err
	}
	if err := s.allow(ctx, ferry.EventDelete, vp); err != nil {
		return err
	}
	if ferry.Bool(s.view().pol.KeepAllFiles) {
		return fmt.Errorf("core: delete %q: this account keeps all files: %w", vp, fs.ErrPermission)
	}
	fi, err := s.fs.Lstat(ctx, name)
	switch {
	case err != nil:
	case fi.IsDir():
		err = ferry.ErrIsDir
	default:
		err = s.fs.Remove(ctx, name)
	}
	if err != nil {
		err = fmt.Errorf("core: delete %q: %w", vp, err)
	} else if fi.Mode().IsRegular() {
		s.recordUsage(ctx, name, -fi.Size(), -1)
		s.dropSum(ctx, name)
	}
	return s.opDone(ferry.EventDelete, vp, "", err)
}

// Rename moves from to to, replacing a file at to when the overwrite right
// allows it. Both paths need the rename right.
func (s *Session) Rename(ctx context.Context, from, to string) error {
	vf, nf, err := s.check(ferry.PermRename, from)
	if err != nil {
		return err
	}
	vt, nt, err := s.check(ferry.PermRename, to)
	if err != nil {
		return err
	}
	err = s.rename(ctx, vf, nf, vt, nt)
	if err != nil {
		err = fmt.Errorf("core: rename %q to %q: %w", vf, vt, err)
	}
	return s.opDone(ferry.EventRename, vf, vt, err)
}

func (s *Session) rename(ctx context.Context, vf, nf, vt, nt string) error {
	if vpath.IsRoot(vf) || vpath.IsRoot(vt) {
		return fs.ErrPermission
	}
	if vf == vt {
		return nil
	}
	if vpath.Within(vt, vf) {
		return fmt.Errorf("cannot move a directory into itself: %w", ferry.ErrInvalid)
	}
	if _, err := s.fs.Lstat(ctx, nf); err != nil {
		return err
	}
	if dst, err := s.fs.Lstat(ctx, nt); err == nil {
		if dst.IsDir() {
			return ferry.ErrExists
		}
		if err := s.overwriteAllowed(vt); err != nil {
			return err
		}
	}
	if err := s.fs.Rename(ctx, nf, nt); err != nil {
		return mapErr(err)
	}
	s.moveSum(ctx, nf, nt)
	return nil
}

// overwriteAllowed checks that an existing file at vp may be replaced.
func (s *Session) overwriteAllowed(vp string) error {
	v := s.view()
	if ferry.Bool(v.pol.KeepAllFiles) {
		return fmt.Errorf("core: %q exists and this account keeps all files: %w", vp, fs.ErrPermission)
	}
	return v.rules.Check(ferry.PermOverwrite, vp)
}

// Chmod sets the permission bits of p (setuid, setgid and sticky are
// dropped).
func (s *Session) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	vp, name, err := s.check(ferry.PermChmod, p)
	if err != nil {
		return err
	}
	err = s.fs.Chmod(ctx, name, mode&fs.ModePerm)
	if err != nil {
		err = fmt.Errorf("core: chmod %q: %w", vp, err)
	}
	return s.opDone(ferry.EventChmod, vp, fmt.Sprintf("%04o", mode&fs.ModePerm), err)
}

// Chtimes sets the access and modification times of p. It needs the upload
// right: clients set times right after uploading (MFMT, SFTP setstat).
func (s *Session) Chtimes(ctx context.Context, p string, atime, mtime time.Time) error {
	vp, name, err := s.check(ferry.PermUpload, p)
	if err != nil {
		return err
	}
	if atime.IsZero() {
		atime = mtime
	}
	before, _ := s.fs.Stat(ctx, name)
	err = s.fs.Chtimes(ctx, name, atime, mtime)
	if err != nil {
		err = fmt.Errorf("core: chtimes %q: %w", vp, err)
	} else {
		s.touchSum(ctx, name, before, mtime)
	}
	return s.opDone(ferry.EventChtimes, vp, "", err)
}

// Symlink creates link pointing at target. target is a virtual path,
// absolute or relative to link's directory; it is stored as a relative link
// that cannot leave the home. Needs the symlink right, which is off unless
// granted explicitly.
func (s *Session) Symlink(ctx context.Context, target, link string) error {
	vl, nl, err := s.check(ferry.PermSymlink, link)
	if err != nil {
		return err
	}
	err = s.symlink(ctx, target, vl, nl)
	if err != nil {
		err = fmt.Errorf("core: symlink %q: %w", vl, err)
	}
	return s.opDone(ferry.EventSymlink, vl, target, err)
}

func (s *Session) symlink(ctx context.Context, target, vl, nl string) error {
	sl, ok := s.fs.(storage.Symlinker)
	if !ok {
		return errors.ErrUnsupported
	}
	vt, err := vpath.Join(vpath.Dir(vl), target)
	if err != nil {
		return err
	}
	if _, _, err := s.resolve(vt); err != nil {
		return err
	}
	return mapErr(sl.Symlink(ctx, relTarget(vpath.Dir(vl), vt), nl))
}

// relTarget returns the relative path from directory dir to target, both
// clean virtual paths.
func relTarget(dir, target string) string {
	d := strings.Split(strings.Trim(dir, "/"), "/")
	t := strings.Split(strings.Trim(target, "/"), "/")
	if d[0] == "" {
		d = nil
	}
	if t[0] == "" {
		t = nil
	}
	i := 0
	for i < len(d) && i < len(t) && d[i] == t[i] {
		i++
	}
	parts := make([]string, 0, len(d)-i+len(t)-i)
	for range d[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[i:]...)
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
}

// Readlink returns the target of symlink p as a virtual path.
func (s *Session) Readlink(ctx context.Context, p string) (string, error) {
	vp, name, err := s.check(ferry.PermList, p)
	if err != nil {
		return "", err
	}
	sl, ok := s.fs.(storage.Symlinker)
	if !ok {
		return "", fmt.Errorf("core: readlink %q: %w", vp, errors.ErrUnsupported)
	}
	raw, err := sl.Readlink(ctx, name)
	if err != nil {
		return "", fmt.Errorf("core: readlink %q: %w", vp, err)
	}
	if strings.HasPrefix(raw, "/") {
		return raw, nil // an absolute link made outside Ferry: shown, never followed
	}
	return vpath.Join(vpath.Dir(vp), raw)
}

// Link creates a hard link newname for oldname (SFTP hardlink@openssh.com).
// It needs download on oldname and the symlink right on newname.
func (s *Session) Link(ctx context.Context, oldname, newname string) error {
	vo, no, err := s.check(ferry.PermDownload, oldname)
	if err != nil {
		return err
	}
	vn, nn, err := s.check(ferry.PermSymlink, newname)
	if err != nil {
		return err
	}
	ln, ok := s.fs.(storage.Linker)
	if !ok {
		err = errors.ErrUnsupported
	} else {
		err = mapErr(ln.Link(ctx, no, nn))
	}
	if err != nil {
		err = fmt.Errorf("core: link %q to %q: %w", vn, vo, err)
	}
	return s.opDone(ferry.EventSymlink, vn, vo, err)
}

// StatFS reports the space of the storage holding p.
func (s *Session) StatFS(ctx context.Context, p string) (storage.Usage, error) {
	vp, name, err := s.resolve(p)
	if err != nil {
		return storage.Usage{}, err
	}
	sf, ok := s.fs.(storage.StatFSer)
	if !ok {
		return storage.Usage{}, fmt.Errorf("core: statfs %q: %w", vp, errors.ErrUnsupported)
	}
	u, err := sf.StatFS(ctx, name)
	if err != nil {
		return storage.Usage{}, fmt.Errorf("core: statfs %q: %w", vp, err)
	}
	s.capByQuota(ctx, name, &u)
	return u, nil
}

// capByQuota makes free-space answers (AVBL, statvfs, df) tell what the
// quota leaves when that is less than the disk has.
func (s *Session) capByQuota(ctx context.Context, name string, u *storage.Usage) {
	var qBytes, qFiles, bytes, files int64
	if f := s.folderOf(name); f != nil {
		if !s.folderQuota(f) {
			return
		}
		c, err := s.folderUsage(ctx, f)
		if err != nil {
			return
		}
		c.mu.Lock()
		bytes, files = c.bytes, c.files
		c.mu.Unlock()
		qBytes, qFiles = f.QuotaBytes, f.QuotaFiles
	} else {
		if !s.quotaActive() {
			return
		}
		var err error
		if bytes, files, err = s.usage(ctx); err != nil {
			return
		}
		pol := s.view().pol
		qBytes, qFiles = ferry.Int64(pol.QuotaBytes), ferry.Int64(pol.QuotaFiles)
	}
	if qBytes > 0 {
		left := uint64(max(qBytes-bytes, 0))
		u.Total = min(u.Total, uint64(qBytes))
		u.Free, u.Avail = min(u.Free, left), min(u.Avail, left)
	}
	if qFiles > 0 {
		left := uint64(max(qFiles-files, 0))
		u.Files = min(u.Files, uint64(qFiles))
		u.FilesFree = min(u.FilesFree, left)
	}
}
