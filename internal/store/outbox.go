package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// The webhook outbox: one row per delivery still owed, oldest id first per
// rule. A delivery that ran out of attempts stays as a dead letter until an
// admin replays it. None of these writes move the change counter.

const outboxCols = "id, rule_name, payload, attempts, next_at, last_error, dead, created_at"

func scanOutbox(row interface{ Scan(...any) error }) (ferry.OutboxEntry, error) {
	var e ferry.OutboxEntry
	var payload string
	err := row.Scan(&e.ID, &e.Rule, &payload, &e.Attempts, timeCol{&e.NextAt}, &e.LastError, &e.Dead, timeCol{&e.CreatedAt})
	e.Payload = []byte(payload)
	return e, err
}

// EnqueueOutbox appends a delivery of payload (JSON text) for rule, due
// now, and returns its id.
func (s *Store) EnqueueOutbox(ctx context.Context, rule string, payload []byte) (int64, error) {
	if err := checkText("outbox payload", rule, string(payload)); err != nil {
		return 0, fmt.Errorf("store: outbox %q: %w", rule, err)
	}
	t := now().UnixNano()
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO outbox (rule_name, payload, attempts, next_at, last_error, dead, created_at)
		VALUES ($1, $2, 0, $3, '', 0, $3) RETURNING id`, rule, string(payload), t).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: outbox %q: %w", rule, s.dbErr(err))
	}
	return id, nil
}

// NextOutbox returns the oldest live (not dead) delivery of rule, due or
// not, or ferry.ErrNotFound when there is none.
func (s *Store) NextOutbox(ctx context.Context, rule string) (ferry.OutboxEntry, error) {
	e, err := scanOutbox(s.db.QueryRowContext(ctx, `SELECT `+outboxCols+` FROM outbox
		WHERE rule_name = $1 AND dead = 0 ORDER BY id LIMIT 1`, rule))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("store: outbox %q: %w", rule, ferry.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("store: outbox %q: %w", rule, s.dbErr(err))
	}
	return e, nil
}

// DeliveredOutbox removes a delivered entry.
func (s *Store) DeliveredOutbox(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id = $1`, id); err != nil {
		return fmt.Errorf("store: outbox entry %d: %w", id, s.dbErr(err))
	}
	return nil
}

// FailedOutbox records a failed attempt: the new attempt count, the error,
// and either when to try next or, with dead, that it is a dead letter.
func (s *Store) FailedOutbox(ctx context.Context, id int64, attempts int, next time.Time, lastErr string, dead bool) error {
	at, err := timeArg("next attempt", next)
	if err != nil || at == nil {
		at = now().UnixNano()
	}
	if checkText("error", lastErr) != nil {
		lastErr = fmt.Sprintf("%q", lastErr)
	}
	deadInt := 0
	if dead {
		deadInt = 1
	}
	_, err = s.db.ExecContext(ctx, `UPDATE outbox SET attempts = $1, next_at = $2, last_error = $3, dead = $4 WHERE id = $5`,
		attempts, at, lastErr, deadInt, id)
	if err != nil {
		return fmt.Errorf("store: outbox entry %d: %w", id, s.dbErr(err))
	}
	return nil
}

// OutboxFilter selects entries for ListOutbox and ReplayOutbox.
type OutboxFilter struct {
	Rule string // "" for every rule
	Dead bool   // dead letters instead of pending deliveries
	ID   int64  // one entry (0: all)
	// Limit caps a listing (0: no limit).
	Limit int
}

func (f OutboxFilter) where() (string, []any) {
	q, args := ` WHERE dead = $1`, []any{0}
	if f.Dead {
		args[0] = 1
	}
	if f.Rule != "" {
		args = append(args, f.Rule)
		q += fmt.Sprintf(` AND rule_name = $%d`, len(args))
	}
	if f.ID != 0 {
		args = append(args, f.ID)
		q += fmt.Sprintf(` AND id = $%d`, len(args))
	}
	return q, args
}

// ListOutbox returns the entries f selects, oldest first.
func (s *Store) ListOutbox(ctx context.Context, f OutboxFilter) ([]ferry.OutboxEntry, error) {
	where, args := f.where()
	q := `SELECT ` + outboxCols + ` FROM outbox` + where + ` ORDER BY id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", s.dbErr(err))
	}
	defer rows.Close()
	var out []ferry.OutboxEntry
	for rows.Next() {
		e, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list outbox: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", s.dbErr(err))
	}
	return out, nil
}

// ReplayOutbox makes the dead letters f selects (f.Dead is implied) due
// again with a fresh attempt count, in their original order, and returns
// how many.
func (s *Store) ReplayOutbox(ctx context.Context, f OutboxFilter) (int, error) {
	f.Dead = true
	where, args := f.where()
	args = append(args, now().UnixNano())
	res, err := s.db.ExecContext(ctx, fmt.Sprintf(`UPDATE outbox SET dead = 0, attempts = 0, last_error = '', next_at = $%d`, len(args))+where, args...)
	if err != nil {
		return 0, fmt.Errorf("store: replay outbox: %w", s.dbErr(err))
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// OutboxDepth counts pending deliveries and dead letters per rule.
func (s *Store) OutboxDepth(ctx context.Context) (pending, dead map[string]int, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule_name, dead, COUNT(*) FROM outbox GROUP BY rule_name, dead`)
	if err != nil {
		return nil, nil, fmt.Errorf("store: outbox depth: %w", s.dbErr(err))
	}
	defer rows.Close()
	pending, dead = map[string]int{}, map[string]int{}
	for rows.Next() {
		var rule string
		var d bool
		var n int
		if err := rows.Scan(&rule, &d, &n); err != nil {
			return nil, nil, fmt.Errorf("store: outbox depth: %w", err)
		}
		if d {
			dead[rule] = n
		} else {
			pending[rule] = n
		}
	}
	return pending, dead, rows.Err()
}
