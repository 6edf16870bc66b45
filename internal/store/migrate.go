package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migrations are numbered files, migrations/NNNN_what.sql, applied in order,
// each in its own transaction together with its row in schema_migrations. A
// released migration is never edited; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// engineTokens are the only differences between the engines' schemas.
var engineTokens = map[string]*strings.Replacer{
	KindSQLite: strings.NewReplacer(
		"{{ID}}", "INTEGER PRIMARY KEY AUTOINCREMENT", // never reuses a deleted row's id
		"{{NAME}}", "TEXT COLLATE BINARY",
	),
	KindPostgres: strings.NewReplacer(
		"{{ID}}", "BIGSERIAL PRIMARY KEY",
		"{{NAME}}", `TEXT COLLATE "C"`,
	),
}

// migrationLockKey is the pg_advisory_lock key held while migrating, so two
// nodes starting together do not both apply a migration.
const migrationLockKey int64 = 0x6665727279_01 // "ferry", 1

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations for one engine and checks
// they are numbered 1, 2, 3… without gaps.
func loadMigrations(kind string) ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		text := engineTokens[kind].Replace(string(b))
		if strings.Contains(text, "{{") {
			return nil, fmt.Errorf("migration %s: unknown {{token}}", base)
		}
		ms = append(ms, migration{version: v, name: base, sql: text})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the schema up to the newest embedded migration, or fails
// with ErrSchemaTooNew when the database is ahead of this binary.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.kind)
	if err != nil {
		return err
	}
	// Up to date, the usual case: no lock taken, so opening the store
	// does not wait for a long write elsewhere. Any error here (no table
	// yet) falls through to the locked path, which reports real errors.
	var current int
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current)
	if err == nil && current >= len(ms) {
		return checkVersion(current, len(ms))
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.dbErr(err)
	}
	defer conn.Close()
	if s.kind == KindPostgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey) //nolint:errcheck // the lock also ends with the connection
	}
	if _, err := conn.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", s.dbErr(err))
	}
	for _, m := range ms {
		applied, err := s.applyMigration(ctx, conn, m, len(ms))
		if err != nil {
			return err
		}
		if applied {
			s.log.Info("store: applied migration", "engine", s.kind, "version", m.version, "migration", m.name)
		}
	}
	return nil
}

// applyMigration applies m unless the database already has it. The current
// version is read inside the transaction, which on SQLite holds the write
// lock, so concurrent processes apply each migration once.
func (s *Store) applyMigration(ctx context.Context, conn *sql.Conn, m migration, known int) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, s.dbErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("read schema version: %w", s.dbErr(err))
	}
	if err := checkVersion(current, known); err != nil {
		return false, err
	}
	if current >= m.version {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, s.dbErr(err))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("migration %s: record: %w", m.name, s.dbErr(err))
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.name, s.dbErr(err))
	}
	return true, nil
}

// checkVersion refuses a database migrated by a newer binary: its schema
// may mean things this one does not know.
func checkVersion(current, known int) error {
	if current > known {
		return &detailError{
			msg:  fmt.Sprintf("database schema version %d is newer than this ferry (knows up to %d); upgrade ferry", current, known),
			errs: []error{ErrSchemaTooNew},
		}
	}
	return nil
}
