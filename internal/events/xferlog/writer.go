package xferlog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Rotation says when a log file is renamed aside.
type Rotation struct {
	MaxSize int64 // bytes; 0: no size limit
	Daily   bool  // at the first write of a new local day
	Keep    int   // rotated files kept, newest first; 0: all
}

// Options configure a Log.
type Options struct {
	Format string // xferlog, clf, w3c, json or audit
	// Path is a file, "stdout" or "syslog".
	Path     string
	Rotate   Rotation
	Software string // W3C #Software, e.g. "Ferry 1.2.0"
	Logger   *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Log writes events as lines to one destination. Handle is its bus
// handler; it is safe for concurrent use.
type Log struct {
	f   Formatter
	out lineWriter
	log *slog.Logger
}

type lineWriter interface {
	WriteLine(line []byte) error
	io.Closer
}

// Open opens the destination (creating a file's directory).
func Open(opts Options) (*Log, error) {
	f, err := NewFormatter(opts.Format, cmp.Or(opts.Software, "Ferry"))
	if err != nil {
		return nil, err
	}
	l := &Log{f: f, log: cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	switch opts.Path {
	case "":
		return nil, errors.New("transfer log: empty path (a file, stdout or syslog)")
	case "stdout":
		l.out = &streamWriter{w: os.Stdout, f: f, now: now}
	case "syslog":
		w, err := syslog.New(syslog.LOG_INFO|syslog.LOG_FTP, "ferry")
		if err != nil {
			return nil, fmt.Errorf("transfer log: syslog: %w", err)
		}
		l.out = syslogWriter{w}
	default:
		fw, err := openFile(opts.Path, opts.Rotate, f, now)
		if err != nil {
			return nil, err
		}
		l.out = fw
	}
	return l, nil
}

// Handle writes ev when the format records it.
func (l *Log) Handle(_ context.Context, ev ferry.Event) {
	line, ok := l.f.Line(ev)
	if !ok {
		return
	}
	if err := l.out.WriteLine(line); err != nil {
		l.log.Error("transfer log write failed", "err", err)
	}
}

// Close closes the destination.
func (l *Log) Close() error { return l.out.Close() }

// streamWriter writes to stdout; the W3C header goes first.
type streamWriter struct {
	mu      sync.Mutex
	w       io.Writer
	f       Formatter
	now     func() time.Time
	started bool
}

func (s *streamWriter) WriteLine(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		if h := s.f.Header(s.now()); h != nil {
			if _, err := s.w.Write(append(h, '\n')); err != nil {
				return err
			}
		}
	}
	_, err := s.w.Write(append(line, '\n'))
	return err
}

func (s *streamWriter) Close() error { return nil }

type syslogWriter struct{ w *syslog.Writer }

func (s syslogWriter) WriteLine(line []byte) error { return s.w.Info(string(line)) }
func (s syslogWriter) Close() error                { return s.w.Close() }

// fileWriter appends to a file and rotates it: the current file is
// renamed to PATH.YYYYMMDD-HHMMSS (local time of the rotation) and a new
// one started; beyond Keep, the oldest rotated files are removed.
type fileWriter struct {
	mu   sync.Mutex
	path string
	rot  Rotation
	fmt  Formatter
	now  func() time.Time
	f    *os.File
	size int64
	day  string // local date of the file's first line
}

func openFile(path string, rot Rotation, f Formatter, now func() time.Time) (*fileWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("transfer log: %w", err)
	}
	w := &fileWriter{path: path, rot: rot, fmt: f, now: now}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *fileWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("transfer log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("transfer log: %w", err)
	}
	w.f, w.size = f, fi.Size()
	w.day = fi.ModTime().Format("2006-01-02")
	if w.size == 0 {
		w.day = w.now().Format("2006-01-02")
	}
	return nil
}

func (w *fileWriter) WriteLine(line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return errors.New("transfer log: closed")
	}
	now := w.now()
	line = append(line, '\n')
	if w.size > 0 && (w.rot.MaxSize > 0 && w.size+int64(len(line)) > w.rot.MaxSize ||
		w.rot.Daily && now.Format("2006-01-02") != w.day) {
		if err := w.rotate(now); err != nil {
			return err
		}
	}
	if w.size == 0 {
		if h := w.fmt.Header(now); h != nil {
			line = append(append(h, '\n'), line...)
		}
		w.day = now.Format("2006-01-02")
	}
	n, err := w.f.Write(line)
	w.size += int64(n)
	return err
}

func (w *fileWriter) rotate(now time.Time) error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("transfer log: %w", err)
	}
	w.f = nil
	name := w.path + "." + now.Format("20060102-150405")
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%s.%s.%d", w.path, now.Format("20060102-150405"), i)
	}
	if err := os.Rename(w.path, name); err != nil {
		return fmt.Errorf("transfer log: rotate: %w", err)
	}
	if err := w.open(); err != nil {
		return err
	}
	return w.prune()
}

// Rotated lists a log's rotated files, oldest first.
func Rotated(path string) ([]string, error) {
	matches, err := filepath.Glob(globEscape(path) + ".[0-9]*")
	if err != nil {
		return nil, err
	}
	// Names sort by time; a ".N" suffix sorts after its base name.
	slices.SortFunc(matches, func(a, b string) int {
		return cmp.Compare(rotKey(path, a), rotKey(path, b))
	})
	return matches, nil
}

func rotKey(path, name string) string {
	stamp, n, _ := strings.Cut(strings.TrimPrefix(name, path+"."), ".")
	return fmt.Sprintf("%s.%09s", stamp, n)
}

func globEscape(p string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(p)
}

func (w *fileWriter) prune() error {
	if w.rot.Keep <= 0 {
		return nil
	}
	old, err := Rotated(w.path)
	if err != nil {
		return err
	}
	for len(old) > w.rot.Keep {
		if err := os.Remove(old[0]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("transfer log: retention: %w", err)
		}
		old = old[1:]
	}
	return nil
}

func (w *fileWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
