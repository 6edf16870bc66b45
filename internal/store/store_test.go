package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
	"github.com/ferrymft/ferry/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.Store {
		return open(t, filepath.Join(t.TempDir(), "ferry.db"))
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.Store {
		return open(t, pgSchema(t))
	})
}

// open opens dsn and closes the store when the test ends.
func open(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), store.Options{DSN: dsn, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pgSchema creates a fresh schema in the FERRY_TEST_POSTGRES database,
// dropped when the test ends, and returns a DSN that uses it. It skips the
// test when the variable is empty.
func pgSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("FERRY_TEST_POSTGRES")
	if base == "" {
		t.Skip("FERRY_TEST_POSTGRES is not set (a postgres:// DSN of a database the tests may create schemas in)")
	}
	schema := "ferrytest_" + strings.ToLower(rand.Text()[:16])
	pgExec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { pgExec(t, base, "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("FERRY_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// pgExec runs SQL on its own connection to dsn.
func pgExec(t *testing.T, dsn, query string) {
	t.Helper()
	ctx := context.WithoutCancel(t.Context()) // also used in cleanups
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// sqliteExec runs SQL on its own connection to the SQLite file at path.
func sqliteExec(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		dsn  func(t *testing.T) (dsn string, exec func(query string))
	}{
		{"sqlite", func(t *testing.T) (string, func(string)) {
			path := filepath.Join(t.TempDir(), "ferry.db")
			return path, func(q string) { sqliteExec(t, path, q) }
		}},
		{"postgres", func(t *testing.T) (string, func(string)) {
			dsn := pgSchema(t)
			return dsn, func(q string) { pgExec(t, dsn, q) }
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dsn, exec := tt.dsn(t)
			open(t, dsn).Close()
			exec("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
			_, err := store.Open(t.Context(), store.Options{DSN: dsn})
			if !errors.Is(err, store.ErrSchemaTooNew) {
				t.Fatalf("Open: %v, want ErrSchemaTooNew", err)
			}
			for _, want := range []string{"database schema version 99 is newer than this ferry (knows up to ", "); upgrade ferry"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestNotADatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(path, []byte(strings.Repeat("listen: :2121 # not a database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(t.Context(), store.Options{DSN: path})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "is not a SQLite database") {
		t.Fatalf("Open(%s) = %v, want an error naming the file and saying what it is not", path, err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	missingDir := filepath.Join(t.TempDir(), "no", "such", "dir", "ferry.db")
	for _, tt := range []struct {
		name, dsn string
		want      []string
	}{
		{"empty", "", []string{"empty DSN"}},
		{"unknown scheme", "mysql://root@localhost/ferry", []string{`scheme "mysql" not supported`}},
		{"missing directory", missingDir, []string{"cannot open", missingDir}},
		{"missing directory with prefix", "sqlite:" + missingDir, []string{"cannot open", missingDir}},
		{"bad postgres DSN", "postgres://u:secret@host:notaport/db", []string{"store:"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := store.Open(t.Context(), store.Options{DSN: tt.dsn})
			if err == nil {
				t.Fatalf("Open(%q) succeeded", tt.dsn)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open(%q) = %q, want it to mention %q", tt.dsn, err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ferry.db")
	for i, dsn := range []string{path, "sqlite:" + path, path} {
		s := open(t, dsn)
		if k := s.Kind(); k != store.KindSQLite {
			t.Fatalf("Kind() = %q, want sqlite", k)
		}
		if i == 0 {
			must(t, s.CreateUser(ctx, &ferry.User{Name: "alice", Groups: []string{"g"}}))
			must(t, s.SetSetting(ctx, "first_run", "done"))
		}
		u, err := s.GetUser(ctx, "alice")
		must(t, err)
		if !reflect.DeepEqual(u.Groups, []string{"g"}) || u.Version != 1 {
			t.Errorf("open %d: user %+v", i, u)
		}
		if v, err := s.GetSetting(ctx, "first_run"); err != nil || v != "done" {
			t.Errorf("open %d: setting = %q, %v", i, v, err)
		}
		if n, err := s.Changes(ctx); err != nil || n != 2 {
			t.Errorf("open %d: Changes() = %d, %v; want 2", i, n, err)
		}
		must(t, s.Close())
	}
}

// TestTwoProcesses has two stores on one file, as the server and the CLI
// are: each sees the other's writes and the change counter.
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ferry.db")
	server, cli := open(t, path), open(t, path)
	before, err := server.Changes(ctx)
	must(t, err)
	must(t, cli.CreateService(ctx, &ferry.Service{Name: "ftp", Kind: ferry.ServiceFTP, Listen: ":2121", Enabled: true}))
	if after, err := server.Changes(ctx); err != nil || after <= before {
		t.Errorf("server saw the counter go %d → %d (%v), want an increase", before, after, err)
	}
	if _, err := server.GetService(ctx, "ftp"); err != nil {
		t.Errorf("server cannot see the CLI's service: %v", err)
	}
}

// TestConcurrentOpen opens one new database from several goroutines: the
// migrations must be applied once, without errors.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "ferry.db") }},
		{"postgres", pgSchema},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dsn := tt.dsn(t)
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					s, err := store.Open(t.Context(), store.Options{DSN: dsn})
					if err != nil {
						t.Error(err)
						return
					}
					s.Close()
				})
			}
			wg.Wait()
			if n, err := open(t, dsn).Changes(t.Context()); err != nil || n != 0 {
				t.Errorf("Changes() = %d, %v on a new database; want 0", n, err)
			}
		})
	}
}

// TestLocked holds SQLite's write lock from another connection for longer
// than the busy timeout (10s): writes then fail with ErrLocked, reads still
// work.
func TestLocked(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for the 10s busy timeout")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ferry.db")
	s := open(t, path)
	must(t, s.CreateUser(ctx, &ferry.User{Name: "alice"}))

	other, err := sql.Open("sqlite", path)
	must(t, err)
	defer other.Close()
	conn, err := other.Conn(ctx)
	must(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	must(t, err)
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") //nolint:errcheck

	err = s.CreateUser(ctx, &ferry.User{Name: "bob"})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("CreateUser while locked: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("error %q does not name the file and say it is locked", err)
	}
	if _, err := s.GetUser(ctx, "alice"); err != nil {
		t.Errorf("GetUser while locked: %v (readers must not wait in WAL mode)", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testLogger sends the store's log to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
