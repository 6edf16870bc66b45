// Package cli is the ferry command line: it parses flags, loads the
// configuration and calls app. Every command takes --data-dir (env
// FERRY_DATA_DIR) and --config (env FERRY_CONFIG). Exit codes: 0 success,
// 1 runtime failure, 2 usage or validation error.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferrymft/ferry/internal/app"
	"github.com/ferrymft/ferry/internal/config"
	"github.com/ferrymft/ferry/internal/ferry"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// usageError marks errors that exit with code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// env carries the process streams and global flags to commands.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	dataDir        string
	configPath     string
}

// Main runs the ferry command with args and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "ferry: "+oneLine(err))
	if isUsage(err) {
		return ExitUsage
	}
	return ExitFailure
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue) || errors.Is(err, ferry.ErrInvalid) || errors.Is(err, config.ErrInvalid) ||
		errors.Is(err, ferry.ErrExists) || errors.Is(err, ferry.ErrNotFound)
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "ferry",
		Short:         "Ferry: a managed file transfer server and client in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       app.Version,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%s: %v (see '%s --help')", c.CommandPath(), err, c.CommandPath())
	})
	pf := root.PersistentFlags()
	pf.StringVar(&e.dataDir, "data-dir", "", "data directory (env FERRY_DATA_DIR, default ./ferry-data)")
	pf.StringVar(&e.configPath, "config", "", "configuration file (env FERRY_CONFIG, default <data-dir>/ferry.yaml when present)")
	root.AddCommand(newInitCmd(e), newServeCmd(e), newUserCmd(e), newGroupCmd(e), newAdminCmd(e),
		newServiceCmd(e), newWhoCmd(e), newKickCmd(e), newReloadCmd(e), newStatusCmd(e),
		newConfigCmd(e), newVersionCmd(e), newBanCmd(e), newFolderCmd(e))
	root.AddCommand(newCopyCmds(e)...)
	root.AddCommand(newRuleCmd(e), newOutboxCmd(e))
	root.AddCommand(newProxyCmd(e))
	root.AddCommand(newLocationCmd(e), newTransferCmd(e))
	// Unknown subcommands are usage errors too.
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q (see 'ferry --help')", args[0])
		}
		return nil
	}
	root.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	root.PersistentPostRunE = e.recordAudit
	return root
}

// noArgs and exactArgs return usage errors naming the command.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: expected %s, got %d argument(s)", c.CommandPath(), names, len(args))
		}
		return nil
	}
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s: unexpected argument %q", c.CommandPath(), args[0])
	}
	return nil
}

// loadConfig resolves the data directory and configuration file.
func (e *env) loadConfig() (*config.Config, error) {
	dataDir := cmpOr(e.dataDir, e.getenv("FERRY_DATA_DIR"))
	path := cmpOr(e.configPath, e.getenv("FERRY_CONFIG"))
	cfg := &config.Config{}
	if path == "" {
		candidate := filepath.Join(cmpOr(dataDir, "ferry-data"), "ferry.yaml")
		if _, err := os.Stat(candidate); err == nil {
			path = candidate
		}
	}
	if path != "" {
		c, err := config.Load(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, usagef("config file %s does not exist", path)
			}
			return nil, err
		}
		cfg = c
	}
	if err := cfg.ApplyDefaults(dataDir); err != nil {
		return nil, err
	}
	return cfg, nil
}

// openApp loads the configuration and opens the app, initialising a new
// data directory first (and saying so).
func (e *env) openApp(ctx context.Context) (*app.App, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	a, init, err := app.Open(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	if init != nil {
		printInit(e.stderr, init)
	}
	return a, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(e.stdout, "ferry", app.Version)
			return nil
		},
	}
}
