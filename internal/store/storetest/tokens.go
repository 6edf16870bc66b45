package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// testTokens covers admin API tokens: create, look up by hash, list by
// admin and kind, touch, revoke, purge; and that token writes leave the
// change counter alone.
func testTokens(t *testing.T, s *store.Store) {
	ctx := context.Background()
	before := changes(t, s)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	a := &store.APIToken{Name: "ci", Admin: "root", Kind: "api", Scope: "read-only", Hash: "h1"}
	must(t, "CreateToken", s.CreateToken(ctx, a))
	if a.ID == 0 || a.CreatedAt.IsZero() {
		t.Fatalf("CreateToken did not set ID and CreatedAt: %+v", a)
	}
	b := &store.APIToken{Name: "session-x", Admin: "bob", Kind: "session", Scope: "full", Hash: "h2", ExpiresAt: exp}
	must(t, "CreateToken", s.CreateToken(ctx, b))
	wantErr(t, "duplicate name", s.CreateToken(ctx, &store.APIToken{Name: "ci", Admin: "root", Hash: "h3"}), ferry.ErrExists)
	wantErr(t, "duplicate hash", s.CreateToken(ctx, &store.APIToken{Name: "other", Admin: "root", Hash: "h1"}), ferry.ErrExists)
	wantErr(t, "no hash", s.CreateToken(ctx, &store.APIToken{Name: "nohash", Admin: "root"}), ferry.ErrInvalid)
	wantErr(t, "bad name", s.CreateToken(ctx, &store.APIToken{Name: "a b", Admin: "root", Hash: "h4"}), ferry.ErrInvalid)

	got, err := s.TokenByHash(ctx, "h2")
	must(t, "TokenByHash", err)
	if got.Name != "session-x" || got.Admin != "bob" || got.Kind != "session" || got.Scope != "full" || !got.ExpiresAt.Equal(exp) {
		t.Errorf("TokenByHash = %+v, want %+v", got, b)
	}
	_, err = s.TokenByHash(ctx, "nope")
	wantErr(t, "TokenByHash(unknown)", err, ferry.ErrNotFound)

	for _, tt := range []struct {
		admin, kind string
		want        int
	}{{"", "", 2}, {"root", "", 1}, {"", "session", 1}, {"bob", "api", 0}} {
		ts, err := s.ListTokens(ctx, tt.admin, tt.kind)
		must(t, "ListTokens", err)
		if len(ts) != tt.want {
			t.Errorf("ListTokens(%q, %q) = %d tokens, want %d", tt.admin, tt.kind, len(ts), tt.want)
		}
	}
	used := time.Now().UTC().Truncate(time.Millisecond)
	must(t, "TouchToken", s.TouchToken(ctx, "ci", used))
	got, err = s.TokenByHash(ctx, "h1")
	must(t, "TokenByHash", err)
	if !got.LastUsedAt.Equal(used) {
		t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, used)
	}

	n, err := s.PurgeExpiredTokens(ctx, exp.Add(time.Second))
	must(t, "PurgeExpiredTokens", err)
	if n != 1 {
		t.Errorf("PurgeExpiredTokens = %d, want 1", n)
	}
	must(t, "DeleteToken", s.DeleteToken(ctx, "ci"))
	wantErr(t, "DeleteToken again", s.DeleteToken(ctx, "ci"), ferry.ErrNotFound)
	must(t, "CreateToken", s.CreateToken(ctx, &store.APIToken{Name: "c1", Admin: "carol", Kind: "api", Scope: "full", Hash: "h5"}))
	must(t, "CreateToken", s.CreateToken(ctx, &store.APIToken{Name: "c2", Admin: "carol", Kind: "session", Scope: "full", Hash: "h6"}))
	if n, err := s.DeleteAdminTokens(ctx, "carol"); err != nil || n != 2 {
		t.Errorf("DeleteAdminTokens = %d, %v, want 2", n, err)
	}
	if after := changes(t, s); after != before {
		t.Errorf("change counter moved from %d to %d on token writes", before, after)
	}
}
