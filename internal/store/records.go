package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Users, groups, admins and services share one shape: a unique name, an id,
// creation and update times, a version for optimistic concurrency, and
// type-specific columns. record describes the type-specific part; the
// generic functions below hold the SQL once for all four.

// meta points at the fields every named record has.
type meta struct {
	id      *int64
	name    *string
	created *time.Time
	updated *time.Time
	version *int64
}

// record maps one record type onto its table.
type record[T any] struct {
	kind  string   // the record in messages: "user"
	table string   // its table
	cols  []string // type-specific columns, in the order of args and dests
	meta  func(*T) meta
	// args checks v's type-specific fields and encodes them for cols.
	args func(*T) ([]any, error)
	// dests returns scan destinations for cols.
	dests func(*T) []any
}

// commonCols precede the type-specific columns in every SELECT.
const commonCols = "id, name, created_at, updated_at, version"

func (r *record[T]) selectSQL() string {
	return "SELECT " + commonCols + ", " + strings.Join(r.cols, ", ") + " FROM " + r.table
}

func (r *record[T]) scan(row interface{ Scan(...any) error }) (*T, error) {
	v := new(T)
	m := r.meta(v)
	dest := append([]any{m.id, m.name, timeCol{m.created}, timeCol{m.updated}, m.version}, r.dests(v)...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return v, nil
}

// fail wraps err with the record's kind and name.
func (r *record[T]) fail(name string, err error) error {
	if isUnique(err) {
		err = ferry.ErrExists
	}
	return fmt.Errorf("store: %s %q: %w", r.kind, name, err)
}

func (r *record[T]) notFound(name string) error {
	return fmt.Errorf("store: %s %q: %w", r.kind, name, ferry.ErrNotFound)
}

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", from+i)
	}
	return strings.Join(ps, ", ")
}

func create[T any](ctx context.Context, s *Store, r *record[T], v *T) error {
	m := r.meta(v)
	if err := ferry.ValidateName(r.kind, *m.name); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	args, err := r.args(v)
	if err != nil {
		return r.fail(*m.name, err)
	}
	t := now()
	all := append([]any{*m.name, t.UnixNano(), t.UnixNano(), int64(1)}, args...)
	q := fmt.Sprintf("INSERT INTO %s (name, created_at, updated_at, version, %s) VALUES (%s) RETURNING id",
		r.table, strings.Join(r.cols, ", "), placeholders(1, len(all)))
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, q, all...).Scan(&id)
	})
	if err != nil {
		return r.fail(*m.name, err)
	}
	*m.id, *m.created, *m.updated, *m.version = id, t, t, 1
	return nil
}

// storable reports whether a record could be stored under name. Lookups
// of other names answer "not found" without asking the database, which
// PostgreSQL would refuse for text that is not UTF-8.
func (r *record[T]) storable(name string) bool {
	return ferry.ValidateName(r.kind, name) == nil
}

func get[T any](ctx context.Context, s *Store, r *record[T], name string) (*T, error) {
	if !r.storable(name) {
		return nil, r.notFound(name)
	}
	v, err := r.scan(s.db.QueryRowContext(ctx, r.selectSQL()+" WHERE name = $1", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, r.notFound(name)
	}
	if err != nil {
		return nil, r.fail(name, s.dbErr(err))
	}
	return v, nil
}

func list[T any](ctx context.Context, s *Store, r *record[T], o ListOptions) ([]*T, error) {
	if o.Offset < 0 || o.Limit < 0 {
		return nil, fmt.Errorf("store: list %ss: offset %d, limit %d: must not be negative: %w", r.kind, o.Offset, o.Limit, ferry.ErrInvalid)
	}
	q, args := r.selectSQL(), []any{}
	if o.Prefix != "" {
		end, ok := prefixEnd(o.Prefix)
		if !ok {
			return nil, nil // no valid name starts with it
		}
		q += " WHERE name >= $1 AND name < $2"
		args = append(args, o.Prefix, end)
	}
	limit := int64(o.Limit)
	if limit == 0 {
		limit = math.MaxInt64 // both engines need a LIMIT to take an OFFSET
	}
	q += fmt.Sprintf(" ORDER BY name LIMIT $%d OFFSET $%d", len(args)+1, len(args)+2)
	args = append(args, limit, int64(o.Offset))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list %ss: %w", r.kind, s.dbErr(err))
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := r.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list %ss: %w", r.kind, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list %ss: %w", r.kind, s.dbErr(err))
	}
	return out, nil
}

// prefixEnd returns the smallest string above every string that starts with
// prefix, in byte order (both engines compare names byte by byte). ok is
// false when prefix holds a character no name may contain.
func prefixEnd(prefix string) (end string, ok bool) {
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@') {
			return "", false
		}
	}
	// The last byte is at most 'z', so incrementing it stays ASCII.
	return prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1), true
}

func update[T any](ctx context.Context, s *Store, r *record[T], v *T) error {
	m := r.meta(v)
	name, want := *m.name, *m.version
	if !r.storable(name) {
		return r.notFound(name)
	}
	args, err := r.args(v)
	if err != nil {
		return r.fail(name, err)
	}
	t := now()
	all := append([]any{t.UnixNano(), name}, args...)
	sets := make([]string, len(r.cols))
	for i, c := range r.cols {
		sets[i] = fmt.Sprintf("%s = $%d", c, i+3)
	}
	q := fmt.Sprintf("UPDATE %s SET updated_at = $1, version = version + 1, %s WHERE name = $2",
		r.table, strings.Join(sets, ", "))
	if want != 0 {
		all = append(all, want)
		q += fmt.Sprintf(" AND version = $%d", len(all))
	}
	q += " RETURNING id, created_at, version"
	var id, created, version int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, q, all...).Scan(&id, &created, &version)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var stored int64
		err = tx.QueryRowContext(ctx, "SELECT version FROM "+r.table+" WHERE name = $1", name).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return ferry.ErrNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("version %d is stale (stored: %d): %w", want, stored, ferry.ErrConflict)
	})
	if err != nil {
		return r.fail(name, err)
	}
	*m.id, *m.created, *m.updated, *m.version = id, time.Unix(0, created).UTC(), t, version
	return nil
}

func remove[T any](ctx context.Context, s *Store, r *record[T], name string) error {
	if !r.storable(name) {
		return r.notFound(name)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM "+r.table+" WHERE name = $1", name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, ferry.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return r.fail(name, err)
	}
	return nil
}

func count[T any](ctx context.Context, s *Store, r *record[T]) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+r.table).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count %ss: %w", r.kind, s.dbErr(err))
	}
	return n, nil
}
