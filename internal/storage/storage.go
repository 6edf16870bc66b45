// Package storage defines the contract between the core and the places files
// live (local disk, object storage). Names are slash separated and relative
// to the backend's root ("." is the root itself); a backend must refuse any
// name that would leave its root. Only core and app import this package's
// implementations; front ends never see storage directly.
package storage

import (
	"context"
	"io"
	"io/fs"
	"time"
)

// File is an open file. *os.File satisfies it, and local storage returns the
// bare *os.File so io.Copy to a socket can use sendfile/splice.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Seeker
	io.Closer
	Stat() (fs.FileInfo, error)
	Sync() error
	Truncate(size int64) error
}

// Dir streams a directory's entries. *os.File satisfies it. Readdir(n) with
// n > 0 returns at most n entries and io.EOF at the end.
type Dir interface {
	Readdir(n int) ([]fs.FileInfo, error)
	Close() error
}

// FS is the minimal contract every backend implements.
type FS interface {
	// Stat follows a final symlink (when it stays inside the root).
	Stat(ctx context.Context, name string) (fs.FileInfo, error)
	// Lstat does not follow a final symlink.
	Lstat(ctx context.Context, name string) (fs.FileInfo, error)
	// OpenFile opens with os.O_* flags; perm applies on create.
	OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (File, error)
	// OpenDir opens a directory for streaming its entries.
	OpenDir(ctx context.Context, name string) (Dir, error)
	Mkdir(ctx context.Context, name string, perm fs.FileMode) error
	// Remove removes a file, a symlink or an empty directory.
	Remove(ctx context.Context, name string) error
	// Rename replaces newname if it is a file.
	Rename(ctx context.Context, oldname, newname string) error
	Chmod(ctx context.Context, name string, mode fs.FileMode) error
	Chtimes(ctx context.Context, name string, atime, mtime time.Time) error
	// Close releases the backend (the os.Root for local storage).
	Close() error
}

// Symlinker is implemented by backends that have symbolic links.
type Symlinker interface {
	Symlink(ctx context.Context, target, link string) error
	Readlink(ctx context.Context, name string) (string, error)
}

// Linker is implemented by backends that have hard links.
type Linker interface {
	Link(ctx context.Context, oldname, newname string) error
}

// Usage is the space of the file system holding a backend.
type Usage struct {
	Total, Free, Avail uint64 // bytes; Avail is what an unprivileged writer may use
	Files, FilesFree   uint64
	BlockSize          uint64
	NameMax            uint64
}

// StatFSer is implemented by backends that can report free space.
type StatFSer interface {
	StatFS(ctx context.Context, name string) (Usage, error)
}

// Opener opens a backend rooted at a user's home. The core calls it once per
// login; create asks for the home to be created when missing.
type Opener interface {
	OpenFS(ctx context.Context, home string, create bool) (FS, error)
}
