package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPostgres returns a *sql.DB over pgx's database/sql adapter for a
// postgres:// DSN, and the database's name for messages (without the
// password). It does not connect.
func openPostgres(dsn string) (*sql.DB, string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, "", err // pgx redacts the password
	}
	name := fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	db := stdlib.OpenDB(*cfg)
	// Admin changes are small and rare; leave the server's connections to
	// the nodes' other users.
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(4)
	return db, name, nil
}

// isPgUnique reports a PostgreSQL unique_violation.
func isPgUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
