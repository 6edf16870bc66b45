package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
)

// TokenSource keeps user API tokens. The store satisfies it.
type TokenSource interface {
	// UserTokenByHash returns the token whose Hash is hash, or an error
	// wrapping ferry.ErrNotFound.
	UserTokenByHash(ctx context.Context, hash string) (*ferry.UserToken, error)
	// TouchUserToken records the token's last use.
	TouchUserToken(ctx context.Context, id int64, at time.Time) error
	// CreateUserToken stores t (ferry.ErrExists when the user already has
	// a token of that name), setting its ID and CreatedAt.
	CreateUserToken(ctx context.Context, t *ferry.UserToken) error
	// ListUserTokens returns a user's tokens by name.
	ListUserTokens(ctx context.Context, user string) ([]*ferry.UserToken, error)
	// DeleteUserToken revokes a user's token, or fails with ferry.ErrNotFound.
	DeleteUserToken(ctx context.Context, user, name string) error
}

// PasswordSetter is the optional part of a UserSource that stores a
// changed account (the store's UpdateUser): with it, Session.ChangePassword
// works. A non-zero Version must match the stored one (ferry.ErrConflict).
type PasswordSetter interface {
	UpdateUser(ctx context.Context, u *ferry.User) error
}

// tokenTouchEvery limits last-use writes to one per token per interval.
const tokenTouchEvery = time.Minute

// lookupToken resolves a token secret; on failure it returns nil and the
// reason to log.
func (e *Engine) lookupToken(ctx context.Context, secret string) (*ferry.UserToken, string) {
	if e.opts.Tokens == nil {
		return nil, "token logins are not configured"
	}
	if !strings.HasPrefix(secret, ferry.UserTokenPrefix) {
		return nil, "malformed token"
	}
	t, err := e.opts.Tokens.UserTokenByHash(ctx, ferry.HashUserToken(secret))
	switch {
	case errors.Is(err, ferry.ErrNotFound):
		return nil, "unknown or revoked token"
	case err != nil:
		return nil, "token lookup: " + err.Error()
	case t.Expired(e.now()):
		return nil, fmt.Sprintf("token %q expired", t.Name)
	}
	return t, ""
}

// touchToken records a token's use, at most once per tokenTouchEvery.
func (e *Engine) touchToken(ctx context.Context, t *ferry.UserToken) {
	now := e.now()
	if now.Sub(t.LastUsedAt) < tokenTouchEvery {
		return
	}
	if err := e.opts.Tokens.TouchUserToken(ctx, t.ID, now); err != nil {
		e.log.Warn("record token use", ferry.LogUser, t.User, "token", t.Name, "err", err)
	}
}

func (s *Session) tokens() (TokenSource, error) {
	if s.eng.opts.Tokens == nil {
		return nil, fmt.Errorf("core: API tokens: %w", errors.ErrUnsupported)
	}
	if err := s.ctx.Err(); err != nil {
		return nil, fmt.Errorf("core: %w", ferry.ErrClosed)
	}
	return s.eng.opts.Tokens, nil
}

// CreateToken makes a new API token for the session's user, named name,
// valid until expires (zero: no expiry). It returns the secret, shown
// once: only its hash is kept. An existing name fails with ferry.ErrExists.
func (s *Session) CreateToken(ctx context.Context, name string, expires time.Time) (secret string, t *ferry.UserToken, err error) {
	ts, err := s.tokens()
	if err != nil {
		return "", nil, err
	}
	if err := ferry.ValidateName("token", name); err != nil {
		return "", nil, fmt.Errorf("core: %w", err)
	}
	if !expires.IsZero() && !expires.After(s.eng.now()) {
		return "", nil, fmt.Errorf("core: token %q: expiry is in the past: %w", name, ferry.ErrInvalid)
	}
	secret, hash := ferry.NewUserToken()
	t = &ferry.UserToken{User: s.user.Name, Name: name, Hash: hash, ExpiresAt: expires}
	if err := ts.CreateUserToken(ctx, t); err != nil {
		return "", nil, err
	}
	s.log.Info("api token created", "token", name)
	return secret, t, nil
}

// Tokens lists the session user's API tokens (hashes included; never
// secrets).
func (s *Session) Tokens(ctx context.Context) ([]*ferry.UserToken, error) {
	ts, err := s.tokens()
	if err != nil {
		return nil, err
	}
	return ts.ListUserTokens(ctx, s.user.Name)
}

// RevokeToken deletes the session user's token called name, or fails
// with ferry.ErrNotFound. Sessions it opened end within the front end's
// credential cache time.
func (s *Session) RevokeToken(ctx context.Context, name string) error {
	ts, err := s.tokens()
	if err != nil {
		return err
	}
	if err := ts.DeleteUserToken(ctx, s.user.Name, name); err != nil {
		return err
	}
	s.log.Info("api token revoked", "token", name)
	return nil
}

// ChangePassword sets the session user's password to newPW after checking
// old against the stored account (wrong: an error wrapping ferry.ErrAuth,
// scored by the defender) and newPW against the password policy
// (ferry.ErrInvalid, with the reason). It publishes a password_change
// event. Other sessions are not ended.
func (s *Session) ChangePassword(ctx context.Context, old, newPW string) error {
	setter, ok := s.eng.users.(PasswordSetter)
	if !ok {
		return fmt.Errorf("core: change password: %w", errors.ErrUnsupported)
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("core: %w", ferry.ErrClosed)
	}
	fail := func(reason string, err error) error {
		s.log.Info("password change failed", "reason", reason)
		s.publish(ferry.Event{Type: ferry.EventPasswordChange, Status: reason})
		return err
	}
	u, err := s.eng.users.GetUser(ctx, s.user.Name)
	if err != nil {
		return fail("user lookup: "+err.Error(), fmt.Errorf("core: change password: %w", err))
	}
	if !s.eng.verifyPassword(u, old) {
		if s.eng.opts.Defender != nil {
			s.eng.opts.Defender.Record(ctx, s.addr, 1, "password change: wrong current password")
		}
		return fail("wrong current password", fmt.Errorf("core: change password: current password: %w", ferry.ErrAuth))
	}
	if newPW == old {
		return fail("same password", fmt.Errorf("core: change password: %w: the new password is the current one", ferry.ErrInvalid))
	}
	if err := s.eng.opts.PasswordPolicy.Check(newPW); err != nil {
		return fail(err.Error(), fmt.Errorf("core: change password: %w", err))
	}
	hash, err := auth.HashPassword(newPW)
	if err != nil {
		return fail(err.Error(), fmt.Errorf("core: change password: %w", err))
	}
	u.PasswordHash = hash
	if err := setter.UpdateUser(ctx, u); err != nil {
		return fail(err.Error(), fmt.Errorf("core: change password: %w", err))
	}
	s.log.Info("password changed")
	s.publish(ferry.Event{Type: ferry.EventPasswordChange, Status: "ok"})
	return nil
}
