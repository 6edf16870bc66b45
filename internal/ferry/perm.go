package ferry

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Perm is a set of rights on a path, as a bit mask.
type Perm uint16

// Rights. Op names map one to one onto these.
const (
	PermList Perm = 1 << iota
	PermDownload
	PermUpload
	PermOverwrite
	PermDelete
	PermRename
	PermMkdir
	PermRmdir
	PermChmod
	PermSymlink

	PermNone Perm = 0
	// PermAll is every right except symlink, which is off unless granted
	// explicitly (security default).
	PermAll = PermList | PermDownload | PermUpload | PermOverwrite | PermDelete |
		PermRename | PermMkdir | PermRmdir | PermChmod
)

var permNames = []struct {
	p    Perm
	name string
}{
	{PermList, "list"}, {PermDownload, "download"}, {PermUpload, "upload"},
	{PermOverwrite, "overwrite"}, {PermDelete, "delete"}, {PermRename, "rename"},
	{PermMkdir, "mkdir"}, {PermRmdir, "rmdir"}, {PermChmod, "chmod"}, {PermSymlink, "symlink"},
}

// PermNames is the accepted vocabulary for ParsePerm, in order.
func PermNames() []string {
	out := make([]string, len(permNames))
	for i, n := range permNames {
		out[i] = n.name
	}
	return out
}

// ParsePerm parses a comma separated list of rights. "*" or "all" is PermAll,
// "none" or "" is PermNone.
func ParsePerm(s string) (Perm, error) {
	var p Perm
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		switch f {
		case "", "none":
			continue
		case "*", "all":
			p |= PermAll
			continue
		}
		found := false
		for _, n := range permNames {
			if n.name == f {
				p |= n.p
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("%w: permission %q: accepted values are %s, all, none",
				ErrInvalid, f, strings.Join(PermNames(), ", "))
		}
	}
	return p, nil
}

// String lists the rights comma separated ("none" when empty).
func (p Perm) String() string {
	if p == PermNone {
		return "none"
	}
	var parts []string
	for _, n := range permNames {
		if p&n.p != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, ",")
}

// Has reports whether every right in q is in p.
func (p Perm) Has(q Perm) bool { return p&q == q }

// MarshalJSON writes the rights as a list of names.
func (p Perm) MarshalJSON() ([]byte, error) {
	names := []string{}
	for _, n := range permNames {
		if p&n.p != 0 {
			names = append(names, n.name)
		}
	}
	return json.Marshal(names)
}

// UnmarshalJSON accepts a list of names or a comma separated string.
func (p *Perm) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		var s string
		if err2 := json.Unmarshal(b, &s); err2 != nil {
			return fmt.Errorf("%w: perms must be a list of names", ErrInvalid)
		}
		names = []string{s}
	}
	v, err := ParsePerm(strings.Join(names, ","))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePathPerm parses "PATH=PERMS", e.g. "/in=list,upload".
func ParsePathPerm(s string) (PathPerm, error) {
	path, perms, ok := strings.Cut(s, "=")
	if !ok || path == "" || !strings.HasPrefix(path, "/") {
		return PathPerm{}, fmt.Errorf("%w: permission rule %q: expected /PATH=PERM[,PERM…] with an absolute virtual path", ErrInvalid, s)
	}
	p, err := ParsePerm(perms)
	if err != nil {
		return PathPerm{}, err
	}
	return PathPerm{Path: path, Perms: p}, nil
}
