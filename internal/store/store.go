// Package store persists what administrators change at run time — users,
// groups, admins, services, bans and a few settings — in SQLite (embedded,
// the default) or PostgreSQL (shared by several nodes). Both engines run the
// same SQL text; the schema is created and upgraded by numbered migrations
// embedded in the binary.
//
// Every write also increments a change counter in the same transaction, so a
// running server notices changes made by another process (the CLI, another
// node) by polling [Store.Changes].
//
// Errors wrap the ferry sentinels: ferry.ErrNotFound for a missing record,
// ferry.ErrExists for a duplicate name, ferry.ErrConflict for a stale
// version, ferry.ErrInvalid for a value the store refuses.
//
// Only the composition root (app) and the CLI import store; everything else
// declares the small interface it needs.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names returned by [Store.Kind].
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
)

// sqliteBusyTimeout is how long a SQLite write waits for another process's
// lock before failing with ErrLocked. Generous: the server's background
// writers (upload digests, outbox, history) and CLI changes share the lock,
// and on a loaded machine each fsync can take long (5 s was exceeded once
// under eight concurrent writers with the race detector and six builds).
const sqliteBusyTimeout = 10 * time.Second

var (
	// ErrSchemaTooNew means the database was migrated by a newer ferry; this
	// binary refuses to touch it.
	ErrSchemaTooNew = errors.New("database schema too new")
	// ErrLocked means another process held the SQLite database locked for
	// longer than the busy timeout.
	ErrLocked = errors.New("database locked")
)

// Options configure [Open].
type Options struct {
	// DSN selects the engine and the database: a file path or sqlite:PATH
	// for SQLite (the parent directory must exist), postgres://… or
	// postgresql://… for PostgreSQL (search_path may be set as a parameter).
	DSN string
	// Logger receives migration notices; nil discards them.
	Logger *slog.Logger
}

// ListOptions page and filter a listing ordered by name (the domain's
// type, so consumers that declare their own store interfaces can name it).
type ListOptions = ferry.ListOptions

// Store is an open database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	kind string
	name string // the database in messages: a path, or a password-free postgres address
	log  *slog.Logger
}

// Open opens the database named by opts.DSN, creating or upgrading its
// schema.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s := &Store{log: cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))}
	var err error
	switch {
	case opts.DSN == "":
		return nil, fmt.Errorf("store: %w: empty DSN (use a file path, sqlite:PATH or postgres://…)", ferry.ErrInvalid)
	case strings.HasPrefix(opts.DSN, "postgres://"), strings.HasPrefix(opts.DSN, "postgresql://"):
		s.kind = KindPostgres
		s.db, s.name, err = openPostgres(opts.DSN)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	default:
		s.kind = KindSQLite
		s.db, s.name, err = openSQLite(opts.DSN)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: open %s: %w", s.name, s.dbErr(err))
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: %s: %w", s.name, err)
	}
	return s, nil
}

// openSQLite parses a file path or sqlite:PATH and configures every pooled
// connection: WAL so readers never wait for the writer, a busy timeout so
// writers from several processes queue instead of failing, IMMEDIATE
// transactions so a transaction never has to upgrade its lock (which SQLite
// refuses without waiting).
func openSQLite(dsn string) (*sql.DB, string, error) {
	path := strings.TrimPrefix(dsn, "sqlite:")
	if scheme, _, ok := strings.Cut(path, "://"); ok && !strings.ContainsAny(scheme, `/\.`) {
		return nil, "", fmt.Errorf("%w: DSN scheme %q not supported (use a file path, sqlite:PATH or postgres://…)", ferry.ErrInvalid, scheme)
	}
	if path == "" || strings.Contains(path, "?") {
		return nil, "", fmt.Errorf("%w: SQLite path %q: must be non-empty and without '?'", ferry.ErrInvalid, path)
	}
	q := fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate",
		sqliteBusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", path+q)
	if err != nil {
		return nil, "", err
	}
	// Writers queue on the database lock anyway; a few connections let
	// reads proceed beside a write.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	return db, path, nil
}

// Kind returns "sqlite" or "postgres".
func (s *Store) Kind() string { return s.kind }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Changes returns the change counter: it increases with every committed
// write, from any process.
func (s *Store) Changes(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT n FROM change_counter WHERE id = 1`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: changes: %w", s.dbErr(err))
	}
	return n, nil
}

// errUnchanged, returned by a write function, rolls the transaction back
// and makes write return nil without counting a change.
var errUnchanged = errors.New("unchanged")

// write runs fn in a transaction and counts the change in the same
// transaction.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.dbErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		if errors.Is(err, errUnchanged) {
			return nil
		}
		return s.dbErr(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE change_counter SET n = n + 1 WHERE id = 1`); err != nil {
		return s.dbErr(err)
	}
	return s.dbErr(tx.Commit())
}

// detailError carries a full message while matching both a sentinel and
// the driver's error with errors.Is/As.
type detailError struct {
	msg  string
	errs []error
}

func (e *detailError) Error() string   { return e.msg }
func (e *detailError) Unwrap() []error { return e.errs }

// dbErr turns engine errors that need a human explanation into one; other
// errors pass through unchanged.
func (s *Store) dbErr(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return &detailError{
			msg:  fmt.Sprintf("database %s is locked by another process (gave up after %v)", s.name, sqliteBusyTimeout),
			errs: []error{ErrLocked, err},
		}
	case sqlite3.SQLITE_NOTADB:
		return &detailError{msg: "the file is not a SQLite database", errs: []error{err}}
	case sqlite3.SQLITE_CANTOPEN:
		return &detailError{msg: "cannot open the file (does its directory exist, is it writable?)", errs: []error{err}}
	}
	return err
}

// isUnique reports a unique constraint violation on either engine.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return isPgUnique(err)
}
