// Package perm decides what a user may do where, as a pure function of the
// user's and groups' path rules, the right asked for and the virtual path. It
// does no I/O and keeps no state; core builds a user's Rules once at login
// with Effective and asks Check before every operation. It may be imported by
// core and by anything that needs to explain a decision (admin API, CLI).
package perm

import (
	"fmt"
	"io/fs"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/vpath"
)

// Rules is a resolved rule set: at most one rule per clean virtual path,
// always one for "/". Build it with Effective; a hand-made Rules must hold
// clean paths, and a path no rule covers gets no rights.
type Rules []ferry.PathPerm

// Effective merges a user's rules with those of the user's groups. The user's
// rule for a path wins; then each group, in the order given, fills in paths
// not defined yet. When no rule covers "/", "/" gets ferry.PermAll, so a user
// with no rules at all has every right (but symlink) everywhere.
//
// Rule paths are cleaned with vpath.Clean, so "/in/" and "in" name the same
// path as "/in"; within one list the first rule for a path wins. A rule whose
// path Clean rejects is dropped: it could only cover paths that Clean also
// rejects, which Check never allows.
func Effective(user []ferry.PathPerm, groups ...[]ferry.PathPerm) Rules {
	rules := make(Rules, 0, len(user)+1)
	seen := make(map[string]bool, len(user)+1)
	add := func(list []ferry.PathPerm) {
		for _, r := range list {
			p, err := vpath.Clean(r.Path)
			if err != nil || seen[p] {
				continue
			}
			seen[p] = true
			rules = append(rules, ferry.PathPerm{Path: p, Perms: r.Perms})
		}
	}
	add(user)
	for _, g := range groups {
		add(g)
	}
	if !seen[vpath.Root] {
		rules = append(rules, ferry.PathPerm{Path: vpath.Root, Perms: ferry.PermAll})
	}
	return rules
}

// For returns the rights at virtual path p: those of the deepest rule whose
// path is p or an ancestor of p. A deeper rule replaces a shallower one; it
// does not add to it. p is cleaned first; a path Clean rejects, or one no
// rule covers, has ferry.PermNone.
func (rs Rules) For(p string) ferry.Perm {
	c, err := vpath.Clean(p)
	if err != nil {
		return ferry.PermNone
	}
	return rs.forClean(c)
}

func (rs Rules) forClean(p string) ferry.Perm {
	best := -1
	for i, r := range rs {
		if vpath.Within(p, r.Path) && (best < 0 || len(r.Path) > len(rs[best].Path)) {
			best = i
		}
	}
	if best < 0 {
		return ferry.PermNone
	}
	return rs[best].Perms
}

// Check returns nil when every right in op is granted at virtual path p.
// Otherwise it returns an error wrapping fs.ErrPermission that names the
// missing rights and the clean path, e.g.
// `permission denied: upload to "/in/a.csv"`; when p itself is invalid it
// returns vpath.Clean's error, which wraps ferry.ErrInvalid.
func (rs Rules) Check(op ferry.Perm, p string) error {
	c, err := vpath.Clean(p)
	if err != nil {
		return err
	}
	have := rs.forClean(c)
	if have.Has(op) {
		return nil
	}
	missing := op &^ have
	name := missing.String()
	if missing&^allRights != 0 {
		name = fmt.Sprintf("%#x", uint16(missing))
	}
	return fmt.Errorf("%w: %s to %q", fs.ErrPermission, name, c)
}

// allRights is every right ferry.Perm defines, symlink included.
const allRights = ferry.PermAll | ferry.PermSymlink
