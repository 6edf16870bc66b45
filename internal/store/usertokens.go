package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Users' API tokens (ferry.UserToken). A token belongs to its user's row:
// DeleteUser deletes it. Writes to tokens do not move the change counter.

const userTokenSelect = `SELECT t.id, u.name, t.name, t.hash, t.created_at, t.expires_at, t.last_used_at
	FROM user_tokens t JOIN users u ON u.id = t.user_id`

func scanUserToken(row interface{ Scan(...any) error }) (*ferry.UserToken, error) {
	var t ferry.UserToken
	err := row.Scan(&t.ID, &t.User, &t.Name, &t.Hash,
		timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.LastUsedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateUserToken stores t for the user t.User, setting its ID and
// CreatedAt. It fails with ferry.ErrNotFound when the user does not exist
// and ferry.ErrExists when the user has a token of that name (or the hash
// is taken).
func (s *Store) CreateUserToken(ctx context.Context, t *ferry.UserToken) error {
	if err := ferry.ValidateName("token", t.Name); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	fail := func(err error) error {
		if isUnique(err) {
			err = ferry.ErrExists
		}
		return fmt.Errorf("store: token %q of user %q: %w", t.Name, t.User, err)
	}
	if ferry.ValidateName("user", t.User) != nil {
		return fail(ferry.ErrNotFound)
	}
	if err := checkText("token", t.Hash); err != nil {
		return fail(err)
	}
	if t.Hash == "" {
		return fail(fmt.Errorf("hash is required: %w", ferry.ErrInvalid))
	}
	expires, err := timeArg("expiry", t.ExpiresAt)
	if err != nil {
		return fail(err)
	}
	created := now()
	err = s.db.QueryRowContext(ctx, `INSERT INTO user_tokens (user_id, name, hash, created_at, expires_at)
		SELECT id, $2, $3, $4, $5 FROM users WHERE name = $1 RETURNING id`,
		t.User, t.Name, t.Hash, created.UnixNano(), expires).Scan(&t.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return fail(ferry.ErrNotFound)
	}
	if err != nil {
		return fail(s.dbErr(err))
	}
	t.CreatedAt = created
	return nil
}

// UserTokenByHash returns the token whose hash is hash, or
// ferry.ErrNotFound. Expiry is the caller's to check.
func (s *Store) UserTokenByHash(ctx context.Context, hash string) (*ferry.UserToken, error) {
	if checkText("hash", hash) != nil {
		return nil, fmt.Errorf("store: user token: %w", ferry.ErrNotFound)
	}
	t, err := scanUserToken(s.db.QueryRowContext(ctx, userTokenSelect+` WHERE t.hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: user token: %w", ferry.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: user token: %w", s.dbErr(err))
	}
	return t, nil
}

// ListUserTokens returns the tokens of user (every user's when user is
// empty), by user and name.
func (s *Store) ListUserTokens(ctx context.Context, user string) ([]*ferry.UserToken, error) {
	if user != "" && ferry.ValidateName("user", user) != nil {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, userTokenSelect+` WHERE ($1 = '' OR u.name = $1) ORDER BY u.name, t.name`, user)
	if err != nil {
		return nil, fmt.Errorf("store: list user tokens: %w", s.dbErr(err))
	}
	defer rows.Close()
	var out []*ferry.UserToken
	for rows.Next() {
		t, err := scanUserToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list user tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list user tokens: %w", s.dbErr(err))
	}
	return out, nil
}

// TouchUserToken records that the token with this id was used at t.
func (s *Store) TouchUserToken(ctx context.Context, id int64, t time.Time) error {
	at, err := timeArg("last use", t)
	if err != nil {
		return fmt.Errorf("store: user token %d: %w", id, err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE user_tokens SET last_used_at = $1 WHERE id = $2`, at, id); err != nil {
		return fmt.Errorf("store: user token %d: %w", id, s.dbErr(err))
	}
	return nil
}

// DeleteUserToken revokes user's token called name, or fails with
// ferry.ErrNotFound.
func (s *Store) DeleteUserToken(ctx context.Context, user, name string) error {
	if ferry.ValidateName("user", user) != nil || ferry.ValidateName("token", name) != nil {
		return fmt.Errorf("store: token %q of user %q: %w", name, user, ferry.ErrNotFound)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM user_tokens
		WHERE name = $2 AND user_id = (SELECT id FROM users WHERE name = $1)`, user, name)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ferry.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("store: token %q of user %q: %w", name, user, s.dbErr(err))
	}
	return nil
}
