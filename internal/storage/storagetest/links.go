package storagetest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/storage"
)

func testSymlink(t *testing.T, fsys storage.FS) {
	sl, ok := fsys.(storage.Symlinker)
	if !ok {
		t.Skip("backend has no symbolic links")
	}
	ctx := t.Context()
	writeFile(t, fsys, "t.txt", []byte("target"))
	mkdir(t, fsys, "d")
	links := []struct{ target, link string }{
		{"t.txt", "l"},
		{"../t.txt", "d/up"},
		{"d", "ld"},
		{"./d/../t.txt", "dotted"},
		{"missing", "dangling"},
	}
	for _, l := range links {
		if err := sl.Symlink(ctx, l.target, l.link); err != nil {
			t.Fatalf("Symlink %q -> %q: %v", l.link, l.target, err)
		}
		if got, err := sl.Readlink(ctx, l.link); err != nil || got != l.target {
			t.Errorf("Readlink %q = %q, %v; want %q", l.link, got, err, l.target)
		}
		fi, err := fsys.Lstat(ctx, l.link)
		if err != nil || fi.Mode().Type() != fs.ModeSymlink {
			t.Errorf("Lstat %q = %v, %v; want a symbolic link", l.link, fi, err)
		}
	}
	for _, name := range []string{"l", "d/up", "dotted"} {
		wantContent(t, fsys, name, []byte("target"))
		if fi := stat(t, fsys, name); !fi.Mode().IsRegular() || fi.Size() != 6 {
			t.Errorf("Stat %q: mode %v size %d, want the target's", name, fi.Mode(), fi.Size())
		}
	}
	if fi := stat(t, fsys, "ld"); !fi.IsDir() {
		t.Errorf("Stat ld: mode %v, want a directory", fi.Mode())
	}
	if got := readAll(t, fsys, "ld", 10); len(got) != 1 || got["up"] == nil {
		t.Errorf("listing through ld: %v, want up", keys(got))
	}
	wantContent(t, fsys, "ld/up", []byte("target"))

	// Writing through a link writes the target.
	writeFile(t, fsys, "l", []byte("through"))
	wantContent(t, fsys, "t.txt", []byte("through"))

	_, err := fsys.Stat(ctx, "dangling")
	wantErr(t, "Stat dangling", err, fs.ErrNotExist)
	wantErr(t, "Symlink on an existing name", sl.Symlink(ctx, "t.txt", "d"), fs.ErrExist)
	_, err = sl.Readlink(ctx, "t.txt")
	if err == nil {
		t.Errorf("Readlink on a regular file succeeded")
	}
	_, err = sl.Readlink(ctx, "nolink")
	wantErr(t, "Readlink missing", err, fs.ErrNotExist)

	// Remove and Rename act on the link, not its target.
	if err := fsys.Rename(ctx, "l", "l2"); err != nil {
		t.Errorf("Rename link: %v", err)
	}
	if got, err := sl.Readlink(ctx, "l2"); err != nil || got != "t.txt" {
		t.Errorf("Readlink after rename = %q, %v; want t.txt", got, err)
	}
	if err := fsys.Remove(ctx, "l2"); err != nil {
		t.Errorf("Remove link: %v", err)
	}
	if err := fsys.Remove(ctx, "ld"); err != nil {
		t.Errorf("Remove link to a directory: %v", err)
	}
	wantMissing(t, fsys, "l2")
	wantContent(t, fsys, "t.txt", []byte("through"))
	if fi := stat(t, fsys, "d"); !fi.IsDir() {
		t.Errorf("d after removing a link to it: %v", fi.Mode())
	}
}

// outsideTargets are symlink targets that leave the root from a link at the
// root, or that the local backend cannot follow (absolute).
var outsideTargets = []string{
	"..",
	"../outside",
	"../../../../../../etc/passwd",
	"/etc/passwd",
	"/",
	"d/../../outside",
}

func testSymlinkEscape(t *testing.T, fsys storage.FS) {
	sl, ok := fsys.(storage.Symlinker)
	if !ok {
		t.Skip("backend has no symbolic links")
	}
	ctx := t.Context()
	mkdir(t, fsys, "d")
	refused := []error{fs.ErrPermission, fs.ErrNotExist}
	past := time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
	for i, target := range outsideTargets {
		for _, link := range []string{fmt.Sprintf("esc%d", i), fmt.Sprintf("d/esc%d", i)} {
			if strings.HasPrefix(link, "d/") && !strings.HasPrefix(target, "/") {
				target = "../" + target // one level deeper, just as far out
			}
			err := sl.Symlink(ctx, target, link)
			if err != nil {
				// Refusing to create it is fine, as a permission error.
				wantErr(t, fmt.Sprintf("Symlink %q -> %q", link, target), err, fs.ErrPermission)
				wantMissing(t, fsys, link)
				continue
			}
			if got, err := sl.Readlink(ctx, link); err != nil || got != target {
				t.Errorf("Readlink %q = %q, %v; want %q", link, got, err, target)
			}
			if fi, err := fsys.Lstat(ctx, link); err != nil || fi.Mode().Type() != fs.ModeSymlink {
				t.Errorf("Lstat %q = %v, %v; want a symbolic link", link, fi, err)
			}
			check := func(op, name string, err error) {
				t.Helper()
				wantErr(t, fmt.Sprintf("%s %q (link to %q)", op, name, target), err, refused...)
			}
			for _, name := range []string{link, link + "/x"} {
				_, err := fsys.Stat(ctx, name)
				check("Stat", name, err)
				for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_CREATE, os.O_WRONLY | os.O_TRUNC} {
					f, err := fsys.OpenFile(ctx, name, flag, 0o644)
					if err == nil {
						f.Close()
					}
					check(fmt.Sprintf("OpenFile(%#x)", flag), name, err)
				}
				d, err := fsys.OpenDir(ctx, name)
				if err == nil {
					d.Close()
				}
				check("OpenDir", name, err)
				check("Chmod", name, fsys.Chmod(ctx, name, 0o777))
				check("Chtimes", name, fsys.Chtimes(ctx, name, past, past))
			}
			check("Mkdir", link+"/x", fsys.Mkdir(ctx, link+"/x", 0o755))
			check("Remove", link+"/x", fsys.Remove(ctx, link+"/x"))
			if err := fsys.Remove(ctx, link); err != nil {
				t.Errorf("Remove escaping link %q: %v", link, err)
			}
			wantMissing(t, fsys, link)
		}
	}
}

func testLink(t *testing.T, fsys storage.FS) {
	ln, ok := fsys.(storage.Linker)
	if !ok {
		t.Skip("backend has no hard links")
	}
	ctx := t.Context()
	writeFile(t, fsys, "a", []byte("shared"))
	mkdir(t, fsys, "d")
	if err := ln.Link(ctx, "a", "d/b"); err != nil {
		t.Fatalf("Link: %v", err)
	}
	wantContent(t, fsys, "d/b", []byte("shared"))

	// Both names are the same file.
	f, err := fsys.OpenFile(ctx, "d/b", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("open d/b: %v", err)
	}
	if _, err := f.Write([]byte(" bytes")); err != nil {
		t.Fatalf("write d/b: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close d/b: %v", err)
	}
	wantContent(t, fsys, "a", []byte("shared bytes"))

	writeFile(t, fsys, "c", []byte("c"))
	wantErr(t, "Link onto an existing name", ln.Link(ctx, "a", "c"), fs.ErrExist)
	wantContent(t, fsys, "c", []byte("c"))
	wantErr(t, "Link missing", ln.Link(ctx, "missing", "e"), fs.ErrNotExist)
	wantMissing(t, fsys, "e")

	if err := fsys.Remove(ctx, "a"); err != nil {
		t.Fatalf("Remove a: %v", err)
	}
	wantContent(t, fsys, "d/b", []byte("shared bytes"))
}

func testStatFS(t *testing.T, fsys storage.FS) {
	sf, ok := fsys.(storage.StatFSer)
	if !ok {
		t.Skip("backend does not report free space")
	}
	ctx := t.Context()
	mkdir(t, fsys, "d")
	writeFile(t, fsys, "d/f", []byte("x"))
	for _, name := range []string{".", "d", "d/f"} {
		u, err := sf.StatFS(ctx, name)
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skipf("StatFS: %v", err)
		}
		if err != nil {
			t.Errorf("StatFS %q: %v", name, err)
			continue
		}
		if u.Total == 0 || u.Free > u.Total || u.Avail > u.Total {
			t.Errorf("StatFS %q = %+v: want Total > 0 and Free, Avail <= Total", name, u)
		}
	}
}
