// Package local is the storage backend for files on a local disk. Every
// operation goes through an [os.Root] opened on the backend's root directory,
// so the kernel, not a check made beforehand, keeps each name inside the
// root: a name that is absolute, has a ".." element or resolves through a
// symbolic link to a place outside the root fails with an error wrapping
// [fs.ErrPermission], and there is no window between a check and its use.
//
// Symbolic links are followed only while they stay inside the root. Absolute
// link targets are never followed, even when they point inside the root
// (os.Root refuses them), so [FS.Symlink] refuses to create them, and it
// refuses relative targets that climb out of the root. Links made by other
// programs that point outside can be listed, removed and read with Readlink,
// but opening or stat-following them fails.
//
// Other errors keep their os meaning: errors.Is(err, fs.ErrNotExist) and
// errors.Is(err, fs.ErrExist) work as with the os package. Remove of a
// non-empty directory wraps [ferry.ErrNotEmpty]; opening a directory for
// writing wraps [ferry.ErrIsDir]; a file used as a directory wraps
// [ferry.ErrNotDir].
//
// OpenFile and OpenDir return the bare *os.File so io.Copy between a file and
// a socket can use sendfile and splice.
//
// Only core and app import this package.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
)

// Options configure a local FS.
type Options struct {
	// Root is the directory the FS is confined to. It must exist.
	Root string
	// Umask clears permission bits of the files and directories the FS
	// creates; the process umask applies on top of it.
	Umask fs.FileMode
}

// FS is a storage backend confined to one directory of the local disk. It is
// safe for concurrent use.
type FS struct {
	root  *os.Root
	umask fs.FileMode
}

var (
	_ storage.FS        = (*FS)(nil)
	_ storage.Symlinker = (*FS)(nil)
	_ storage.Linker    = (*FS)(nil)
	_ storage.StatFSer  = (*FS)(nil)
)

// New opens an FS confined to opts.Root, which must be an existing
// directory.
func New(opts Options) (*FS, error) {
	if opts.Root == "" {
		return nil, fmt.Errorf("local: Options.Root is required: %w", ferry.ErrInvalid)
	}
	if opts.Umask&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("local: root %q: umask %#o: only permission bits (0o777) are accepted: %w", opts.Root, opts.Umask, ferry.ErrInvalid)
	}
	root, err := os.OpenRoot(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("local: root %q: %w", opts.Root, rootError(opts.Root, err))
	}
	return &FS{root: root, umask: opts.Umask}, nil
}

// rootError explains why a directory could not be opened as a root.
func rootError(dir string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("directory does not exist: %w", err)
	}
	// os.OpenRoot reports a non-directory with an error that matches no
	// sentinel; stat only to word the error, the root was not opened.
	if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
		return fmt.Errorf("%w: it is a %s", ferry.ErrNotDir, fileKind(fi.Mode()))
	}
	return err
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file (" + m.Type().String() + ")"
}

// Close releases the root directory. Files already opened stay usable.
func (f *FS) Close() error {
	return f.root.Close()
}

// Stat describes name, following a final symbolic link that stays inside
// the root.
func (f *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if err := check(ctx, name); err != nil {
		return nil, wrap("stat", name, err)
	}
	fi, err := f.root.Stat(name)
	if err != nil {
		return nil, wrap("stat", name, err)
	}
	return fi, nil
}

// Lstat describes name without following a final symbolic link.
func (f *FS) Lstat(ctx context.Context, name string) (fs.FileInfo, error) {
	if err := check(ctx, name); err != nil {
		return nil, wrap("lstat", name, err)
	}
	fi, err := f.root.Lstat(name)
	if err != nil {
		return nil, wrap("lstat", name, err)
	}
	return fi, nil
}

// OpenFile opens name with os.O_* flags. perm, less the umask, applies when
// the file is created; bits outside 0o777 are ignored. The result is the bare
// *os.File.
func (f *FS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (storage.File, error) {
	if err := check(ctx, name); err != nil {
		return nil, wrap("open", name, err)
	}
	file, err := f.root.OpenFile(name, flag, perm&fs.ModePerm&^f.umask)
	if err != nil {
		return nil, wrap("open", name, err)
	}
	return file, nil
}

// OpenDir opens the directory name for streaming its entries with Readdir.
// The result is the bare *os.File.
func (f *FS) OpenDir(ctx context.Context, name string) (storage.Dir, error) {
	if err := check(ctx, name); err != nil {
		return nil, wrap("opendir", name, err)
	}
	dir, err := f.root.OpenFile(name, os.O_RDONLY|oDirectory, 0)
	if err != nil {
		return nil, wrap("opendir", name, err)
	}
	// Where O_DIRECTORY does not exist, check the opened file itself.
	fi, err := dir.Stat()
	if err == nil && !fi.IsDir() {
		err = errNotDir
	}
	if err != nil {
		dir.Close()
		return nil, wrap("opendir", name, err)
	}
	return dir, nil
}

// Mkdir creates the directory name; perm, less the umask, is its mode. Its
// parent must exist.
func (f *FS) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	if err := check(ctx, name); err != nil {
		return wrap("mkdir", name, err)
	}
	return wrap("mkdir", name, f.root.Mkdir(name, perm&fs.ModePerm&^f.umask))
}

// Remove removes a file, a symbolic link or an empty directory. A directory
// that is not empty is refused with an error wrapping ferry.ErrNotEmpty.
func (f *FS) Remove(ctx context.Context, name string) error {
	if err := check(ctx, name); err != nil {
		return wrap("remove", name, err)
	}
	err := f.root.Remove(name)
	if isNotEmpty(err) {
		return fmt.Errorf("local: remove %q: %w", name, ferry.ErrNotEmpty)
	}
	return wrap("remove", name, err)
}

// Rename moves oldname to newname, replacing newname when it is a file or a
// symbolic link. An existing directory at newname is never replaced: the
// error wraps fs.ErrExist.
func (f *FS) Rename(ctx context.Context, oldname, newname string) error {
	if err := check(ctx, oldname); err != nil {
		return wrap2("rename", oldname, newname, err)
	}
	if err := checkName(newname); err != nil {
		return wrap2("rename", oldname, newname, err)
	}
	// os.Root.Rename refuses an existing directory at newname (EEXIST)
	// itself, as os.Rename does.
	return wrap2("rename", oldname, newname, f.root.Rename(oldname, newname))
}

// Chmod sets the mode of name, following a final symbolic link inside the
// root. The umask does not apply.
func (f *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	if err := check(ctx, name); err != nil {
		return wrap("chmod", name, err)
	}
	return wrap("chmod", name, f.root.Chmod(name, mode))
}

// Chtimes sets the access and modification times of name; a zero time
// leaves that time unchanged.
func (f *FS) Chtimes(ctx context.Context, name string, atime, mtime time.Time) error {
	if err := check(ctx, name); err != nil {
		return wrap("chtimes", name, err)
	}
	return wrap("chtimes", name, f.root.Chtimes(name, atime, mtime))
}

// Symlink creates link as a symbolic link to target. Targets that are
// absolute or that climb out of the root are refused with an error wrapping
// fs.ErrPermission, since the FS could never follow them and other programs
// reading the directory might.
func (f *FS) Symlink(ctx context.Context, target, link string) error {
	if err := check(ctx, link); err != nil {
		return wrap("symlink", link, err)
	}
	if !targetInside(link, target) {
		return fmt.Errorf("local: symlink %q -> %q: %w", link, target, errEscape)
	}
	return wrap("symlink", link, f.root.Symlink(target, link))
}

// Readlink returns the target of the symbolic link name as stored.
func (f *FS) Readlink(ctx context.Context, name string) (string, error) {
	if err := check(ctx, name); err != nil {
		return "", wrap("readlink", name, err)
	}
	target, err := f.root.Readlink(name)
	if err != nil {
		return "", wrap("readlink", name, err)
	}
	return target, nil
}

// Link creates newname as a hard link to oldname. When oldname is a symbolic
// link, the new name links to the symbolic link itself.
func (f *FS) Link(ctx context.Context, oldname, newname string) error {
	if err := check(ctx, oldname); err != nil {
		return wrap2("link", oldname, newname, err)
	}
	if err := checkName(newname); err != nil {
		return wrap2("link", oldname, newname, err)
	}
	return wrap2("link", oldname, newname, f.root.Link(oldname, newname))
}

// StatFS reports the space of the file system holding name.
func (f *FS) StatFS(ctx context.Context, name string) (storage.Usage, error) {
	if err := check(ctx, name); err != nil {
		return storage.Usage{}, wrap("statfs", name, err)
	}
	u, err := statFS(f.root, name)
	if err != nil {
		return storage.Usage{}, wrap("statfs", name, err)
	}
	return u, nil
}

// targetInside reports whether the relative symlink target, resolved
// lexically from the directory of link, stays inside the root.
func targetInside(link, target string) bool {
	if target == "" || isAbs(target) {
		return false
	}
	depth := 0 // directories between the root and link
	for elem := range strings.FieldsFuncSeq(link, isSep) {
		if elem != "." {
			depth++
		}
	}
	depth = max(depth-1, 0) // the last element is the link itself
	for elem := range strings.FieldsFuncSeq(target, isSep) {
		switch elem {
		case ".":
		case "..":
			depth--
			if depth < 0 {
				return false
			}
		default:
			depth++
		}
	}
	return true
}

func isAbs(name string) bool {
	return strings.HasPrefix(name, "/") || filepath.IsAbs(name) || filepath.VolumeName(name) != ""
}

func isSep(r rune) bool {
	return r == '/' || r == filepath.Separator
}
