package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// File digests (file_sums) record the SHA-256 computed while an upload
// streamed in, keyed by storage root and path. They are not admin data:
// writes do not move the change counter.

// PutSum records the digest of root/name, valid while the file has size
// and mtime.
func (s *Store) PutSum(ctx context.Context, root, name string, size int64, mtime time.Time, sum []byte) error {
	at, err := timeArg("modification time", mtime)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO file_sums (root, path, size, mtime, sha256) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (root, path) DO UPDATE SET size = $3, mtime = $4, sha256 = $5`,
		root, name, size, at, hex.EncodeToString(sum))
	if err != nil {
		return fmt.Errorf("store: checksum of %q: %w", name, s.dbErr(err))
	}
	return nil
}

// GetSum returns the digest recorded for root/name with the size and
// modification time it is valid for; a nil sum when none is recorded.
func (s *Store) GetSum(ctx context.Context, root, name string) (int64, time.Time, []byte, error) {
	var (
		size  int64
		mtime time.Time
		text  string
	)
	err := s.db.QueryRowContext(ctx, `SELECT size, mtime, sha256 FROM file_sums WHERE root = $1 AND path = $2`, root, name).
		Scan(&size, timeCol{&mtime}, &text)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil, nil
	}
	if err != nil {
		return 0, time.Time{}, nil, fmt.Errorf("store: checksum of %q: %w", name, s.dbErr(err))
	}
	sum, err := hex.DecodeString(text)
	if err != nil {
		return 0, time.Time{}, nil, fmt.Errorf("store: checksum of %q: %w", name, err)
	}
	return size, mtime, sum, nil
}

// under matches path equal to $2 or below it ($3 is $2 + "/").
const under = `root = $1 AND (path = $2 OR substr(path, 1, length(CAST($3 AS TEXT))) = $3)`

// MoveSums follows a rename inside root: the digest of from, or those of
// the files below it, move to to, replacing what was recorded there.
func (s *Store) MoveSums(ctx context.Context, root, from, to string) error {
	if from == to {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.dbErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM file_sums WHERE `+under, root, to, to+"/"); err != nil {
		return fmt.Errorf("store: move checksums of %q: %w", from, s.dbErr(err))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE file_sums SET path = CAST($4 AS TEXT) || substr(path, length(CAST($2 AS TEXT)) + 1) WHERE `+under,
		root, from, from+"/", to); err != nil {
		return fmt.Errorf("store: move checksums of %q: %w", from, s.dbErr(err))
	}
	return s.dbErr(tx.Commit())
}

// DropSums forgets the digest of root/name and of everything below it.
func (s *Store) DropSums(ctx context.Context, root, name string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM file_sums WHERE `+under, root, name, name+"/"); err != nil {
		return fmt.Errorf("store: drop checksums of %q: %w", name, s.dbErr(err))
	}
	return nil
}
