// Package exec runs event rules' commands: argv (never a shell string),
// the event in FERRY_* environment variables and as JSON on stdin, a
// timeout, a limit on how many run at once, and the output captured into
// the log. Only events/hooks and app import it.
package exec

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	osexec "os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure a Runner.
type Options struct {
	// MaxConcurrent bounds the commands running at once (default 8).
	MaxConcurrent int
	// Timeout is the default run time allowed (default 30s).
	Timeout time.Duration
	// MaxOutput bounds the output kept for the log (default 64 KiB).
	MaxOutput int
	// Logger receives one line per run with the output.
	Logger *slog.Logger
}

// Runner runs commands with bounded concurrency.
type Runner struct {
	sem     chan struct{}
	timeout time.Duration
	maxOut  int
	log     *slog.Logger
	wg      sync.WaitGroup
}

// New returns a Runner.
func New(opts Options) *Runner {
	return &Runner{
		sem:     make(chan struct{}, cmp.Or(opts.MaxConcurrent, 8)),
		timeout: cmp.Or(opts.Timeout, 30*time.Second),
		maxOut:  cmp.Or(opts.MaxOutput, 64<<10),
		log:     cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
	}
}

// Job is one command to run.
type Job struct {
	Name    string   // the rule, for the log
	Argv    []string // absolute program path and its arguments
	Env     []string // added to PATH (the only variable inherited)
	Stdin   []byte
	Timeout time.Duration // 0: the runner's default
}

// Result is how a run ended.
type Result struct {
	Output   []byte // stdout and stderr, interleaved, truncated to MaxOutput
	Duration time.Duration
	Err      error // nil on exit status 0
}

// ErrTimeout marks a command killed because it ran past its timeout.
var ErrTimeout = errors.New("timed out")

// Run waits for a free slot (or ctx), runs the job to completion and logs
// its output.
func (r *Runner) Run(ctx context.Context, j Job) Result {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{Err: fmt.Errorf("exec %s: waiting for a free slot: %w", j.Name, ctx.Err())}
	}
	defer func() { <-r.sem }()
	return r.run(ctx, j)
}

// Start waits for a free slot (or ctx) and runs the job in the background,
// so a caller feeding many jobs is held back once MaxConcurrent run. done,
// when not nil, receives the result.
func (r *Runner) Start(ctx context.Context, j Job, done func(Result)) {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		if done != nil {
			done(Result{Err: fmt.Errorf("exec %s: waiting for a free slot: %w", j.Name, ctx.Err())})
		}
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { <-r.sem }()
		res := r.run(ctx, j)
		if done != nil {
			done(res)
		}
	}()
}

// Wait waits for the commands started with Start.
func (r *Runner) Wait() { r.wg.Wait() }

func (r *Runner) run(ctx context.Context, j Job) Result {
	if len(j.Argv) == 0 {
		return Result{Err: fmt.Errorf("exec %s: empty command", j.Name)}
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(j.Timeout, r.timeout))
	defer cancel()
	start := time.Now()
	var out *capped
	var err error
	// A script written a moment ago may still be open for writing in a
	// process forked meanwhile (ETXTBSY, "text file busy"): that clears
	// in milliseconds, so try again a few times.
	for attempt := 0; ; attempt++ {
		cmd := osexec.CommandContext(ctx, j.Argv[0], j.Argv[1:]...)
		cmd.Env = append([]string{"PATH=" + cmp.Or(os.Getenv("PATH"), "/usr/local/bin:/usr/bin:/bin")}, j.Env...)
		cmd.Stdin = bytes.NewReader(j.Stdin)
		out = &capped{max: r.maxOut}
		cmd.Stdout, cmd.Stderr = out, out
		cmd.Dir = "/"
		// A child that keeps the output pipe open must not hold us forever.
		cmd.WaitDelay = time.Second
		err = cmd.Run()
		if !errors.Is(err, syscall.ETXTBSY) || attempt == 5 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
	res := Result{Output: out.buf.Bytes(), Duration: time.Since(start)}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = ErrTimeout
		}
		res.Err = fmt.Errorf("exec %s: %s: %w", j.Name, j.Argv[0], err)
	}
	log := r.log.With("rule", j.Name, "command", j.Argv[0], "duration", res.Duration.Round(time.Millisecond))
	text := strings.TrimRight(string(res.Output), "\n")
	if res.Err != nil {
		log.Warn("hook command failed", "err", res.Err, "output", text)
	} else {
		log.Info("hook command ran", "output", text)
	}
	return res
}

// capped keeps the first max bytes written and counts the rest.
type capped struct {
	buf     bytes.Buffer
	max     int
	dropped int
	mu      sync.Mutex
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - c.buf.Len()
	if room >= len(p) {
		c.buf.Write(p)
	} else {
		if room > 0 {
			c.buf.Write(p[:room])
		}
		c.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}
