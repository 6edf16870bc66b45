package core_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

func TestLocalPath(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.Mounts = []ferry.Mount{{Path: "/shared", Folder: "shared"}, {Path: "/shared/deep", Folder: "deep"}, {Path: "/gone", Folder: "missing"}}
	})))
	shared, deep := filepath.Join(env.Root, "folders", "shared"), filepath.Join(env.Root, "folders", "deep")
	env.Users.PutFolder(&ferry.Folder{Name: "shared", Path: shared})
	env.Users.PutFolder(&ferry.Folder{Name: "deep", Path: deep})
	for _, tt := range []struct{ name, vp, want string }{
		{name: "home root", vp: "/", want: env.Home("alice")},
		{name: "in the home", vp: "/in/a.csv", want: env.Home("alice", "in", "a.csv")},
		{name: "mount point", vp: "/shared", want: shared},
		{name: "in a folder", vp: "/shared/x/a.csv", want: filepath.Join(shared, "x", "a.csv")},
		{name: "deepest mount wins", vp: "/shared/deep/a.csv", want: filepath.Join(deep, "a.csv")},
		{name: "a name that only starts like a mount", vp: "/sharedx/a.csv", want: env.Home("alice", "sharedx", "a.csv")},
		{name: "a mount whose folder is missing is the home's, as at login", vp: "/gone/a", want: env.Home("alice", "gone", "a")},
		{name: "dot-dot stays inside", vp: "/shared/../in/a", want: env.Home("alice", "in", "a")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := env.Engine.LocalPath(t.Context(), "alice", tt.vp)
			if err != nil || got != tt.want {
				t.Errorf("LocalPath(%q) = %q, %v; want %q", tt.vp, got, err, tt.want)
			}
		})
	}
	if _, err := env.Engine.LocalPath(t.Context(), "nobody", "/"); err == nil {
		t.Error("LocalPath of an unknown user succeeded")
	}
}

func TestMountPoints(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) {
		p.Mounts = []ferry.Mount{{Path: "/shared", Folder: "shared"}, {Path: "in/deep/", Folder: "deep"}, {Path: "/gone", Folder: "missing"}}
	})), ferrytest.User("bob", "pw"))
	env.Users.PutFolder(&ferry.Folder{Name: "shared", Path: filepath.Join(env.Root, "folders", "shared")})
	env.Users.PutFolder(&ferry.Folder{Name: "deep", Path: filepath.Join(env.Root, "folders", "deep")})
	got, err := env.Engine.MountPoints(t.Context(), "alice")
	if want := []string{"/shared", "/in/deep"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("MountPoints(alice) = %q, %v; want %q (a mount of a missing folder is not one)", got, err, want)
	}
	if got, err := env.Engine.MountPoints(t.Context(), "bob"); err != nil || len(got) != 0 {
		t.Errorf("MountPoints(bob) = %q, %v; want none", got, err)
	}
	if _, err := env.Engine.MountPoints(t.Context(), "nobody"); err == nil {
		t.Error("MountPoints of an unknown user succeeded")
	}
}
