package remote

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// localFS is the local file system; paths are OS paths, relative ones from
// the working directory.
type localFS struct{}

// Local returns the local file system as an FS.
func Local() FS { return localFS{} }

func joinLocal(base string, elem ...string) string {
	return filepath.Join(append([]string{base}, elem...)...)
}

func localErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

func entryOf(fi os.FileInfo) Entry {
	return Entry{Name: fi.Name(), Size: fi.Size(), ModTime: fi.ModTime(), Dir: fi.IsDir()}
}

func (localFS) Stat(_ context.Context, p string) (Entry, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return Entry{}, err
	}
	return entryOf(fi), nil
}

func (localFS) List(_ context.Context, dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(des))
	for _, d := range des {
		fi, err := os.Stat(filepath.Join(dir, d.Name())) // follow symlinks, as a copy does
		if err != nil {
			continue // vanished or a dangling link
		}
		e := entryOf(fi)
		e.Name = d.Name()
		out = append(out, e)
	}
	return out, nil
}

// localReader hides *os.File's WriteTo/ReadFrom so the copy loop decides.
type localReader struct{ f *os.File }

func (r localReader) Read(p []byte) (int, error) { return r.f.Read(p) }
func (r localReader) Close() error               { return r.f.Close() }

func (localFS) Open(_ context.Context, p string, off int64) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("open %s: is a directory", p)
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	return localReader{f}, nil
}

// localWriter writes a local file. A destination that is not a regular
// file (/dev/null, a pipe, a terminal) is not synced: fsync means nothing
// there and fails on some of them.
type localWriter struct {
	f       *os.File
	regular bool
}

func (w localWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	return n, localErr(err)
}

func (w localWriter) Close() error {
	if !w.regular {
		return localErr(w.f.Close())
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return localErr(err)
	}
	return localErr(w.f.Close())
}

func (w localWriter) Abort() error { return w.f.Close() }

func (localFS) Create(_ context.Context, p string, off int64) (Writer, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if off == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(p, flags, 0o644)
	if err != nil {
		return nil, localErr(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		if off > 0 {
			f.Close()
			return nil, fmt.Errorf("write %s at offset %d: not a regular file: %w", p, off, errors.ErrUnsupported)
		}
		return localWriter{f: f}, nil
	}
	if off > 0 {
		if fi.Size() != off {
			err = f.Truncate(off)
		}
		if err == nil {
			_, err = f.Seek(off, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
	}
	return localWriter{f: f, regular: true}, nil
}

func (localFS) Rename(_ context.Context, from, to string) error { return os.Rename(from, to) }
func (localFS) Remove(_ context.Context, p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("remove %s: is a directory", p)
	}
	return os.Remove(p)
}
func (localFS) Rmdir(_ context.Context, p string) error {
	if err := syscall.Rmdir(p); err != nil {
		return &os.PathError{Op: "rmdir", Path: p, Err: err}
	}
	return nil
}
func (localFS) Mkdir(_ context.Context, p string) error { return os.Mkdir(p, 0o755) }
func (localFS) Close() error                            { return nil }

// Hash reads the file and hashes it.
func (localFS) Hash(_ context.Context, p, algo string) ([]byte, error) {
	h, err := newHash(algo)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func newHash(algo string) (hash.Hash, error) {
	switch algo {
	case "sha256":
		return sha256.New(), nil
	case "sha1":
		return sha1.New(), nil
	case "md5":
		return md5.New(), nil
	}
	return nil, fmt.Errorf("hash %q: %w", algo, errors.ErrUnsupported)
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(strings.TrimSpace(s)) }
