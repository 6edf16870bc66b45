package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// TestTokenLogin: a token made by a session logs in as its user alone
// (method token), also without a user name; a revoked, expired, unknown,
// other user's or combined token is refused like a wrong password; the
// account's login_methods apply; its last use is recorded.
func TestTokenLogin(t *testing.T) {
	t.Parallel()
	now := time.Now()
	env := ferrytest.NewEngineWith(t, func(o *core.Options) { o.Now = func() time.Time { return now } },
		ferrytest.User("alice", "pw"), ferrytest.User("bob", "pw"),
		ferrytest.User("pwonly", "pw", ferrytest.WithPolicy(func(p *ferry.Policy) { p.LoginMethods = []string{"password"} })))
	ctx := context.Background()
	s := login(t, env, "alice", "pw")
	secret, tok, err := s.CreateToken(ctx, "ci", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, ferry.UserTokenPrefix) || tok.Hash != ferry.HashUserToken(secret) || tok.User != "alice" {
		t.Fatalf("CreateToken = %q, %+v", secret, tok)
	}
	if _, _, err := s.CreateToken(ctx, "ci", time.Time{}); !errors.Is(err, ferry.ErrExists) {
		t.Errorf("second token named ci: %v, want ErrExists", err)
	}
	if _, _, err := s.CreateToken(ctx, "old", now.Add(-time.Second)); !errors.Is(err, ferry.ErrInvalid) {
		t.Errorf("token expiring in the past: %v, want ErrInvalid", err)
	}
	shortSecret, _, err := s.CreateToken(ctx, "short", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	tokLogin := func(user, secret string) (*core.Session, error) {
		return env.Engine.Login(ctx, core.LoginRequest{Protocol: ferry.HTTP, User: user, Token: secret, Remote: remote})
	}
	for _, user := range []string{"", "alice"} {
		ts, err := tokLogin(user, secret)
		if err != nil {
			t.Fatalf("token login as %q: %v", user, err)
		}
		if ts.User().Name != "alice" {
			t.Errorf("token login is user %q", ts.User().Name)
		}
		ts.Close()
	}
	list, err := s.Tokens(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "ci" || !list[0].LastUsedAt.Equal(now) {
		t.Errorf("Tokens = %+v, %v; want ci (used now) and short", list, err)
	}

	bobSess := login(t, env, "bob", "pw")
	pwSess := login(t, env, "pwonly", "pw")
	pwSecret, _, err := pwSess.CreateToken(ctx, "t", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]core.LoginRequest{
		"other user":        {User: "bob", Token: secret},
		"unknown":           {Token: ferry.UserTokenPrefix + "nope"},
		"no prefix":         {Token: "nope"},
		"with password":     {User: "alice", Token: secret, Password: "pw"},
		"method not listed": {Token: pwSecret},
	} {
		req.Protocol, req.Remote = ferry.HTTP, remote
		if ts, err := env.Engine.Login(ctx, req); !errors.Is(err, ferry.ErrAuth) {
			if ts != nil {
				ts.Close()
			}
			t.Errorf("%s: %v, want ErrAuth", name, err)
		}
	}
	if err := bobSess.RevokeToken(ctx, "ci"); !errors.Is(err, ferry.ErrNotFound) {
		t.Errorf("bob revoking alice's token: %v, want ErrNotFound", err)
	}

	now = now.Add(2 * time.Hour)
	if _, err := tokLogin("", shortSecret); !errors.Is(err, ferry.ErrAuth) {
		t.Errorf("expired token: %v, want ErrAuth", err)
	}
	if err := s.RevokeToken(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := tokLogin("", secret); !errors.Is(err, ferry.ErrAuth) {
		t.Errorf("revoked token: %v, want ErrAuth", err)
	}
	failed := countEvents(env, 7, func(ev ferry.Event) bool { return ev.Type == ferry.EventLoginFailed })
	if failed != 7 {
		t.Errorf("%d login_failed events, want one per refused token (7)", failed)
	}
}

// countEvents counts the recorded events that match, waiting (the bus
// delivers asynchronously) until want arrived or a few seconds passed.
func countEvents(env *ferrytest.Env, want int, match func(ferry.Event) bool) int {
	return env.Events.Count(want, match)
}

// TestChangePassword: the current password is checked, the policy applies,
// the new password logs in and the old one no longer does; every attempt
// is published.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngineWith(t, func(o *core.Options) {
		o.PasswordPolicy = auth.PasswordPolicy{MinLength: 8, Blocklist: map[string]bool{"password123": true}}
	}, ferrytest.User("alice", "old-secret"))
	ctx := context.Background()
	s := login(t, env, "alice", "old-secret")
	for _, tt := range []struct {
		old, new string
		want     error
	}{
		{"wrong", "new-secret-1", ferry.ErrAuth},
		{"old-secret", "short", ferry.ErrInvalid},
		{"old-secret", "password123", ferry.ErrInvalid},
		{"old-secret", "old-secret", ferry.ErrInvalid},
	} {
		if err := s.ChangePassword(ctx, tt.old, tt.new); !errors.Is(err, tt.want) {
			t.Errorf("ChangePassword(%q, %q) = %v, want %v", tt.old, tt.new, err, tt.want)
		}
	}
	if err := s.ChangePassword(ctx, "old-secret", "new-secret-1"); err != nil {
		t.Fatal(err)
	}
	login(t, env, "alice", "new-secret-1")
	if _, err := env.Engine.Login(ctx, core.LoginRequest{Protocol: ferry.SFTP, User: "alice", Password: "old-secret", Remote: remote}); !errors.Is(err, ferry.ErrAuth) {
		t.Errorf("old password after the change: %v, want ErrAuth", err)
	}
	ok := countEvents(env, 1, func(ev ferry.Event) bool {
		return ev.Type == ferry.EventPasswordChange && ev.User == "alice" && ev.Status == "ok"
	})
	failed := countEvents(env, 4, func(ev ferry.Event) bool {
		return ev.Type == ferry.EventPasswordChange && ev.User == "alice" && ev.Status != "ok"
	})
	if ok != 1 || failed != 4 {
		t.Errorf("password_change events: %d ok, %d failed; want 1 and 4", ok, failed)
	}
}
