package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// ops is one record type's six methods, plus what the suite needs to build
// and inspect records without knowing the type.
type ops[T any] struct {
	kind   string
	create func(context.Context, *T) error
	get    func(context.Context, string) (*T, error)
	list   func(context.Context, store.ListOptions) ([]*T, error)
	update func(context.Context, *T) error
	del    func(context.Context, string) error
	count  func(context.Context) (int, error)
	// sample returns a record with every field set.
	sample func(name string) *T
	// change alters a field other than the name.
	change func(*T)
	head   func(*T) *head
}

// head points at the fields every record type has.
type head struct {
	id       *int64
	name     *string
	created  *time.Time
	updated  *time.Time
	version  *int64
	nameOnly func() // clears every field but the name
}

var expiry = time.Date(2031, time.March, 4, 5, 6, 7, 890123456, time.UTC)

func userOps(s *store.Store) ops[ferry.User] {
	return ops[ferry.User]{
		kind: "user", create: s.CreateUser, get: s.GetUser, list: s.ListUsers,
		update: s.UpdateUser, del: s.DeleteUser, count: s.CountUsers,
		sample: func(name string) *ferry.User {
			return &ferry.User{
				Name:         name,
				PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
				PublicKeys:   []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample " + name + "@example.com"},
				Home:         "/srv/ferry/" + name,
				Groups:       []string{"staff", "partners"},
				Perms: []ferry.PathPerm{
					{Path: "/", Perms: ferry.PermList | ferry.PermDownload},
					{Path: "/in", Perms: ferry.PermAll | ferry.PermSymlink},
				},
				Status:      ferry.StatusActive,
				ExpiresAt:   expiry,
				UploadMode:  ferry.UploadAtomicResumable,
				Description: "a partner",
			}
		},
		change: func(u *ferry.User) { u.Description += " (changed)"; u.Status = ferry.StatusDisabled },
		head: func(u *ferry.User) *head {
			return &head{&u.ID, &u.Name, &u.CreatedAt, &u.UpdatedAt, &u.Version,
				func() { *u = ferry.User{Name: u.Name} }}
		},
	}
}

func groupOps(s *store.Store) ops[ferry.Group] {
	return ops[ferry.Group]{
		kind: "group", create: s.CreateGroup, get: s.GetGroup, list: s.ListGroups,
		update: s.UpdateGroup, del: s.DeleteGroup, count: s.CountGroups,
		sample: func(name string) *ferry.Group {
			return &ferry.Group{
				Name:        name,
				Perms:       []ferry.PathPerm{{Path: "/shared", Perms: ferry.PermList}},
				Description: "group " + name,
			}
		},
		change: func(g *ferry.Group) { g.Perms = append(g.Perms, ferry.PathPerm{Path: "/out", Perms: ferry.PermUpload}) },
		head: func(g *ferry.Group) *head {
			return &head{&g.ID, &g.Name, &g.CreatedAt, &g.UpdatedAt, &g.Version,
				func() { *g = ferry.Group{Name: g.Name} }}
		},
	}
}

func adminOps(s *store.Store) ops[ferry.Admin] {
	return ops[ferry.Admin]{
		kind: "admin", create: s.CreateAdmin, get: s.GetAdmin, list: s.ListAdmins,
		update: s.UpdateAdmin, del: s.DeleteAdmin, count: s.CountAdmins,
		sample: func(name string) *ferry.Admin {
			return &ferry.Admin{
				Name:         name,
				PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$YWRtaW4",
				Role:         ferry.RoleUserManager,
				Status:       ferry.StatusActive,
				Description:  "admin " + name,
			}
		},
		change: func(a *ferry.Admin) { a.Role = ferry.RoleReadOnly },
		head: func(a *ferry.Admin) *head {
			return &head{&a.ID, &a.Name, &a.CreatedAt, &a.UpdatedAt, &a.Version,
				func() { *a = ferry.Admin{Name: a.Name} }}
		},
	}
}

func serviceOps(s *store.Store) ops[ferry.Service] {
	return ops[ferry.Service]{
		kind: "service", create: s.CreateService, get: s.GetService, list: s.ListServices,
		update: s.UpdateService, del: s.DeleteService, count: s.CountServices,
		sample: func(name string) *ferry.Service {
			return &ferry.Service{
				Name:    name,
				Kind:    ferry.ServiceFTP,
				Listen:  "[::]:2121",
				Enabled: true,
				Options: map[string]string{"tls": "explicit", "passive_ports": "50000-50100"},
			}
		},
		change: func(v *ferry.Service) { v.Enabled = false; v.Options["public_ip"] = "192.0.2.1" },
		head: func(v *ferry.Service) *head {
			return &head{&v.ID, &v.Name, &v.CreatedAt, &v.UpdatedAt, &v.Version,
				func() { *v = ferry.Service{Name: v.Name} }}
		},
	}
}

func folderOps(s *store.Store) ops[ferry.Folder] {
	return ops[ferry.Folder]{
		kind: "folder", create: s.CreateFolder, get: s.GetFolder, list: s.ListFolders,
		update: s.UpdateFolder, del: s.DeleteFolder, count: s.CountFolders,
		sample: func(name string) *ferry.Folder {
			return &ferry.Folder{Name: name, Path: "/srv/shared/" + name, Description: "shared", QuotaBytes: 1 << 30, QuotaFiles: 1000}
		},
		change: func(v *ferry.Folder) { v.Path, v.QuotaBytes = "/srv/moved", 0 },
		head: func(v *ferry.Folder) *head {
			return &head{&v.ID, &v.Name, &v.CreatedAt, &v.UpdatedAt, &v.Version,
				func() { *v = ferry.Folder{Name: v.Name} }}
		},
	}
}

// testRecords checks create, get, update, delete and count for one type.
func testRecords[T any](t *testing.T, s *store.Store, o ops[T]) {
	ctx := t.Context()
	alice := o.sample("alice")
	before := time.Now()
	must(t, "create alice", o.create(ctx, alice))
	h := o.head(alice)
	if *h.id == 0 || *h.version != 1 || h.created.Before(before.Add(-time.Second)) || !h.updated.Equal(*h.created) {
		t.Fatalf("create did not set id, version 1 and times: %+v", alice)
	}

	got, err := o.get(ctx, "alice")
	must(t, "get alice", err)
	if !reflect.DeepEqual(got, alice) {
		t.Errorf("get after create:\n got %+v\nwant %+v", got, alice)
	}

	t.Run("duplicate", func(t *testing.T) {
		err := o.create(ctx, o.sample("alice"))
		wantErr(t, "create twice", err, ferry.ErrExists, fmt.Sprintf(`%s "alice": already exists`, o.kind))
	})
	t.Run("case-sensitive names", func(t *testing.T) {
		must(t, "create Alice", o.create(ctx, o.sample("Alice")))
		if _, err := o.get(ctx, "ALICE"); !errors.Is(err, ferry.ErrNotFound) {
			t.Errorf("get ALICE: %v, want not found", err)
		}
	})
	t.Run("invalid name", func(t *testing.T) {
		for _, name := range []string{"", ".hidden", "-x", "a b", "a/b", "ünï"} {
			wantErr(t, fmt.Sprintf("create %q", name), o.create(ctx, o.sample(name)), ferry.ErrInvalid)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := o.get(ctx, "nobody")
		wantErr(t, "get", err, ferry.ErrNotFound, fmt.Sprintf(`%s "nobody": not found`, o.kind))
		wantErr(t, "delete", o.del(ctx, "nobody"), ferry.ErrNotFound, `"nobody"`)
		wantErr(t, "update", o.update(ctx, o.sample("nobody")), ferry.ErrNotFound, `"nobody"`)
		// Names no record can have are simply not there, on every engine.
		for _, name := range []string{"", "a b", "bad\xff", "nul\x00"} {
			_, err := o.get(ctx, name)
			wantErr(t, fmt.Sprintf("get %q", name), err, ferry.ErrNotFound)
			wantErr(t, fmt.Sprintf("delete %q", name), o.del(ctx, name), ferry.ErrNotFound)
			wantErr(t, fmt.Sprintf("update %q", name), o.update(ctx, o.sample(name)), ferry.ErrNotFound)
		}
	})

	t.Run("update", func(t *testing.T) {
		u, err := o.get(ctx, "alice")
		must(t, "get", err)
		o.change(u)
		must(t, "update", o.update(ctx, u))
		uh := o.head(u)
		if *uh.version != 2 || *uh.id != *h.id || !uh.created.Equal(*h.created) || uh.updated.Before(*h.updated) {
			t.Errorf("after update: version %d id %d created %v updated %v; want 2, %d, %v, ≥ %v",
				*uh.version, *uh.id, *uh.created, *uh.updated, *h.id, *h.created, *h.updated)
		}
		got, err := o.get(ctx, "alice")
		must(t, "get after update", err)
		if !reflect.DeepEqual(got, u) {
			t.Errorf("get after update:\n got %+v\nwant %+v", got, u)
		}

		// alice still holds version 1: a writer that read before the
		// update above must not overwrite it.
		err = o.update(ctx, alice)
		wantErr(t, "update with stale version", err, ferry.ErrConflict, fmt.Sprintf(`%s "alice"`, o.kind))
		if got, _ := o.get(ctx, "alice"); !reflect.DeepEqual(got, u) {
			t.Errorf("a conflicting update changed the record: %+v", got)
		}

		// Version 0 skips the check; the stored id and creation time are
		// written back.
		blind := o.sample("alice")
		must(t, "update with version 0", o.update(ctx, blind))
		bh := o.head(blind)
		if *bh.version != 3 || *bh.id != *h.id || !bh.created.Equal(*h.created) {
			t.Errorf("unconditional update: version %d id %d created %v, want 3, %d, %v", *bh.version, *bh.id, *bh.created, *h.id, *h.created)
		}
	})

	t.Run("zero values", func(t *testing.T) {
		z := o.sample("zero")
		o.head(z).nameOnly()
		must(t, "create", o.create(ctx, z))
		got, err := o.get(ctx, "zero")
		must(t, "get", err)
		if !reflect.DeepEqual(got, z) {
			t.Errorf("zero-valued record:\n got %+v\nwant %+v", got, z)
		}
	})

	t.Run("delete and count", func(t *testing.T) {
		n, err := o.count(ctx)
		must(t, "count", err)
		must(t, "create bob", o.create(ctx, o.sample("bob")))
		if m, err := o.count(ctx); err != nil || m != n+1 {
			t.Fatalf("count after create = %d, %v; want %d", m, err, n+1)
		}
		must(t, "delete bob", o.del(ctx, "bob"))
		if m, err := o.count(ctx); err != nil || m != n {
			t.Errorf("count after delete = %d, %v; want %d", m, err, n)
		}
		_, err = o.get(ctx, "bob")
		wantErr(t, "get deleted", err, ferry.ErrNotFound)
		wantErr(t, "delete twice", o.del(ctx, "bob"), ferry.ErrNotFound)

		// A new record under a deleted name is a new record.
		bob := o.sample("bob")
		must(t, "create bob again", o.create(ctx, bob))
		if v := *o.head(bob).version; v != 1 {
			t.Errorf("recreated record has version %d, want 1", v)
		}
	})
}
