package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The PostgreSQL engine reaches database/sql through this small driver over
// *pgx.Conn rather than through pgx's own stdlib package: stdlib imports
// pgxpool, whose dependency (jackc/puddle) is not in go.sum. The store needs
// only what is here: plain queries, transactions, liveness checks.

// pgConnector opens one pgx connection per database/sql connection.
type pgConnector struct {
	cfg *pgx.ConnConfig
}

// openPostgres returns a *sql.DB for a postgres:// DSN, and the database's
// name for messages (without the password). It does not connect.
func openPostgres(dsn string) (*sql.DB, string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, "", err // pgx redacts the password
	}
	name := fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	db := sql.OpenDB(&pgConnector{cfg: cfg})
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

func (c *pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.cfg.Copy())
	if err != nil {
		return nil, err
	}
	return &pgConn{conn: conn}, nil
}

func (c *pgConnector) Driver() driver.Driver { return pgDriver{} }

// pgDriver exists because driver.Connector must name a driver.Driver; the
// store never opens connections by name.
type pgDriver struct{}

func (pgDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("store: the postgres driver opens connections through its connector only")
}

// pgConn adapts one *pgx.Conn to database/sql.
type pgConn struct {
	conn *pgx.Conn
}

var (
	_ driver.Conn             = (*pgConn)(nil)
	_ driver.ConnBeginTx      = (*pgConn)(nil)
	_ driver.ExecerContext    = (*pgConn)(nil)
	_ driver.QueryerContext   = (*pgConn)(nil)
	_ driver.Pinger           = (*pgConn)(nil)
	_ driver.SessionResetter  = (*pgConn)(nil)
	_ driver.Validator        = (*pgConn)(nil)
	_ driver.StmtExecContext  = (*pgStmt)(nil)
	_ driver.StmtQueryContext = (*pgStmt)(nil)
)

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	// pgx prepares and caches statements itself on first use.
	return &pgStmt{conn: c, query: query}, nil
}

func (c *pgConn) Close() error {
	// Close says goodbye to the server; do not wait long on a dead network.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.conn.Close(ctx)
}

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var o pgx.TxOptions
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadCommitted:
		o.IsoLevel = pgx.ReadCommitted
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		o.IsoLevel = pgx.RepeatableRead
	case sql.LevelSerializable:
		o.IsoLevel = pgx.Serializable
	default:
		return nil, fmt.Errorf("store: postgres: isolation level %v: %w", sql.IsolationLevel(opts.Isolation), errors.ErrUnsupported)
	}
	if opts.ReadOnly {
		o.AccessMode = pgx.ReadOnly
	}
	tx, err := c.conn.BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	return pgTx{ctx: ctx, tx: tx}, nil
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	vals, err := argValues(args)
	if err != nil {
		return nil, err
	}
	tag, err := c.conn.Exec(ctx, query, vals...)
	if err != nil {
		return nil, err
	}
	return pgResult(tag.RowsAffected()), nil
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	vals, err := argValues(args)
	if err != nil {
		return nil, err
	}
	rows, err := c.conn.Query(ctx, query, vals...)
	if err != nil {
		return nil, err
	}
	return &pgRows{rows: rows}, nil
}

func (c *pgConn) Ping(ctx context.Context) error {
	if c.conn.IsClosed() {
		return driver.ErrBadConn
	}
	return c.conn.Ping(ctx)
}

func (c *pgConn) ResetSession(context.Context) error {
	if c.conn.IsClosed() {
		return driver.ErrBadConn
	}
	return nil
}

func (c *pgConn) IsValid() bool { return !c.conn.IsClosed() }

// argValues passes positional arguments through; pgx encodes them from the
// parameter types the server reports.
func argValues(args []driver.NamedValue) ([]any, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, fmt.Errorf("store: postgres: named argument %q: %w", a.Name, errors.ErrUnsupported)
		}
		vals[i] = a.Value
	}
	return vals, nil
}

type pgStmt struct {
	conn  *pgConn
	query string
}

func (s *pgStmt) Close() error  { return nil }
func (s *pgStmt) NumInput() int { return -1 }

func (s *pgStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), namedValues(args))
}

func (s *pgStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), namedValues(args))
}

func (s *pgStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.conn.ExecContext(ctx, s.query, args)
}

func (s *pgStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.conn.QueryContext(ctx, s.query, args)
}

func namedValues(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

// pgTx ends its transaction under the context that began it, as
// database/sql expects: a cancelled context ends the transaction (pgx
// closes the connection, which rolls it back).
type pgTx struct {
	ctx context.Context
	tx  pgx.Tx
}

func (t pgTx) Commit() error   { return t.tx.Commit(t.ctx) }
func (t pgTx) Rollback() error { return t.tx.Rollback(t.ctx) }

// pgResult is the affected row count; ids come back through RETURNING.
type pgResult int64

func (r pgResult) LastInsertId() (int64, error) {
	return 0, fmt.Errorf("store: postgres: LastInsertId (use RETURNING): %w", errors.ErrUnsupported)
}

func (r pgResult) RowsAffected() (int64, error) { return int64(r), nil }

type pgRows struct {
	rows pgx.Rows
	cols []string
}

func (r *pgRows) Columns() []string {
	if r.cols == nil {
		fds := r.rows.FieldDescriptions()
		r.cols = make([]string, len(fds))
		for i, fd := range fds {
			r.cols[i] = fd.Name
		}
	}
	return r.cols
}

func (r *pgRows) Close() error {
	r.rows.Close()
	return r.rows.Err()
}

func (r *pgRows) Next(dest []driver.Value) error {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vals, err := r.rows.Values()
	if err != nil {
		return err
	}
	for i, v := range vals {
		dest[i] = driverValue(v)
	}
	return nil
}

// driverValue narrows what pgx decodes to the types database/sql documents
// for driver.Value.
func driverValue(v any) driver.Value {
	switch x := v.(type) {
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case float32:
		return float64(x)
	}
	return v
}
