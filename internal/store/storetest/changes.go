package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// testChangeCounter checks that every successful write moves the counter
// and that reads and refused writes do not.
func testChangeCounter(t *testing.T, s *store.Store) {
	ctx := t.Context()
	now := time.Now()
	last := changes(t, s)
	step := func(what string, err error, wantChange bool) {
		t.Helper()
		if wantChange && err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		n := changes(t, s)
		switch {
		case wantChange && n <= last:
			t.Errorf("%s: counter %d → %d, want an increase", what, last, n)
		case !wantChange && n != last:
			t.Errorf("%s: counter %d → %d, want no change", what, last, n)
		}
		last = n
	}
	ignore := func(_ any, err error) error { return err }

	u := &ferry.User{Name: "u"}
	step("create user", s.CreateUser(ctx, u), true)
	step("update user", s.UpdateUser(ctx, u), true)
	g := &ferry.Group{Name: "g"}
	step("create group", s.CreateGroup(ctx, g), true)
	step("update group", s.UpdateGroup(ctx, g), true)
	a := &ferry.Admin{Name: "a"}
	step("create admin", s.CreateAdmin(ctx, a), true)
	step("update admin", s.UpdateAdmin(ctx, a), true)
	v := &ferry.Service{Name: "v"}
	step("create service", s.CreateService(ctx, v), true)
	step("update service", s.UpdateService(ctx, v), true)
	step("add ban", s.AddBan(ctx, &ferry.Ban{Network: "192.0.2.0/24", ExpiresAt: now.Add(-time.Minute)}), true)
	step("set setting", s.SetSetting(ctx, "k", "v"), true)

	step("get user", ignore(s.GetUser(ctx, "u")), false)
	step("list users", ignore(s.ListUsers(ctx, store.ListOptions{})), false)
	step("count users", ignore(s.CountUsers(ctx)), false)
	step("get group", ignore(s.GetGroup(ctx, "g")), false)
	step("list admins", ignore(s.ListAdmins(ctx, store.ListOptions{Prefix: "a"})), false)
	step("list services", ignore(s.ListServices(ctx, store.ListOptions{Limit: 1})), false)
	step("list bans", ignore(s.ListBans(ctx, now)), false)
	step("get setting", ignore(s.GetSetting(ctx, "k")), false)
	step("changes", ignore(s.Changes(ctx)), false)

	step("duplicate create", wantFail(s.CreateUser(ctx, &ferry.User{Name: "u"})), false)
	step("stale update", wantFail(s.UpdateUser(ctx, &ferry.User{Name: "u", Version: 1})), false)
	step("update missing", wantFail(s.UpdateGroup(ctx, &ferry.Group{Name: "nobody"})), false)
	step("delete missing", wantFail(s.DeleteAdmin(ctx, "nobody")), false)
	step("invalid create", wantFail(s.CreateService(ctx, &ferry.Service{Name: "-bad"})), false)

	step("purge bans", ignore(s.PurgeExpiredBans(ctx, now)), true)
	step("delete user", s.DeleteUser(ctx, "u"), true)
	step("delete group", s.DeleteGroup(ctx, "g"), true)
	step("delete admin", s.DeleteAdmin(ctx, "a"), true)
	step("delete service", s.DeleteService(ctx, "v"), true)
	must(t, "add ban", s.AddBan(ctx, &ferry.Ban{Network: "192.0.2.1"}))
	last = changes(t, s)
	step("delete ban", s.DeleteBan(ctx, "192.0.2.1"), true)
}

// wantFail turns an expected error into nil, and a success into an error.
func wantFail(err error) error {
	if err == nil {
		return errors.New("succeeded, want an error")
	}
	return nil
}

// testConcurrentWriters runs writers from several goroutines at once: none
// may fail (SQLite's "database is locked" included), and every write counts.
func testConcurrentWriters(t *testing.T, s *store.Store) {
	ctx := t.Context()
	const writers, each = 8, 15
	start := changes(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				u := &ferry.User{Name: fmt.Sprintf("w%d-%d", w, i)}
				if err := s.CreateUser(ctx, u); err != nil {
					errs <- err
					continue
				}
				u.Description = "updated"
				if err := s.UpdateUser(ctx, u); err != nil {
					errs <- err
				}
				if _, err := s.ListUsers(ctx, store.ListOptions{Limit: 5}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != writers*each {
		t.Errorf("CountUsers = %d, %v; want %d", n, err, writers*each)
	}
	if n := changes(t, s); n != start+2*writers*each {
		t.Errorf("counter moved by %d, want %d", n-start, 2*writers*each)
	}
}

// testConcurrentUpdates has several goroutines update one record with
// optimistic concurrency, retrying on conflict: no update may be lost.
func testConcurrentUpdates(t *testing.T, s *store.Store) {
	ctx := t.Context()
	const writers, each = 6, 10
	must(t, "create", s.CreateService(ctx, &ferry.Service{Name: "shared", Options: map[string]string{}}))
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < each; {
				v, err := s.GetService(ctx, "shared")
				if err != nil {
					errs <- err
					return
				}
				v.Options[fmt.Sprintf("w%d-%d", w, i)] = "x"
				switch err := s.UpdateService(ctx, v); {
				case errors.Is(err, ferry.ErrConflict):
					continue // somebody else won; read again
				case err != nil:
					errs <- err
					return
				}
				i++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	v, err := s.GetService(ctx, "shared")
	must(t, "get", err)
	if v.Version != 1+writers*each || len(v.Options) != writers*each {
		t.Errorf("after %d updates: version %d, %d options; want %d, %d",
			writers*each, v.Version, len(v.Options), 1+writers*each, writers*each)
	}
}
