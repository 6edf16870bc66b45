package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Transfers keep their definition as one JSON column, like rules: the
// scheduler reads them whole.
var transferRecord = &record[ferry.Transfer]{
	kind:  "transfer",
	table: "transfers",
	cols:  []string{"spec"},
	meta: func(v *ferry.Transfer) meta {
		return meta{id: &v.ID, name: &v.Name, created: &v.CreatedAt, updated: &v.UpdatedAt, version: &v.Version}
	},
	args: func(v *ferry.Transfer) ([]any, error) {
		if err := v.Validate(); err != nil {
			return nil, err
		}
		if err := checkText("transfer", append([]string{v.Source, v.Dest, v.Pattern, v.Cron, v.ArchiveTo, v.FailedTo, v.OnConflict, v.Verify, v.Description}, v.Exclude...)...); err != nil {
			return nil, err
		}
		spec := *v
		spec.ID, spec.Name, spec.Version = 0, "", 0
		spec.CreatedAt, spec.UpdatedAt = time.Time{}, time.Time{}
		js, err := jsonArg(spec)
		if err != nil {
			return nil, err
		}
		return []any{js}, nil
	},
	dests: func(v *ferry.Transfer) []any { return []any{transferCol{v}} },
}

// transferCol scans the spec column, keeping the fields scanned before it.
type transferCol struct{ t *ferry.Transfer }

func (c transferCol) Scan(src any) error {
	var spec ferry.Transfer
	if err := (jsonCol{&spec}).Scan(src); err != nil {
		return fmt.Errorf("transfer spec: %w", err)
	}
	spec.ID, spec.Name, spec.Version = c.t.ID, c.t.Name, c.t.Version
	spec.CreatedAt, spec.UpdatedAt = c.t.CreatedAt, c.t.UpdatedAt
	*c.t = spec
	return nil
}

// CreateTransfer stores a new transfer after ferry.Transfer.Validate.
func (s *Store) CreateTransfer(ctx context.Context, v *ferry.Transfer) error {
	return create(ctx, s, transferRecord, v)
}

// GetTransfer returns the transfer called name, or ferry.ErrNotFound.
func (s *Store) GetTransfer(ctx context.Context, name string) (*ferry.Transfer, error) {
	return get(ctx, s, transferRecord, name)
}

// ListTransfers returns transfers ordered by name.
func (s *Store) ListTransfers(ctx context.Context, o ListOptions) ([]*ferry.Transfer, error) {
	return list(ctx, s, transferRecord, o)
}

// UpdateTransfer replaces the stored transfer called v.Name (version
// checked as [Store.UpdateUser]).
func (s *Store) UpdateTransfer(ctx context.Context, v *ferry.Transfer) error {
	return update(ctx, s, transferRecord, v)
}

// DeleteTransfer removes the transfer called name; its history stays.
func (s *Store) DeleteTransfer(ctx context.Context, name string) error {
	return remove(ctx, s, transferRecord, name)
}

// AddTransferRecord appends a file's outcome to the history and sets its
// ID. It does not move the change counter.
func (s *Store) AddTransferRecord(ctx context.Context, r *ferry.TransferRecord) error {
	errText := r.Error
	if checkText("error", errText) != nil {
		errText = fmt.Sprintf("%q", errText)
	}
	if err := checkText("transfer record", r.Transfer, r.Source, r.Dest, r.Status, r.SHA256, r.SourceRel); err != nil {
		return fmt.Errorf("store: transfer %q: %w", r.Transfer, err)
	}
	started, err := timeArg("started", r.Started)
	if err != nil || started == nil {
		return fmt.Errorf("store: transfer %q: started time: %w", r.Transfer, ferry.ErrInvalid)
	}
	err = s.db.QueryRowContext(ctx, `INSERT INTO transfer_history
		(transfer_name, source, dest, status, bytes, attempts, started_at, duration_ns, error, sha256, source_rel)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		r.Transfer, r.Source, r.Dest, r.Status, r.Bytes, r.Attempts, started, int64(r.Duration), errText, r.SHA256,
		r.SourceRel).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("store: transfer %q: history: %w", r.Transfer, s.dbErr(err))
	}
	return nil
}

// UpdateTransferRecord rewrites the outcome of the history row r.ID (a
// move records its file as ferry.TransferRemoving before removing the
// source, then its outcome). It does not move the change counter.
func (s *Store) UpdateTransferRecord(ctx context.Context, r *ferry.TransferRecord) error {
	errText := r.Error
	if checkText("error", errText) != nil {
		errText = fmt.Sprintf("%q", errText)
	}
	if err := checkText("transfer record", r.Dest, r.Status, r.SHA256); err != nil {
		return fmt.Errorf("store: transfer %q: %w", r.Transfer, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE transfer_history SET dest = $1, status = $2, bytes = $3, attempts = $4,
		duration_ns = $5, error = $6, sha256 = $7 WHERE id = $8`,
		r.Dest, r.Status, r.Bytes, r.Attempts, int64(r.Duration), errText, r.SHA256, r.ID)
	if err != nil {
		return fmt.Errorf("store: transfer %q: history: %w", r.Transfer, s.dbErr(err))
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: transfer %q: history row %d: %w", r.Transfer, r.ID, ferry.ErrNotFound)
	}
	return nil
}

// PendingTransferRecords returns the transfer's rows still
// ferry.TransferRemoving (a move cut short), oldest first.
func (s *Store) PendingTransferRecords(ctx context.Context, transfer string) ([]ferry.TransferRecord, error) {
	h, err := s.TransferHistory(ctx, HistoryFilter{Transfer: transfer, Status: ferry.TransferRemoving, Limit: 10000})
	slices.Reverse(h)
	return h, err
}

// HistoryFilter selects history rows, newest first.
type HistoryFilter struct {
	Transfer string // "" for all
	Status   string // "" for all
	Limit    int    // 0: 100
}

// TransferHistory returns the newest history rows f selects.
func (s *Store) TransferHistory(ctx context.Context, f HistoryFilter) ([]ferry.TransferRecord, error) {
	q, args := `SELECT id, transfer_name, source, dest, status, bytes, attempts, started_at, duration_ns, error, sha256, source_rel
		FROM transfer_history WHERE 1 = 1`, []any{}
	if f.Transfer != "" {
		args = append(args, f.Transfer)
		q += fmt.Sprintf(" AND transfer_name = $%d", len(args))
	}
	if f.Status != "" {
		args = append(args, f.Status)
		q += fmt.Sprintf(" AND status = $%d", len(args))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: transfer history: %w", s.dbErr(err))
	}
	defer rows.Close()
	var out []ferry.TransferRecord
	for rows.Next() {
		var r ferry.TransferRecord
		var dur int64
		if err := rows.Scan(&r.ID, &r.Transfer, &r.Source, &r.Dest, &r.Status, &r.Bytes, &r.Attempts,
			timeCol{&r.Started}, &dur, &r.Error, &r.SHA256, &r.SourceRel); err != nil {
			return nil, fmt.Errorf("store: transfer history: %w", err)
		}
		r.Duration = time.Duration(dur)
		out = append(out, r)
	}
	return out, s.dbErr(rows.Err())
}

// AcquireTransfer takes the lease that lets owner run the transfer called
// name until until. It returns false when another owner holds an unexpired
// lease. An owner renews its own lease the same way. It does not move the
// change counter.
func (s *Store) AcquireTransfer(ctx context.Context, name, owner string, until time.Time) (bool, error) {
	fail := func(err error) (bool, error) {
		return false, fmt.Errorf("store: transfer %q: lease: %w", name, s.dbErr(err))
	}
	// One statement each, atomic on both engines: take over an expired or
	// own lease, else create it; a unique violation means another owner
	// created it first.
	res, err := s.db.ExecContext(ctx, `UPDATE transfer_leases SET owner = $1, until_at = $2
		WHERE name = $3 AND (owner = $1 OR until_at <= $4)`, owner, until.UnixNano(), name, now().UnixNano())
	if err != nil {
		return fail(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err == nil, err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO transfer_leases (name, owner, until_at) VALUES ($1, $2, $3)`, name, owner, until.UnixNano())
	if isUnique(err) {
		return false, nil
	}
	if err != nil {
		return fail(err)
	}
	return true, nil
}

// ReleaseTransfer gives up owner's lease on name (a no-op when another
// owner holds it).
func (s *Store) ReleaseTransfer(ctx context.Context, name, owner string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM transfer_leases WHERE name = $1 AND owner = $2`, name, owner); err != nil {
		return fmt.Errorf("store: transfer %q: release lease: %w", name, s.dbErr(err))
	}
	return nil
}

// CountTransfers returns the number of transfers.
func (s *Store) CountTransfers(ctx context.Context) (int, error) {
	return count(ctx, s, transferRecord)
}
