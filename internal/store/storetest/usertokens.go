package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// testUserTokens covers users' API tokens: create (per-user names, unknown
// user, duplicate hash), look up by hash, list, touch, revoke; a deleted
// user's tokens go with it and a new user of the same name does not get
// them; token writes leave the change counter alone.
func testUserTokens(t *testing.T, s *store.Store) {
	ctx := context.Background()
	for _, n := range []string{"alice", "bob"} {
		must(t, "CreateUser", s.CreateUser(ctx, &ferry.User{Name: n}))
	}
	before := changes(t, s)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	a := &ferry.UserToken{User: "alice", Name: "ci", Hash: "ha1", ExpiresAt: exp}
	must(t, "CreateUserToken", s.CreateUserToken(ctx, a))
	if a.ID == 0 || a.CreatedAt.IsZero() {
		t.Fatalf("CreateUserToken did not set ID and CreatedAt: %+v", a)
	}
	must(t, "CreateUserToken", s.CreateUserToken(ctx, &ferry.UserToken{User: "alice", Name: "backup", Hash: "ha2"}))
	must(t, "CreateUserToken(same name, other user)", s.CreateUserToken(ctx, &ferry.UserToken{User: "bob", Name: "ci", Hash: "hb1"}))
	wantErr(t, "duplicate name", s.CreateUserToken(ctx, &ferry.UserToken{User: "alice", Name: "ci", Hash: "ha3"}), ferry.ErrExists)
	wantErr(t, "duplicate hash", s.CreateUserToken(ctx, &ferry.UserToken{User: "bob", Name: "x", Hash: "ha1"}), ferry.ErrExists)
	wantErr(t, "unknown user", s.CreateUserToken(ctx, &ferry.UserToken{User: "nobody", Name: "x", Hash: "hn"}), ferry.ErrNotFound)
	wantErr(t, "no hash", s.CreateUserToken(ctx, &ferry.UserToken{User: "bob", Name: "nohash"}), ferry.ErrInvalid)
	wantErr(t, "bad name", s.CreateUserToken(ctx, &ferry.UserToken{User: "bob", Name: "a b", Hash: "h4"}), ferry.ErrInvalid)

	got, err := s.UserTokenByHash(ctx, "ha1")
	must(t, "UserTokenByHash", err)
	if got.ID != a.ID || got.User != "alice" || got.Name != "ci" || !got.ExpiresAt.Equal(exp) || !got.LastUsedAt.IsZero() {
		t.Errorf("UserTokenByHash = %+v, want %+v", got, a)
	}
	_, err = s.UserTokenByHash(ctx, "nope")
	wantErr(t, "UserTokenByHash(unknown)", err, ferry.ErrNotFound)

	for _, tt := range []struct {
		user string
		want []string
	}{{"alice", []string{"backup", "ci"}}, {"bob", []string{"ci"}}, {"", []string{"alice/backup", "alice/ci", "bob/ci"}}, {"nobody", nil}} {
		ts, err := s.ListUserTokens(ctx, tt.user)
		must(t, "ListUserTokens", err)
		var names []string
		for _, x := range ts {
			if tt.user == "" {
				names = append(names, x.User+"/"+x.Name)
			} else {
				names = append(names, x.Name)
			}
		}
		if len(names) != len(tt.want) || (len(names) > 0 && !equalStrings(names, tt.want)) {
			t.Errorf("ListUserTokens(%q) = %v, want %v", tt.user, names, tt.want)
		}
	}

	used := time.Now().UTC().Truncate(time.Millisecond)
	must(t, "TouchUserToken", s.TouchUserToken(ctx, a.ID, used))
	got, err = s.UserTokenByHash(ctx, "ha1")
	must(t, "UserTokenByHash", err)
	if !got.LastUsedAt.Equal(used) {
		t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, used)
	}

	must(t, "DeleteUserToken", s.DeleteUserToken(ctx, "alice", "ci"))
	wantErr(t, "DeleteUserToken again", s.DeleteUserToken(ctx, "alice", "ci"), ferry.ErrNotFound)
	wantErr(t, "DeleteUserToken(unknown user)", s.DeleteUserToken(ctx, "nobody", "ci"), ferry.ErrNotFound)
	if _, err := s.UserTokenByHash(ctx, "hb1"); err != nil {
		t.Errorf("bob's token ci went with alice's: %v", err)
	}
	if after := changes(t, s); after != before {
		t.Errorf("change counter moved from %d to %d on token writes", before, after)
	}

	must(t, "DeleteUser", s.DeleteUser(ctx, "alice"))
	_, err = s.UserTokenByHash(ctx, "ha2")
	wantErr(t, "token of a deleted user", err, ferry.ErrNotFound)
	must(t, "CreateUser", s.CreateUser(ctx, &ferry.User{Name: "alice"}))
	if ts, err := s.ListUserTokens(ctx, "alice"); err != nil || len(ts) != 0 {
		t.Errorf("new alice has tokens %v (err %v), want none", ts, err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
