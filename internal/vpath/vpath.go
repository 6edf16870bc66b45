// Package vpath handles virtual paths: the slash-separated paths clients see,
// where "/" is the user's home. It is pure (no I/O) and may be imported by any
// package; core uses it to turn every client-supplied path into a clean
// absolute one before permissions and storage see it.
//
// Only '/' separates path elements. A backslash is an ordinary name
// character, so "a\..\b" is one name, never a way to climb.
package vpath

import (
	"fmt"
	"path"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Root is the virtual path of the user's home.
const Root = "/"

// Clean returns the clean absolute form of the virtual path p: rooted at "/",
// no empty, "." or ".." elements and no trailing slash. ".." never climbs
// above "/" ("/../../etc" is "/etc"), and a relative p is taken from "/". An
// empty p is "/". A p holding a control character (below 0x20, NUL
// included) is rejected with an error wrapping ferry.ErrInvalid; any other
// byte, invalid UTF-8 included, is kept as part of a name.
func Clean(p string) (string, error) {
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 {
			return "", fmt.Errorf("%w: path %q: control character %#02x not allowed", ferry.ErrInvalid, p, p[i])
		}
	}
	if p == "" || p == Root {
		return Root, nil
	}
	// Rooting before cleaning is what keeps ".." from climbing above "/".
	return path.Clean(Root + p), nil
}

// Join resolves p against the current directory cwd, as a client's CWD/CD
// does, and cleans the result. An absolute p ignores cwd.
func Join(cwd, p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return Clean(p)
	}
	return Clean(cwd + "/" + p)
}

// Rel returns the storage name of the clean virtual path p: relative, never
// starting with "/" or "..", "." for the root ("/a/b" is "a/b"). It cleans p
// lexically again, so an unclean p cannot produce an escaping name.
func Rel(p string) string {
	c := path.Clean(Root + p)
	if c == Root {
		return "."
	}
	return c[1:]
}

// Split splits the clean path p into its parent directory and last element:
// "/a/b" is ("/a", "b"), "/a" is ("/", "a") and "/" is ("/", "").
func Split(p string) (dir, name string) {
	if p == Root || p == "" {
		return Root, ""
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return Root, p[i+1:]
	}
	return p[:i], p[i+1:]
}

// Base returns the last element of the clean path p; Base("/") is "/".
func Base(p string) string {
	if _, name := Split(p); name != "" {
		return name
	}
	return Root
}

// Dir returns the parent directory of the clean path p; Dir("/") is "/".
func Dir(p string) string {
	dir, _ := Split(p)
	return dir
}

// IsRoot reports whether the clean path p is the home directory.
func IsRoot(p string) bool { return p == Root || p == "" }

// Within reports whether the clean path p is prefix or lies below it. It
// compares whole elements: "/ab" is not within "/a". Every path is within
// "/".
func Within(p, prefix string) bool {
	if prefix == Root || prefix == "" {
		return true
	}
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || p[len(prefix)] == '/'
}
