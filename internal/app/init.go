package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/config"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// InitOptions say what a first run creates.
type InitOptions struct {
	// DefaultServices adds FTP :2121, SFTP/SCP :2022, HTTP :8080 and the
	// admin API on 127.0.0.1:8081.
	DefaultServices bool
	// AdminPassword is the first admin's password; empty generates one.
	AdminPassword string
	// OnlyIfNew makes Init a no-op (nil result) on an initialised store;
	// otherwise that is an error.
	OnlyIfNew bool
}

// InitResult is what a first run created; the generated admin password is
// shown once and never stored in clear.
type InitResult struct {
	DataDir           string
	AdminName         string
	AdminPassword     string
	PasswordGenerated bool
	Services          []ferry.Service
}

// ErrInitialized means `ferry init` found an initialised store.
var ErrInitialized = errors.New("already initialized")

// settingInitialized marks a store that has been through Init.
const settingInitialized = "initialized_at"

// DefaultServices are the services a first run creates.
func DefaultServices() []ferry.Service {
	return []ferry.Service{
		{Name: "ftp", Kind: ferry.ServiceFTP, Listen: ":2121", Enabled: true, Options: map[string]string{"tls": "explicit"}},
		{Name: "sftp", Kind: ferry.ServiceSFTP, Listen: ":2022", Enabled: true},
		{Name: "http", Kind: ferry.ServiceHTTP, Listen: ":8080", Enabled: true},
		{Name: "admin", Kind: ferry.ServiceAdmin, Listen: "127.0.0.1:8081", Enabled: true},
	}
}

// Init creates the data directory, host keys, a self-signed certificate,
// the store, the first admin and (optionally) the default services.
func Init(ctx context.Context, cfg *config.Config, opts InitOptions) (*InitResult, error) {
	if opts.OnlyIfNew && isInitialized(ctx, cfg) {
		return nil, nil
	}
	dir := cfg.DataDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(cfg.Users.HomeRoot, 0o750); err != nil {
		return nil, fmt.Errorf("users.home_root %s: %w", cfg.Users.HomeRoot, err)
	}
	if err := ensureHostKeys(filepath.Join(dir, "hostkeys")); err != nil {
		return nil, err
	}
	if err := ensureSelfSigned(filepath.Join(dir, "tls")); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Options{DSN: cfg.Store.DSN})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if !isPostgres(cfg.Store.DSN) {
		// The store holds password hashes: owner only (SQLite gives its
		// -wal and -shm files the database file's mode).
		if err := os.Chmod(sqlitePath(cfg.Store.DSN), 0o600); err != nil {
			return nil, fmt.Errorf("store %s: %w", cfg.Store.DSN, err)
		}
	}
	if v, err := st.GetSetting(ctx, settingInitialized); err == nil && v != "" {
		if opts.OnlyIfNew {
			return nil, nil
		}
		return nil, fmt.Errorf("data directory %s (store %s): %w on %s", dir, st.Kind(), ErrInitialized, v)
	}
	res := &InitResult{DataDir: dir, AdminName: "admin", AdminPassword: opts.AdminPassword}
	if res.AdminPassword == "" {
		res.AdminPassword, res.PasswordGenerated = rand.Text(), true
	}
	hash, err := auth.HashPassword(res.AdminPassword)
	if err != nil {
		return nil, err
	}
	adm := &ferry.Admin{Name: res.AdminName, PasswordHash: hash, Role: ferry.RoleFull, Status: ferry.StatusActive,
		Description: "created by ferry init"}
	if err := st.CreateAdmin(ctx, adm); err != nil && !errors.Is(err, ferry.ErrExists) {
		return nil, err
	}
	if opts.DefaultServices {
		for _, svc := range DefaultServices() {
			err := st.CreateService(ctx, &svc)
			if errors.Is(err, ferry.ErrExists) {
				continue
			}
			if err != nil {
				return nil, err
			}
			res.Services = append(res.Services, svc)
		}
	}
	if err := st.SetSetting(ctx, settingInitialized, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return nil, err
	}
	return res, nil
}

// isInitialized is a cheap check that avoids creating anything.
func isInitialized(ctx context.Context, cfg *config.Config) bool {
	if !isPostgres(cfg.Store.DSN) {
		if _, err := os.Stat(sqlitePath(cfg.Store.DSN)); err != nil {
			return false
		}
	}
	st, err := store.Open(ctx, store.Options{DSN: cfg.Store.DSN})
	if err != nil {
		return false // Open in the caller reports the real error
	}
	defer st.Close()
	v, err := st.GetSetting(ctx, settingInitialized)
	return err == nil && v != ""
}

func isPostgres(dsn string) bool {
	return len(dsn) > 11 && (dsn[:11] == "postgres://" || len(dsn) > 13 && dsn[:13] == "postgresql://")
}

func sqlitePath(dsn string) string {
	if len(dsn) > 7 && dsn[:7] == "sqlite:" {
		return dsn[7:]
	}
	return dsn
}
