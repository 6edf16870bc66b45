package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/ferrymft/ferry/internal/ferry"
)

var (
	// errEscape reports a name that would leave the root.
	errEscape = fmt.Errorf("path escapes from root: %w", fs.ErrPermission)
	// errEmptyName reports an empty name; the root itself is ".".
	errEmptyName = fmt.Errorf("empty name: %w", fs.ErrInvalid)
	// errNotDir reports a file opened as a directory.
	errNotDir = kindError{ferry.ErrNotDir, syscall.ENOTDIR}
)

// osEscapeText is the text of the unexported error os.Root returns when a
// name or a symbolic link leaves the root. The conformance suite's symlink
// tests fail if a Go release changes it.
const osEscapeText = "path escapes from parent"

// kindError adds a domain sentinel to an os error; errors.Is matches both.
type kindError struct {
	kind error
	err  error
}

func (e kindError) Error() string   { return e.err.Error() }
func (e kindError) Unwrap() []error { return []error{e.kind, e.err} }

// check refuses work on a cancelled context and names that os.Root would
// accept but the storage contract does not: empty, absolute, or with a ".."
// element even when it stays inside.
func check(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return checkName(name)
}

func checkName(name string) error {
	if name == "" {
		return errEmptyName
	}
	if isAbs(name) {
		return errEscape
	}
	for elem := range strings.FieldsFuncSeq(name, isSep) {
		if elem == ".." {
			return errEscape
		}
	}
	return nil
}

// wrap names the operation and the name; it returns nil for a nil err.
func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("local: %s %q: %w", op, name, classify(err))
}

// wrap2 is wrap for operations on two names.
func wrap2(op, oldname, newname string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("local: %s %q to %q: %w", op, oldname, newname, classify(err))
}

// classify drops the os.PathError or os.LinkError (wrap already names the
// operation and the names) and adds the domain meaning of the cause.
func classify(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	var ke kindError
	switch {
	case errors.As(err, &ke):
		return err
	case err.Error() == osEscapeText:
		return errEscape
	case errors.Is(err, syscall.EISDIR):
		return kindError{ferry.ErrIsDir, err}
	case errors.Is(err, syscall.ENOTDIR):
		return kindError{ferry.ErrNotDir, err}
	}
	return err
}

// isNotEmpty reports the error rmdir gives for a directory with entries;
// POSIX allows EEXIST as well as ENOTEMPTY.
func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}
