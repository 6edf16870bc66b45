package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ferrymft/ferry/internal/ferry"
)

// GetSetting returns the value stored under key, or ferry.ErrNotFound.
// Settings are small markers the server keeps about itself (first run done,
// and the like), not configuration, which lives in the config file.
func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	if key == "" || checkText("key", key) != nil {
		return "", fmt.Errorf("store: setting %q: %w", key, ferry.ErrNotFound) // SetSetting refuses such keys
	}
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: setting %q: %w", key, ferry.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: setting %q: %w", key, s.dbErr(err))
	}
	return v, nil
}

// SetSetting stores value under key, replacing any previous value.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	if key == "" {
		return fmt.Errorf("store: setting: empty key: %w", ferry.ErrInvalid)
	}
	if err := cmp.Or(checkText("key", key), checkText("value", value)); err != nil {
		return fmt.Errorf("store: setting %q: %w", key, err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: setting %q: %w", key, err)
	}
	return nil
}
