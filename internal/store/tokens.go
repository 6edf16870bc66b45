package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// APIToken is an admin API credential. The secret itself is never stored:
// Hash is a digest of it chosen by the caller (the admin API keeps the
// SHA-256 of a random secret). Writes to tokens do not move the change
// counter: nothing a running server reconciles depends on them.
type APIToken struct {
	ID    int64
	Name  string // unique; session tokens get a generated name
	Admin string // the administrator it acts as
	Kind  string // "session" (short-lived, from a sign-in) or "api" (named, long-lived)
	Scope string // "full" or "read-only"
	Hash  string
	// CreatedAt is set by CreateToken; a zero ExpiresAt never expires; a
	// zero LastUsedAt means never used.
	CreatedAt, ExpiresAt, LastUsedAt time.Time
}

const tokenCols = "id, name, admin_name, kind, scope, hash, created_at, expires_at, last_used_at"

func scanToken(row interface{ Scan(...any) error }) (*APIToken, error) {
	var t APIToken
	err := row.Scan(&t.ID, &t.Name, &t.Admin, &t.Kind, &t.Scope, &t.Hash,
		timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.LastUsedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateToken stores t, setting its ID and CreatedAt. It fails with
// ferry.ErrExists when the name or the hash is taken.
func (s *Store) CreateToken(ctx context.Context, t *APIToken) error {
	if err := ferry.ValidateName("token", t.Name); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	fail := func(err error) error {
		if isUnique(err) {
			err = ferry.ErrExists
		}
		return fmt.Errorf("store: token %q: %w", t.Name, err)
	}
	if err := checkText("token", t.Admin, t.Kind, t.Scope, t.Hash); err != nil {
		return fail(err)
	}
	if t.Hash == "" || t.Admin == "" {
		return fail(fmt.Errorf("hash and admin are required: %w", ferry.ErrInvalid))
	}
	expires, err := timeArg("expiry", t.ExpiresAt)
	if err != nil {
		return fail(err)
	}
	created := now()
	err = s.db.QueryRowContext(ctx, `INSERT INTO api_tokens (name, admin_name, kind, scope, hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		t.Name, t.Admin, t.Kind, t.Scope, t.Hash, created.UnixNano(), expires).Scan(&t.ID)
	if err != nil {
		return fail(s.dbErr(err))
	}
	t.CreatedAt = created
	return nil
}

// TokenByHash returns the token whose hash is hash, or ferry.ErrNotFound.
// Expiry is the caller's to check.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*APIToken, error) {
	if checkText("hash", hash) != nil {
		return nil, fmt.Errorf("store: token: %w", ferry.ErrNotFound)
	}
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: token: %w", ferry.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: token: %w", s.dbErr(err))
	}
	return t, nil
}

// ListTokens returns the tokens of admin (every admin's when admin is
// empty) of the given kind (every kind when kind is empty), by name.
func (s *Store) ListTokens(ctx context.Context, admin, kind string) ([]*APIToken, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens
		WHERE ($1 = '' OR admin_name = $1) AND ($2 = '' OR kind = $2) ORDER BY name`, admin, kind)
	if err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", s.dbErr(err))
	}
	defer rows.Close()
	var out []*APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", s.dbErr(err))
	}
	return out, nil
}

// TouchToken records that the token called name was used at t.
func (s *Store) TouchToken(ctx context.Context, name string, t time.Time) error {
	at, err := timeArg("last use", t)
	if err != nil {
		return fmt.Errorf("store: token %q: %w", name, err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE name = $2`, at, name); err != nil {
		return fmt.Errorf("store: token %q: %w", name, s.dbErr(err))
	}
	return nil
}

// DeleteToken revokes the token called name, or fails with
// ferry.ErrNotFound.
func (s *Store) DeleteToken(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE name = $1`, name)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ferry.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("store: token %q: %w", name, s.dbErr(err))
	}
	return nil
}

// DeleteAdminTokens revokes every token of admin and returns how many.
func (s *Store) DeleteAdminTokens(ctx context.Context, admin string) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE admin_name = $1`, admin)
	if err != nil {
		return 0, fmt.Errorf("store: tokens of %q: %w", admin, s.dbErr(err))
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// PurgeExpiredTokens removes the tokens expired at now and returns how
// many it removed.
func (s *Store) PurgeExpiredTokens(ctx context.Context, now time.Time) (int, error) {
	n, err := timeArg("now", now)
	if err != nil || n == nil {
		return 0, fmt.Errorf("store: purge tokens: %w", cmp.Or(err, fmt.Errorf("now is zero: %w", ferry.ErrInvalid)))
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE expires_at <= $1`, n)
	if err != nil {
		return 0, fmt.Errorf("store: purge tokens: %w", s.dbErr(err))
	}
	purged, err := res.RowsAffected()
	return int(purged), err
}
