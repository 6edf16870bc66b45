// Package mountfs composes storage backends into one tree: a user's home
// with virtual folders mounted at paths inside it, so one directory can be
// shared by many confined users without symlinks. It is a storage.FS
// itself, so the core uses it like any backend. Only core and app import
// it.
package mountfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/storage"
)

// Mount places FS at Path, a clean slash-separated name relative to the
// root ("shared", "in/common"). A read-only mount refuses every write.
type Mount struct {
	Path     string
	FS       storage.FS
	ReadOnly bool
}

// FS routes each name to the backend mounted deepest above it.
type FS struct {
	root   storage.FS
	mounts []Mount // longest path first
}

var (
	_ storage.FS        = (*FS)(nil)
	_ storage.Symlinker = (*FS)(nil)
	_ storage.Linker    = (*FS)(nil)
	_ storage.StatFSer  = (*FS)(nil)
)

// ErrCrossMount is returned for renames and links between backends.
var ErrCrossMount = fmt.Errorf("cannot move or link across folders: %w", errors.ErrUnsupported)

// errReadOnly refuses writes to read-only folders and to mount points.
var errReadOnly = fmt.Errorf("read-only folder: %w", fs.ErrPermission)

// New returns root with mounts; it owns (and closes) every backend.
func New(root storage.FS, mounts []Mount) *FS {
	ms := slices.Clone(mounts)
	slices.SortFunc(ms, func(a, b Mount) int { return len(b.Path) - len(a.Path) })
	return &FS{root: root, mounts: ms}
}

// route returns the backend for name, the name inside it, and its mount
// (nil for the root).
func (m *FS) route(name string) (storage.FS, string, *Mount) {
	for i := range m.mounts {
		mt := &m.mounts[i]
		if name == mt.Path {
			return mt.FS, ".", mt
		}
		if strings.HasPrefix(name, mt.Path+"/") {
			return mt.FS, name[len(mt.Path)+1:], mt
		}
	}
	return m.root, name, nil
}

// Mounted reports whether name lies in a mounted folder.
func (m *FS) Mounted(name string) bool {
	_, _, mt := m.route(name)
	return mt != nil
}

// MountOf returns the path of the mount holding name, if any.
func (m *FS) MountOf(name string) (string, bool) {
	_, _, mt := m.route(name)
	if mt == nil {
		return "", false
	}
	return mt.Path, true
}

// isMountPoint reports whether name is exactly a mount's path.
func (m *FS) isMountPoint(name string) bool {
	for _, mt := range m.mounts {
		if mt.Path == name {
			return true
		}
	}
	return false
}

// holdsMount reports whether a mount lies strictly below name.
func (m *FS) holdsMount(name string) bool {
	for _, mt := range m.mounts {
		if name == "." || strings.HasPrefix(mt.Path, name+"/") {
			return true
		}
	}
	return false
}

// writable routes name for a write.
func (m *FS) writable(name string) (storage.FS, string, error) {
	f, rel, mt := m.route(name)
	if mt != nil && (mt.ReadOnly || rel == ".") {
		return nil, "", fmt.Errorf("mountfs: %q: %w", name, errReadOnly)
	}
	return f, rel, nil
}

// info renames a FileInfo (a mount's root shows under its mount name).
type info struct {
	fs.FileInfo
	name string
}

func (i info) Name() string { return i.name }

// synthDir describes a directory that exists only because a mount lies
// below it.
type synthDir string

func (d synthDir) Name() string       { return string(d) }
func (d synthDir) Size() int64        { return 0 }
func (d synthDir) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (d synthDir) ModTime() time.Time { return time.Time{} }
func (d synthDir) IsDir() bool        { return true }
func (d synthDir) Sys() any           { return nil }

func base(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func (m *FS) stat(ctx context.Context, name string, lstat bool) (fs.FileInfo, error) {
	f, rel, _ := m.route(name)
	var fi fs.FileInfo
	var err error
	if lstat && rel != "." {
		fi, err = f.Lstat(ctx, rel)
	} else {
		fi, err = f.Stat(ctx, rel)
	}
	if errors.Is(err, fs.ErrNotExist) && m.holdsMount(name) {
		return synthDir(base(name)), nil
	}
	if err != nil {
		return nil, err
	}
	if m.isMountPoint(name) {
		return info{FileInfo: fi, name: base(name)}, nil
	}
	return fi, nil
}

// Stat implements storage.FS.
func (m *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	return m.stat(ctx, name, false)
}

// Lstat implements storage.FS.
func (m *FS) Lstat(ctx context.Context, name string) (fs.FileInfo, error) {
	return m.stat(ctx, name, true)
}

// OpenFile implements storage.FS; writes to read-only folders fail.
func (m *FS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (storage.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		f, rel, err := m.writable(name)
		if err != nil {
			return nil, err
		}
		return f.OpenFile(ctx, rel, flag, perm)
	}
	f, rel, _ := m.route(name)
	return f.OpenFile(ctx, rel, flag, perm)
}

// OpenDir implements storage.FS: mount points below name appear as
// directories, hiding whatever the parent holds under that name.
func (m *FS) OpenDir(ctx context.Context, name string) (storage.Dir, error) {
	f, rel, _ := m.route(name)
	var extra []fs.FileInfo
	for _, mt := range m.mounts {
		parent, child := ".", mt.Path
		if i := strings.LastIndexByte(mt.Path, '/'); i >= 0 {
			parent, child = mt.Path[:i], mt.Path[i+1:]
		}
		if parent != name {
			continue
		}
		fi, err := mt.FS.Stat(ctx, ".")
		if err != nil {
			extra = append(extra, synthDir(child))
			continue
		}
		extra = append(extra, info{FileInfo: fi, name: child})
	}
	// Directories that lead to deeper mounts.
	for _, mt := range m.mounts {
		prefix := name + "/"
		if name == "." {
			prefix = ""
		}
		if rest, ok := strings.CutPrefix(mt.Path, prefix); ok && strings.Contains(rest, "/") {
			child := rest[:strings.IndexByte(rest, '/')]
			if !slices.ContainsFunc(extra, func(fi fs.FileInfo) bool { return fi.Name() == child }) {
				if _, err := f.Stat(ctx, joinRel(rel, child)); errors.Is(err, fs.ErrNotExist) {
					extra = append(extra, synthDir(child))
				}
			}
		}
	}
	d, err := f.OpenDir(ctx, rel)
	if errors.Is(err, fs.ErrNotExist) && m.holdsMount(name) {
		d, err = emptyDir{}, nil
	}
	if err != nil {
		return nil, err
	}
	if len(extra) == 0 {
		return d, nil
	}
	return &mergedDir{Dir: d, extra: extra}, nil
}

func joinRel(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

type emptyDir struct{}

func (emptyDir) Readdir(int) ([]fs.FileInfo, error) { return nil, io.EOF }
func (emptyDir) Close() error                       { return nil }

// mergedDir streams a directory, dropping entries shadowed by mounts, and
// then the mount points.
type mergedDir struct {
	storage.Dir
	extra []fs.FileInfo
	done  bool
}

func (d *mergedDir) Readdir(n int) ([]fs.FileInfo, error) {
	for !d.done {
		batch, err := d.Dir.Readdir(n)
		kept := batch[:0]
		for _, fi := range batch {
			if !slices.ContainsFunc(d.extra, func(x fs.FileInfo) bool { return x.Name() == fi.Name() }) {
				kept = append(kept, fi)
			}
		}
		if err == io.EOF {
			d.done = true
		} else if err != nil {
			return kept, err
		}
		if len(kept) > 0 {
			return kept, nil
		}
	}
	if len(d.extra) == 0 {
		return nil, io.EOF
	}
	k := len(d.extra)
	if n > 0 && n < k {
		k = n
	}
	out := d.extra[:k]
	d.extra = d.extra[k:]
	return out, nil
}

// Mkdir implements storage.FS.
func (m *FS) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	if m.isMountPoint(name) {
		return fmt.Errorf("mountfs: mkdir %q: %w", name, fs.ErrExist)
	}
	f, rel, err := m.writable(name)
	if err != nil {
		return err
	}
	return f.Mkdir(ctx, rel, perm)
}

// Remove implements storage.FS.
func (m *FS) Remove(ctx context.Context, name string) error {
	f, rel, err := m.writable(name)
	if err != nil {
		return err
	}
	return f.Remove(ctx, rel)
}

// Rename implements storage.FS; both names must be in the same backend.
func (m *FS) Rename(ctx context.Context, oldname, newname string) error {
	fo, ro, err := m.writable(oldname)
	if err != nil {
		return err
	}
	fn, rn, err := m.writable(newname)
	if err != nil {
		return err
	}
	if fo != fn {
		return ErrCrossMount
	}
	return fo.Rename(ctx, ro, rn)
}

// Chmod implements storage.FS.
func (m *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	f, rel, err := m.writable(name)
	if err != nil {
		return err
	}
	return f.Chmod(ctx, rel, mode)
}

// Chtimes implements storage.FS.
func (m *FS) Chtimes(ctx context.Context, name string, atime, mtime time.Time) error {
	f, rel, err := m.writable(name)
	if err != nil {
		return err
	}
	return f.Chtimes(ctx, rel, atime, mtime)
}

// Symlink implements storage.Symlinker when the link's backend does; the
// target must resolve inside the same backend.
func (m *FS) Symlink(ctx context.Context, target, link string) error {
	f, rel, err := m.writable(link)
	if err != nil {
		return err
	}
	if m.Mounted(link) {
		// A relative target from inside a folder could climb into the home
		// tree that the folder's backend does not contain.
		return fmt.Errorf("mountfs: symlinks inside folders: %w", errors.ErrUnsupported)
	}
	sl, ok := f.(storage.Symlinker)
	if !ok {
		return errors.ErrUnsupported
	}
	return sl.Symlink(ctx, target, rel)
}

// Readlink implements storage.Symlinker.
func (m *FS) Readlink(ctx context.Context, name string) (string, error) {
	f, rel, _ := m.route(name)
	sl, ok := f.(storage.Symlinker)
	if !ok {
		return "", errors.ErrUnsupported
	}
	return sl.Readlink(ctx, rel)
}

// Link implements storage.Linker within one backend.
func (m *FS) Link(ctx context.Context, oldname, newname string) error {
	fo, ro, _ := m.route(oldname)
	fn, rn, err := m.writable(newname)
	if err != nil {
		return err
	}
	if fo != fn {
		return ErrCrossMount
	}
	ln, ok := fo.(storage.Linker)
	if !ok {
		return errors.ErrUnsupported
	}
	return ln.Link(ctx, ro, rn)
}

// StatFS implements storage.StatFSer for the backend holding name.
func (m *FS) StatFS(ctx context.Context, name string) (storage.Usage, error) {
	f, rel, _ := m.route(name)
	sf, ok := f.(storage.StatFSer)
	if !ok {
		return storage.Usage{}, errors.ErrUnsupported
	}
	return sf.StatFS(ctx, rel)
}

// Close closes every backend.
func (m *FS) Close() error {
	errs := []error{m.root.Close()}
	for _, mt := range m.mounts {
		errs = append(errs, mt.FS.Close())
	}
	return errors.Join(errs...)
}
