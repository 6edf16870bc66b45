package vpath_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/vpath"
)

func TestClean(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want string
	}{
		{name: "empty is root", in: "", want: "/"},
		{name: "root", in: "/", want: "/"},
		{name: "dot", in: ".", want: "/"},
		{name: "relative is rooted", in: "a/b", want: "/a/b"},
		{name: "trailing slash", in: "/a/b/", want: "/a/b"},
		{name: "double slashes", in: "//a///b", want: "/a/b"},
		{name: "dot elements", in: "/./a/./b/.", want: "/a/b"},
		{name: "dotdot inside", in: "/a/b/../c", want: "/a/c"},
		{name: "dotdot above root", in: "/../../etc", want: "/etc"},
		{name: "relative dotdot above root", in: "../../etc/passwd", want: "/etc/passwd"},
		{name: "only dotdots", in: "../..", want: "/"},
		{name: "backslash is a name character", in: `/a\..\b`, want: `/a\..\b`},
		{name: "backslash dotdot is a name", in: `..\..\x`, want: `/..\..\x`},
		{name: "three dots is a name", in: "/.../a", want: "/.../a"},
		{name: "dotdot in a name", in: "/a..b/..c", want: "/a..b/..c"},
		{name: "spaces kept", in: "/ a /b ", want: "/ a /b "},
		{name: "invalid utf-8 kept", in: "/\xff\xfe", want: "/\xff\xfe"},
		{name: "DEL kept", in: "/a\x7f", want: "/a\x7f"},
		{name: "unicode", in: "/données/été", want: "/données/été"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vpath.Clean(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("Clean(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCleanRejectsControlCharacters(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"/a\x00b", "\x00", "/a\nb", "/a\rb", "/\tx", "/x\x1f", "../\x01"} {
		got, err := vpath.Clean(in)
		if !errors.Is(err, ferry.ErrInvalid) {
			t.Errorf("Clean(%q) = %q, %v; want an error wrapping ferry.ErrInvalid", in, got, err)
		}
	}
}

func TestJoin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, cwd, p, want string
	}{
		{name: "relative", cwd: "/in", p: "a.csv", want: "/in/a.csv"},
		{name: "absolute ignores cwd", cwd: "/in", p: "/out/b", want: "/out/b"},
		{name: "empty p is cwd", cwd: "/in", p: "", want: "/in"},
		{name: "dot is cwd", cwd: "/in/x", p: ".", want: "/in/x"},
		{name: "up one", cwd: "/in/x", p: "..", want: "/in"},
		{name: "up past root", cwd: "/in", p: "../../../etc", want: "/etc"},
		{name: "unclean cwd", cwd: "in//x/", p: "y", want: "/in/x/y"},
		{name: "empty cwd", cwd: "", p: "y", want: "/y"},
		{name: "backslash p", cwd: "/in", p: `..\x`, want: `/in/..\x`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vpath.Join(tt.cwd, tt.p)
			if err != nil || got != tt.want {
				t.Errorf("Join(%q, %q) = %q, %v; want %q, nil", tt.cwd, tt.p, got, err, tt.want)
			}
		})
	}
	for _, tt := range [][2]string{{"/in", "a\x00"}, {"/in\n", "a"}, {"/in", "/x\ty"}} {
		if got, err := vpath.Join(tt[0], tt[1]); !errors.Is(err, ferry.ErrInvalid) {
			t.Errorf("Join(%q, %q) = %q, %v; want an error wrapping ferry.ErrInvalid", tt[0], tt[1], got, err)
		}
	}
}

func TestRel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/":         ".",
		"":          ".",
		"/a":        "a",
		"/a/b":      "a/b",
		"/../a":     "a",
		"a/../../b": "b",
		"//a//":     "a",
	} {
		if got := vpath.Rel(in); got != want {
			t.Errorf("Rel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitBaseDir(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p, dir, name, base string
	}{
		{p: "/", dir: "/", name: "", base: "/"},
		{p: "/a", dir: "/", name: "a", base: "a"},
		{p: "/a/b", dir: "/a", name: "b", base: "b"},
		{p: "/a/b/c.txt", dir: "/a/b", name: "c.txt", base: "c.txt"},
		{p: `/a\b`, dir: "/", name: `a\b`, base: `a\b`},
	} {
		dir, name := vpath.Split(tt.p)
		if dir != tt.dir || name != tt.name {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", tt.p, dir, name, tt.dir, tt.name)
		}
		if got := vpath.Dir(tt.p); got != tt.dir {
			t.Errorf("Dir(%q) = %q, want %q", tt.p, got, tt.dir)
		}
		if got := vpath.Base(tt.p); got != tt.base {
			t.Errorf("Base(%q) = %q, want %q", tt.p, got, tt.base)
		}
		if got, want := vpath.IsRoot(tt.p), tt.p == "/"; got != want {
			t.Errorf("IsRoot(%q) = %v, want %v", tt.p, got, want)
		}
	}
}

func TestWithin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, p, prefix string
		want            bool
	}{
		{name: "equal", p: "/a", prefix: "/a", want: true},
		{name: "child", p: "/a/b", prefix: "/a", want: true},
		{name: "grandchild", p: "/a/b/c", prefix: "/a", want: true},
		{name: "sibling sharing a prefix", p: "/ab", prefix: "/a", want: false},
		{name: "sibling child sharing a prefix", p: "/ab/c", prefix: "/a", want: false},
		{name: "parent", p: "/a", prefix: "/a/b", want: false},
		{name: "everything within root", p: "/x/y", prefix: "/", want: true},
		{name: "root within root", p: "/", prefix: "/", want: true},
		{name: "root not within child", p: "/", prefix: "/a", want: false},
		{name: "unrelated", p: "/b/a", prefix: "/a", want: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := vpath.Within(tt.p, tt.prefix); got != tt.want {
				t.Errorf("Within(%q, %q) = %v, want %v", tt.p, tt.prefix, got, tt.want)
			}
		})
	}
}

// checkClean fails unless c has the shape every result of Clean must have.
func checkClean(t *testing.T, in, c string) {
	t.Helper()
	if !strings.HasPrefix(c, "/") {
		t.Fatalf("Clean(%q) = %q is not absolute", in, c)
	}
	if strings.Contains(c, "//") {
		t.Fatalf("Clean(%q) = %q holds an empty element", in, c)
	}
	if c != "/" && strings.HasSuffix(c, "/") {
		t.Fatalf("Clean(%q) = %q has a trailing slash", in, c)
	}
	for _, e := range strings.Split(c[1:], "/") {
		if e == ".." || (e == "." && c != "/") {
			t.Fatalf("Clean(%q) = %q holds a %q element", in, c, e)
		}
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 0x20 {
			t.Fatalf("Clean(%q) = %q holds a control character", in, c)
		}
	}
	if again, err := vpath.Clean(c); err != nil || again != c {
		t.Fatalf("Clean is not idempotent: Clean(%q) = %q, Clean(%q) = %q, %v", in, c, c, again, err)
	}
	r := vpath.Rel(c)
	if r == "" || strings.HasPrefix(r, "/") || r == ".." || strings.HasPrefix(r, "../") {
		t.Fatalf("Rel(%q) = %q escapes", c, r)
	}
	if (r == ".") != (c == "/") {
		t.Fatalf("Rel(%q) = %q", c, r)
	}
	if !vpath.Within(c, "/") || !vpath.Within(c, c) || !vpath.Within(c, vpath.Dir(c)) {
		t.Fatalf("Within fails on %q and its ancestors", c)
	}
	if dir, name := vpath.Split(c); c != "/" && path(dir, name) != c {
		t.Fatalf("Split(%q) = %q, %q does not join back", c, dir, name)
	}
}

func path(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 }) >= 0
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"", "/", ".", "..", "../../etc/passwd", "/a/../../b", `..\..\windows`, "a//b/./c/",
		"/a\x00b", "\xff/..", "/.../..", "//..//..//", "a/b/c/../../../../d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := vpath.Clean(p)
		if err != nil {
			if !errors.Is(err, ferry.ErrInvalid) {
				t.Fatalf("Clean(%q) error %v does not wrap ferry.ErrInvalid", p, err)
			}
			if !hasControl(p) {
				t.Fatalf("Clean(%q) rejected a path without control characters: %v", p, err)
			}
			return
		}
		if hasControl(p) {
			t.Fatalf("Clean(%q) = %q accepted a control character", p, c)
		}
		checkClean(t, p, c)
		// Rel must be safe even on input that was never cleaned.
		if r := vpath.Rel(p); strings.HasPrefix(r, "/") || r == ".." || strings.HasPrefix(r, "../") {
			t.Fatalf("Rel(%q) = %q escapes", p, r)
		}
	})
}

func FuzzJoin(f *testing.F) {
	for _, s := range [][2]string{
		{"/", ""}, {"/in", "a.csv"}, {"/in", "../../.."}, {"/in", "/etc"}, {"a/b", "../../../c"}, {"/", `..\..`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cwd, p string) {
		j, err := vpath.Join(cwd, p)
		if err != nil {
			if !errors.Is(err, ferry.ErrInvalid) {
				t.Fatalf("Join(%q, %q) error %v does not wrap ferry.ErrInvalid", cwd, p, err)
			}
			return
		}
		checkClean(t, cwd+" + "+p, j)
		if strings.HasPrefix(p, "/") {
			if c, _ := vpath.Clean(p); c != j {
				t.Fatalf("Join(%q, %q) = %q, want Clean(p) = %q", cwd, p, j, c)
			}
			return
		}
		c, err := vpath.Clean(cwd)
		if err != nil {
			t.Fatalf("Join(%q, %q) = %q accepted a cwd Clean rejects: %v", cwd, p, j, err)
		}
		// Without ".." in p, the result stays under cwd.
		if !strings.Contains(p, "..") && !vpath.Within(j, c) {
			t.Fatalf("Join(%q, %q) = %q is not within %q", cwd, p, j, c)
		}
	})
}
