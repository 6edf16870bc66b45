package exec_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/events/exec"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunEnvStdinOutput(t *testing.T) {
	t.Parallel()
	r := exec.New(exec.Options{Logger: ferrytest.Logger(t)})
	sh := script(t, `echo "$FERRY_USER $1 $(cat)"; echo oops >&2; test -z "$HOME"`)
	res := r.Run(t.Context(), exec.Job{Name: "t", Argv: []string{sh, "arg"}, Env: []string{"FERRY_USER=alice"}, Stdin: []byte("in")})
	if res.Err != nil {
		t.Fatalf("run: %v (%s)", res.Err, res.Output)
	}
	if got := string(res.Output); !strings.Contains(got, "alice arg in\n") || !strings.Contains(got, "oops") {
		t.Errorf("output = %q", got)
	}
}

func TestRunTimeoutAndExitStatus(t *testing.T) {
	t.Parallel()
	r := exec.New(exec.Options{})
	res := r.Run(t.Context(), exec.Job{Name: "slow", Argv: []string{script(t, "exec sleep 30")}, Timeout: 50 * time.Millisecond})
	if !errors.Is(res.Err, exec.ErrTimeout) {
		t.Errorf("slow command: %v, want ErrTimeout", res.Err)
	}
	res = r.Run(t.Context(), exec.Job{Name: "fail", Argv: []string{script(t, "exit 3")}})
	var ee interface{ ExitCode() int }
	if !errors.As(res.Err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit 3: %v", res.Err)
	}
	if res := r.Run(t.Context(), exec.Job{Name: "missing", Argv: []string{"/nonexistent/prog"}}); res.Err == nil {
		t.Error("a missing program succeeded")
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	lock := filepath.Join(t.TempDir(), "lock")
	// Fails when another instance holds the lock directory.
	sh := script(t, `mkdir "$1" || exit 1; sleep 0.05; rmdir "$1"`)
	r := exec.New(exec.Options{MaxConcurrent: 1})
	var mu sync.Mutex
	var errs []error
	for range 4 {
		r.Start(t.Context(), exec.Job{Name: "one-at-a-time", Argv: []string{sh, lock}}, func(res exec.Result) {
			mu.Lock()
			errs = append(errs, res.Err)
			mu.Unlock()
		})
	}
	r.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("two commands ran at once despite MaxConcurrent 1: %v", err)
		}
	}
	if len(errs) != 4 {
		t.Errorf("%d results, want 4", len(errs))
	}
}
