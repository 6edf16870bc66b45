package local_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
	"github.com/ferrymft/ferry/internal/storage/local"
	"github.com/ferrymft/ferry/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.FS {
		fsys, err := local.New(local.Options{Root: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return fsys
	})
}

// sandbox is a directory holding the root "root" and a file outside it,
// "secret", that no operation on the FS may reach.
type sandbox struct {
	dir, root string
	fsys      *local.FS
}

const secret = "outside the root"

func newSandbox(t *testing.T, opts local.Options) *sandbox {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "secret"), old, old); err != nil {
		t.Fatal(err)
	}
	opts.Root = root
	fsys, err := local.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return &sandbox{dir: dir, root: root, fsys: fsys}
}

// checkOutside fails t if anything outside the root changed.
func (s *sandbox) checkOutside(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"root", "secret"}) {
		t.Errorf("outside the root: %v, want [root secret]", names)
	}
	path := filepath.Join(s.dir, "secret")
	if b, err := os.ReadFile(path); err != nil || string(b) != secret {
		t.Errorf("secret: %q, %v", b, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.ModTime().Year() != 2000 {
		t.Errorf("secret changed: mode %v mtime %v", fi.Mode(), fi.ModTime())
	}
}

func TestOpenFileReturnsOSFile(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, local.Options{})
	ctx := t.Context()
	f, err := s.fsys.OpenFile(ctx, "f", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// io.Copy reaches sendfile and splice only through the bare *os.File.
	if _, ok := f.(*os.File); !ok {
		t.Errorf("OpenFile returned %T, want *os.File", f)
	}
	d, err := s.fsys.OpenDir(ctx, ".")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.(*os.File); !ok {
		t.Errorf("OpenDir returned %T, want *os.File", d)
	}
}

// TestSymlinksFromOutside plants links the way another program (or a user
// with shell access) could, and checks the FS never follows them out.
func TestSymlinksFromOutside(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, local.Options{})
	ctx := t.Context()
	if err := os.WriteFile(filepath.Join(s.root, "inside"), []byte("in"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"rel":       "../secret",
		"abs":       filepath.Join(s.dir, "secret"),
		"dir":       "..",
		"absdir":    s.dir,
		"absinside": filepath.Join(s.root, "inside"), // refused too: os.Root never follows absolute links
		"chain":     "rel",
	}
	for link, target := range links {
		if err := os.Symlink(target, filepath.Join(s.root, link)); err != nil {
			t.Fatal(err)
		}
	}
	for link := range links {
		for _, name := range []string{link, link + "/secret", link + "/new"} {
			_, err := s.fsys.Stat(ctx, name)
			wantPermission(t, "Stat "+name, err)
			f, err := s.fsys.OpenFile(ctx, name, os.O_RDWR|os.O_CREATE, 0o644)
			if err == nil {
				f.Close()
			}
			wantPermission(t, "OpenFile "+name, err)
			d, err := s.fsys.OpenDir(ctx, name)
			if err == nil {
				d.Close()
			}
			wantPermission(t, "OpenDir "+name, err)
			wantPermission(t, "Chmod "+name, s.fsys.Chmod(ctx, name, 0o666))
			wantPermission(t, "Chtimes "+name, s.fsys.Chtimes(ctx, name, time.Now(), time.Now()))
		}
		wantPermission(t, "Mkdir "+link+"/new", s.fsys.Mkdir(ctx, link+"/new", 0o755))
		wantPermission(t, "Rename onto "+link+"/new", s.fsys.Rename(ctx, "inside", link+"/new"))
		wantPermission(t, "Link onto "+link+"/new", s.fsys.Link(ctx, "inside", link+"/new"))
		wantPermission(t, "Remove "+link+"/secret", s.fsys.Remove(ctx, link+"/secret"))
		if got, err := s.fsys.Readlink(ctx, link); err != nil || got != links[link] {
			t.Errorf("Readlink %q = %q, %v; want %q", link, got, err, links[link])
		}
	}
	s.checkOutside(t)
}

func wantPermission(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("%s: %v, want fs.ErrPermission", what, err)
	}
}

func TestTraversalTouchesNothingOutside(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, local.Options{})
	ctx := t.Context()
	if err := os.WriteFile(filepath.Join(s.root, "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../secret", "../new", "/" + filepath.ToSlash(filepath.Join(s.dir, "secret")), "f/../../secret", ".."} {
		f, err := s.fsys.OpenFile(ctx, name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
		if err == nil {
			f.Close()
		}
		wantPermission(t, "OpenFile "+name, err)
		wantPermission(t, "Mkdir "+name, s.fsys.Mkdir(ctx, name, 0o777))
		wantPermission(t, "Remove "+name, s.fsys.Remove(ctx, name))
		wantPermission(t, "Rename to "+name, s.fsys.Rename(ctx, "f", name))
		wantPermission(t, "Rename from "+name, s.fsys.Rename(ctx, name, "got"))
		wantPermission(t, "Link to "+name, s.fsys.Link(ctx, "f", name))
		wantPermission(t, "Link from "+name, s.fsys.Link(ctx, name, "got"))
		wantPermission(t, "Symlink at "+name, s.fsys.Symlink(ctx, "f", name))
		wantPermission(t, "Chmod "+name, s.fsys.Chmod(ctx, name, 0o777))
		wantPermission(t, "Chtimes "+name, s.fsys.Chtimes(ctx, name, time.Now(), time.Now()))
	}
	s.checkOutside(t)
	if _, err := os.Stat(filepath.Join(s.root, "f")); err != nil {
		t.Errorf("f: %v", err)
	}
}

func TestSymlinkRefusesTargetsOutside(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, local.Options{})
	ctx := t.Context()
	if err := s.fsys.Mkdir(ctx, "d", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target, link string
		ok           bool
	}{
		{"x", "l1", true},
		{"d/../x", "l2", true},
		{"../x", "d/l3", true},
		{"./../d/x", "d/l4", true},
		{"..", "d/l5", true},
		{"../..", "d/l6", false},
		{"..", "l7", false},
		{"../secret", "l8", false},
		{"d/../../secret", "l9", false},
		{"/etc/passwd", "l10", false},
		{filepath.Join(s.root, "d"), "l11", false}, // absolute, even pointing inside
		{"", "l12", false},
	} {
		err := s.fsys.Symlink(ctx, tc.target, tc.link)
		switch {
		case tc.ok && err != nil:
			t.Errorf("Symlink %q -> %q: %v", tc.link, tc.target, err)
		case !tc.ok && !errors.Is(err, fs.ErrPermission):
			t.Errorf("Symlink %q -> %q: %v, want fs.ErrPermission", tc.link, tc.target, err)
		}
	}
}

func TestUmask(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, local.Options{Umask: 0o077})
	ctx := t.Context()
	f, err := s.fsys.OpenFile(ctx, "f", os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := s.fsys.Mkdir(ctx, "d", 0o777); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{"f": 0o600, "d": 0o700} {
		fi, err := os.Stat(filepath.Join(s.root, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", name, got, want)
		}
	}
	// Chmod is explicit: the umask does not apply.
	if err := s.fsys.Chmod(ctx, "f", 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(s.root, "f")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("f after Chmod 0644: %v, %v", fi, err)
	}
	// Bits outside 0o777 in a create mode are ignored, not an error.
	f, err = s.fsys.OpenFile(ctx, "g", os.O_WRONLY|os.O_CREATE, 0o4755)
	if err != nil {
		t.Fatalf("create with setuid bit: %v", err)
	}
	f.Close()
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		opts local.Options
		want error
	}{
		{"missing", local.Options{Root: missing}, fs.ErrNotExist},
		{"file", local.Options{Root: file}, ferry.ErrNotDir},
		{"empty", local.Options{}, ferry.ErrInvalid},
		{"umask", local.Options{Root: dir, Umask: 0o1022}, ferry.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, err := local.New(tc.opts)
			if err == nil {
				fsys.Close()
				t.Fatalf("New(%+v) succeeded", tc.opts)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("New(%+v): %v, want %v", tc.opts, err, tc.want)
			}
			if tc.opts.Root != "" && !strings.Contains(err.Error(), tc.opts.Root) {
				t.Errorf("error %q does not name the root %q", err, tc.opts.Root)
			}
		})
	}
}

func TestCloseKeepsOpenFiles(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, local.Options{})
	ctx := t.Context()
	f, err := s.fsys.OpenFile(ctx, "f", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.fsys.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.fsys.Stat(ctx, "f"); err == nil {
		t.Errorf("Stat after Close succeeded")
	}
	if _, err := f.Write([]byte("still open")); err != nil {
		t.Errorf("write to a file opened before Close: %v", err)
	}
}

func TestErrorsNameOperationAndPath(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, local.Options{})
	ctx := t.Context()
	_, err := s.fsys.Stat(ctx, "no/such")
	if err == nil || err.Error() != `local: stat "no/such": no such file or directory` {
		t.Errorf("Stat error = %v", err)
	}
	err = s.fsys.Mkdir(ctx, "../x", 0o755)
	if err == nil || err.Error() != `local: mkdir "../x": path escapes from root: permission denied` {
		t.Errorf("Mkdir error = %v", err)
	}
	if err := s.fsys.Mkdir(ctx, "d", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := s.fsys.OpenFile(ctx, "d", os.O_WRONLY, 0)
	if err == nil {
		f.Close()
	}
	if !errors.Is(err, ferry.ErrIsDir) {
		t.Errorf("open a directory for writing: %v, want ferry.ErrIsDir", err)
	}
	if err := os.WriteFile(filepath.Join(s.root, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.fsys.OpenDir(ctx, "f")
	if !errors.Is(err, ferry.ErrNotDir) {
		t.Errorf("OpenDir on a file: %v, want ferry.ErrNotDir", err)
	}
	_, err = s.fsys.Stat(ctx, "")
	if !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Stat of an empty name: %v, want fs.ErrInvalid", err)
	}
}

func TestOpener(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	base := t.TempDir()
	o := local.NewOpener(local.OpenerOptions{Umask: 0o027})

	home := filepath.Join(base, "homes", "alice")
	if _, err := o.OpenFS(ctx, home, false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFS of a missing home without create: %v, want fs.ErrNotExist", err)
	}
	fsys, err := o.OpenFS(ctx, home, true)
	if err != nil {
		t.Fatalf("OpenFS with create: %v", err)
	}
	defer fsys.Close()
	fi, err := os.Stat(home)
	if err != nil {
		t.Fatalf("home not created: %v", err)
	}
	if perm := fi.Mode().Perm(); !fi.IsDir() || perm&^0o750 != 0 || perm&0o700 != 0o700 {
		t.Errorf("home mode %v, want a directory with at most 0750", fi.Mode())
	}
	f, err := fsys.OpenFile(ctx, "hello", os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, err := os.Stat(filepath.Join(home, "hello")); err != nil || fi.Mode().Perm()&0o027 != 0 {
		t.Errorf("file in home: %v, %v; want the Opener's umask applied", fi, err)
	}

	// An existing home opens with or without create.
	for _, create := range []bool{false, true} {
		again, err := o.OpenFS(ctx, home, create)
		if err != nil {
			t.Errorf("OpenFS existing home (create=%v): %v", create, err)
			continue
		}
		if _, err := again.Stat(ctx, "hello"); err != nil {
			t.Errorf("Stat through the reopened home: %v", err)
		}
		again.Close()
	}

	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, home string
		create     bool
		want       error
	}{
		{"relative", "homes/bob", true, ferry.ErrInvalid},
		{"empty", "", true, ferry.ErrInvalid},
		{"file", file, false, ferry.ErrNotDir},
		{"file create", file, true, ferry.ErrNotDir},
		{"under a file", filepath.Join(file, "bob"), true, ferry.ErrNotDir},
	} {
		fsys, err := o.OpenFS(ctx, tc.home, tc.create)
		if err == nil {
			fsys.Close()
		}
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.home) {
			t.Errorf("%s: OpenFS(%q, %v): %v, want %v naming the home", tc.name, tc.home, tc.create, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "homes", "bob")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("relative home created something: %v", err)
	}
}
