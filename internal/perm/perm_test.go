package perm_test

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/perm"
)

const (
	read  = ferry.PermList | ferry.PermDownload
	write = ferry.PermUpload | ferry.PermOverwrite
)

func TestEffective(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		user   []ferry.PathPerm
		groups [][]ferry.PathPerm
		want   perm.Rules
	}{
		{
			name: "no rules: all at root",
			want: perm.Rules{{Path: "/", Perms: ferry.PermAll}},
		},
		{
			name: "user root rule kept, no default added",
			user: []ferry.PathPerm{{Path: "/", Perms: read}},
			want: perm.Rules{{Path: "/", Perms: read}},
		},
		{
			name: "paths cleaned and first duplicate wins",
			user: []ferry.PathPerm{{Path: "in/", Perms: write}, {Path: "/in", Perms: ferry.PermAll}, {Path: "/../out//", Perms: read}},
			want: perm.Rules{{Path: "/in", Perms: write}, {Path: "/out", Perms: read}, {Path: "/", Perms: ferry.PermAll}},
		},
		{
			name: "user wins over group, groups in order fill the rest",
			user: []ferry.PathPerm{{Path: "/in", Perms: write}},
			groups: [][]ferry.PathPerm{
				{{Path: "/in", Perms: ferry.PermNone}, {Path: "/shared", Perms: read}},
				{{Path: "/shared", Perms: ferry.PermAll}, {Path: "/", Perms: ferry.PermList}},
			},
			want: perm.Rules{
				{Path: "/in", Perms: write}, {Path: "/shared", Perms: read}, {Path: "/", Perms: ferry.PermList},
			},
		},
		{
			name: "invalid rule path dropped",
			user: []ferry.PathPerm{{Path: "/a\x00", Perms: ferry.PermNone}},
			want: perm.Rules{{Path: "/", Perms: ferry.PermAll}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := perm.Effective(tt.user, tt.groups...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Effective() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFor(t *testing.T) {
	t.Parallel()
	rules := perm.Effective([]ferry.PathPerm{
		{Path: "/", Perms: ferry.PermList},
		{Path: "/in", Perms: ferry.PermList | write},
		{Path: "/in/locked", Perms: ferry.PermNone},
		{Path: "/in/locked/open", Perms: read},
		{Path: "/a", Perms: ferry.PermAll},
	}, []ferry.PathPerm{
		{Path: "/grp", Perms: ferry.PermDownload},
		{Path: "/in/grp", Perms: ferry.PermAll}, // user has /in but not /in/grp: the group's deeper rule applies
	})
	for _, tt := range []struct {
		name, path string
		want       ferry.Perm
	}{
		{name: "root", path: "/", want: ferry.PermList},
		{name: "file at root uses root rule", path: "/x.txt", want: ferry.PermList},
		{name: "rule path itself", path: "/in", want: ferry.PermList | write},
		{name: "below rule", path: "/in/a.csv", want: ferry.PermList | write},
		{name: "deeper overrides shallower", path: "/in/locked/x", want: ferry.PermNone},
		{name: "deeper still re-grants", path: "/in/locked/open/y", want: read},
		{name: "sibling prefix does not match", path: "/in/lockedx", want: ferry.PermList | write},
		{name: "sibling prefix at root", path: "/ab", want: ferry.PermList},
		{name: "matching rule", path: "/a/b", want: ferry.PermAll},
		{name: "group rule", path: "/grp/f", want: ferry.PermDownload},
		{name: "group rule deeper than user rule", path: "/in/grp/f", want: ferry.PermAll},
		{name: "unclean path cleaned", path: "in//locked/../a.csv", want: ferry.PermList | write},
		{name: "dotdot cannot reach a parent rule", path: "/in/locked/../../in/locked/z", want: ferry.PermNone},
		{name: "invalid path has nothing", path: "/a/\x00", want: ferry.PermNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := rules.For(tt.path); got != tt.want {
				t.Errorf("For(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestForDefaultAll(t *testing.T) {
	t.Parallel()
	rules := perm.Effective(nil)
	if got := rules.For("/any/where"); got != ferry.PermAll {
		t.Errorf("For = %v, want %v", got, ferry.PermAll)
	}
	if err := rules.Check(ferry.PermSymlink, "/a"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Check(symlink) = %v, want fs.ErrPermission: symlink is not in the default", err)
	}
}

func TestForUncoveredPathHasNothing(t *testing.T) {
	t.Parallel()
	rules := perm.Rules{{Path: "/in", Perms: ferry.PermAll}} // hand made, no root rule
	if got := rules.For("/out"); got != ferry.PermNone {
		t.Errorf("For(/out) = %v, want none", got)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	rules := perm.Effective([]ferry.PathPerm{
		{Path: "/", Perms: read},
		{Path: "/in", Perms: ferry.PermList | ferry.PermUpload},
	})
	for _, tt := range []struct {
		name    string
		op      ferry.Perm
		path    string
		wantErr string // "" for allowed
	}{
		{name: "allowed", op: ferry.PermUpload, path: "/in/a.csv"},
		{name: "several rights allowed", op: read, path: "/x"},
		{name: "denied names right and path", op: ferry.PermUpload, path: "/a.csv", wantErr: `permission denied: upload to "/a.csv"`},
		{name: "path in error is clean", op: ferry.PermDelete, path: "in//../in/a.csv", wantErr: `permission denied: delete to "/in/a.csv"`},
		{name: "only missing rights named", op: ferry.PermUpload | ferry.PermOverwrite | ferry.PermDelete, path: "/in/a", wantErr: `permission denied: overwrite,delete to "/in/a"`},
		{name: "unknown bit", op: 1 << 14, path: "/in", wantErr: `permission denied: 0x4000 to "/in"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := rules.Check(tt.op, tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Check(%v, %q) = %v, want nil", tt.op, tt.path, err)
				}
				return
			}
			if !errors.Is(err, fs.ErrPermission) || err.Error() != tt.wantErr {
				t.Errorf("Check(%v, %q) = %v, want %q wrapping fs.ErrPermission", tt.op, tt.path, err, tt.wantErr)
			}
		})
	}
	if err := rules.Check(ferry.PermList, "/in\n"); !errors.Is(err, ferry.ErrInvalid) {
		t.Errorf("Check on an invalid path = %v, want ferry.ErrInvalid", err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("/in/locked/a", uint16(ferry.PermDownload))
	f.Add("/in/../in/locked/./b", uint16(ferry.PermAll))
	f.Add("in/lockedx", uint16(ferry.PermUpload))
	f.Add("/in/locked/open/../x", uint16(ferry.PermList))
	f.Add("", uint16(ferry.PermSymlink))
	rules := perm.Effective([]ferry.PathPerm{
		{Path: "/in", Perms: ferry.PermList | ferry.PermUpload},
		{Path: "/in/locked", Perms: ferry.PermNone},
		{Path: "/in/locked/open", Perms: ferry.PermList},
		{Path: "/out", Perms: ferry.PermNone},
	}, []ferry.PathPerm{{Path: "/", Perms: ferry.PermAll}, {Path: "/in/locked", Perms: ferry.PermAll}})
	f.Fuzz(func(t *testing.T, p string, bits uint16) {
		op := ferry.Perm(bits)
		err := rules.Check(op, p)
		got := rules.For(p)
		switch {
		case errors.Is(err, ferry.ErrInvalid):
			if got != ferry.PermNone {
				t.Fatalf("Check(%v, %q) = %v but For = %v", op, p, err, got)
			}
		case (err == nil) != got.Has(op):
			t.Fatalf("Check(%v, %q) = %v but For = %v", op, p, err, got)
		case err != nil && !errors.Is(err, fs.ErrPermission):
			t.Fatalf("Check(%v, %q) = %v, want fs.ErrPermission", op, p, err)
		}
		// Equivalent spellings of a path get the same answer.
		for _, q := range []string{"/" + p, p + "/", "/x/../" + p, "./" + p, strings.ReplaceAll(p, "/", "//")} {
			if g := rules.For(q); g != got {
				t.Fatalf("For(%q) = %v but For(%q) = %v", q, g, p, got)
			}
		}
		c := "/" + strings.Trim(p, "/")
		if strings.Contains(p, "..") || strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.HasPrefix(p, "./") {
			return // the simple lexical view below only holds for already tidy paths
		}
		// Under a PermNone rule with nothing deeper, nothing is ever allowed.
		if (strings.HasPrefix(c, "/out/") || c == "/out" || strings.HasPrefix(c, "/in/locked/") || c == "/in/locked") &&
			!(strings.HasPrefix(c, "/in/locked/open/") || c == "/in/locked/open") && op != ferry.PermNone && err == nil {
			t.Fatalf("Check(%v, %q) allowed under a none rule", op, p)
		}
	})
}
