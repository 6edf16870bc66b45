package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func testBans(t *testing.T, s *store.Store) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

	perm := &ferry.Ban{Network: "198.51.100.0/24", Reason: "manual"}
	must(t, "add permanent", s.AddBan(ctx, perm))
	if perm.ID == 0 || perm.CreatedAt.IsZero() {
		t.Errorf("AddBan did not set ID and CreatedAt: %+v", perm)
	}
	soon := &ferry.Ban{Network: "192.0.2.7", Reason: "defender", ExpiresAt: now.Add(time.Minute)}
	must(t, "add expiring", s.AddBan(ctx, soon))
	if soon.Network != "192.0.2.7/32" {
		t.Errorf("address stored as %q, want 192.0.2.7/32", soon.Network)
	}
	past := &ferry.Ban{Network: "2001:db8::1/64", ExpiresAt: now}
	must(t, "add expired", s.AddBan(ctx, past))
	if past.Network != "2001:db8::/64" {
		t.Errorf("network stored as %q, want 2001:db8::/64", past.Network)
	}

	bans, err := s.ListBans(ctx, now)
	must(t, "list", err)
	if want := []ferry.Ban{*soon, *perm}; !reflect.DeepEqual(bans, want) {
		t.Errorf("ListBans(now):\n got %+v\nwant %+v", bans, want)
	}
	all, err := s.ListBans(ctx, time.Time{})
	must(t, "list all", err)
	if len(all) != 3 {
		t.Errorf("ListBans(zero) returned %d bans, want 3 (expired included)", len(all))
	}

	// Banning the same network again replaces the ban and keeps its ID.
	again := &ferry.Ban{Network: "::ffff:192.0.2.7", Reason: "defender, again", ExpiresAt: now.Add(time.Hour)}
	must(t, "re-add", s.AddBan(ctx, again))
	if again.ID != soon.ID || again.Network != "192.0.2.7/32" {
		t.Errorf("re-ban: id %d network %q, want %d 192.0.2.7/32", again.ID, again.Network, soon.ID)
	}
	bans, err = s.ListBans(ctx, now.Add(30*time.Minute))
	must(t, "list", err)
	if want := []ferry.Ban{*again, *perm}; !reflect.DeepEqual(bans, want) {
		t.Errorf("after re-ban:\n got %+v\nwant %+v", bans, want)
	}

	n, err := s.PurgeExpiredBans(ctx, now)
	must(t, "purge", err)
	if n != 1 {
		t.Errorf("PurgeExpiredBans removed %d, want 1", n)
	}
	c := changes(t, s)
	if n, err := s.PurgeExpiredBans(ctx, now); err != nil || n != 0 || changes(t, s) != c {
		t.Errorf("second purge: %d, %v, counter %d→%d; want 0 and no change", n, err, c, changes(t, s))
	}

	must(t, "delete", s.DeleteBan(ctx, "192.0.2.7"))
	wantErr(t, "delete twice", s.DeleteBan(ctx, "192.0.2.7/32"), ferry.ErrNotFound, `ban "192.0.2.7/32"`)
	wantErr(t, "add invalid", s.AddBan(ctx, &ferry.Ban{Network: "not-an-ip"}), ferry.ErrInvalid, "not-an-ip")
	wantErr(t, "delete invalid", s.DeleteBan(ctx, "300.1.1.1"), ferry.ErrInvalid)

	bans, err = s.ListBans(ctx, now)
	must(t, "list", err)
	if want := []ferry.Ban{*perm}; !reflect.DeepEqual(bans, want) {
		t.Errorf("at the end:\n got %+v\nwant %+v", bans, want)
	}
}

func testSettings(t *testing.T, s *store.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "first_run")
	wantErr(t, "get missing", err, ferry.ErrNotFound, `setting "first_run": not found`)
	must(t, "set", s.SetSetting(ctx, "first_run", "2030-01-01T00:00:00Z"))
	must(t, "set other", s.SetSetting(ctx, "First_Run", ""))
	must(t, "overwrite", s.SetSetting(ctx, "first_run", "done ✓"))
	for key, want := range map[string]string{"first_run": "done ✓", "First_Run": ""} {
		if v, err := s.GetSetting(ctx, key); err != nil || v != want {
			t.Errorf("GetSetting(%q) = %q, %v; want %q", key, v, err, want)
		}
	}
	wantErr(t, "empty key", s.SetSetting(ctx, "", "x"), ferry.ErrInvalid)
	_, err = s.GetSetting(ctx, "bad\xff")
	wantErr(t, "get a key no setting can have", err, ferry.ErrNotFound)
}
