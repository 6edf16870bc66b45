package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// policyArg checks the text in a policy and encodes it as JSON.
func policyArg(p *ferry.Policy) (string, error) {
	texts := append(append(append([]string{p.Hours, p.DotFiles, p.HomeTemplate}, p.AllowCIDRs...), p.DenyCIDRs...), p.LoginMethods...)
	texts = append(append(append(texts, p.DenyPatterns...), p.HidePatterns...), p.AllowedExtensions...)
	if err := checkText("policy", texts...); err != nil {
		return "", err
	}
	return jsonArg(p)
}

// Usage is what a user's files occupy, for quotas.
type Usage struct {
	Bytes, Files int64
	ScannedAt    time.Time // last full rescan; zero if never
}

// GetUsage returns a user's recorded usage (zero when none is recorded).
func (s *Store) GetUsage(ctx context.Context, user string) (Usage, error) {
	var u Usage
	err := s.db.QueryRowContext(ctx, "SELECT bytes, files, scanned_at FROM usage WHERE user_name = $1", user).
		Scan(&u.Bytes, &u.Files, timeCol{&u.ScannedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return Usage{}, nil
	}
	if err != nil {
		return Usage{}, fmt.Errorf("store: usage of %q: %w", user, err)
	}
	return u, nil
}

// AddUsage adds deltas to a user's usage. It does not move the change
// counter: usage changes with every upload.
func (s *Store) AddUsage(ctx context.Context, user string, bytes, files int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO usage (user_name, bytes, files) VALUES ($1, $2, $3)
		ON CONFLICT (user_name) DO UPDATE SET bytes = usage.bytes + $2, files = usage.files + $3`, user, bytes, files)
	if err != nil {
		return fmt.Errorf("store: usage of %q: %w", user, err)
	}
	return nil
}

// SetUsage replaces a user's usage after a full rescan at now.
func (s *Store) SetUsage(ctx context.Context, user string, bytes, files int64, now time.Time) error {
	at, err := timeArg("scan time", now)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO usage (user_name, bytes, files, scanned_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_name) DO UPDATE SET bytes = $2, files = $3, scanned_at = $4`, user, bytes, files, at)
	if err != nil {
		return fmt.Errorf("store: usage of %q: %w", user, err)
	}
	return nil
}
