package mountfs

import (
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/vpath"
)

// FuzzRoute checks the security invariant of mount resolution: whatever
// virtual path a client sends, the name handed to a backend stays inside
// it (relative, no "..") and lands in the mount that holds the path.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"/shared/x", "/shared", "/sharedx/y", "/a/b/c/../../shared/./z", "/../../etc/passwd", "/deep/reports/../r"} {
		f.Add(s)
	}
	m := New(nil, []Mount{{Path: "shared"}, {Path: "deep/reports", ReadOnly: true}, {Path: "deep"}})
	f.Fuzz(func(t *testing.T, p string) {
		vp, err := vpath.Clean(p)
		if err != nil {
			return
		}
		name := vpath.Rel(vp)
		_, rel, mt := m.route(name)
		if strings.HasPrefix(rel, "/") || rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(rel, "/../") || strings.HasSuffix(rel, "/..") {
			t.Fatalf("route(%q) = %q escapes its backend", name, rel)
		}
		if mt == nil {
			if rel != name {
				t.Fatalf("route(%q) in the root = %q, want the name unchanged", name, rel)
			}
			return
		}
		if name != mt.Path && !strings.HasPrefix(name, mt.Path+"/") {
			t.Fatalf("route(%q) chose mount %q that does not hold it", name, mt.Path)
		}
		// The deepest mount wins.
		if strings.HasPrefix(name, "deep/reports/") || name == "deep/reports" {
			if mt.Path != "deep/reports" {
				t.Fatalf("route(%q) = mount %q, want deep/reports", name, mt.Path)
			}
		}
	})
}
