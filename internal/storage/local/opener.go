package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
)

// OpenerOptions configure an Opener.
type OpenerOptions struct {
	// Umask is passed to every FS the Opener opens.
	Umask fs.FileMode
	// DirMode is the mode of home directories the Opener creates, and of
	// their missing parents; 0 means 0o750. The process umask applies, Umask
	// does not.
	DirMode fs.FileMode
}

// Opener opens a local FS on each user's home directory.
type Opener struct {
	umask   fs.FileMode
	dirMode fs.FileMode
}

var _ storage.Opener = (*Opener)(nil)

// NewOpener returns an Opener. A Umask with bits outside 0o777 makes every
// OpenFS fail, as it makes New fail.
func NewOpener(opts OpenerOptions) *Opener {
	if opts.DirMode == 0 {
		opts.DirMode = 0o750
	}
	return &Opener{umask: opts.Umask, dirMode: opts.DirMode}
}

// OpenFS opens an FS confined to home, which must be an absolute path. When
// create is true a missing home is created with its parents.
func (o *Opener) OpenFS(ctx context.Context, home string, create bool) (storage.FS, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("local: home %q: %w", home, err)
	}
	if !filepath.IsAbs(home) {
		return nil, fmt.Errorf("local: home %q: must be an absolute path: %w", home, ferry.ErrInvalid)
	}
	if create {
		if err := os.MkdirAll(home, o.dirMode); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path != home {
				return nil, fmt.Errorf("local: create home %q: %s: %w", home, pe.Path, classify(pe.Err))
			}
			return nil, fmt.Errorf("local: create home %q: %w", home, classify(err))
		}
	}
	fsys, err := New(Options{Root: home, Umask: o.umask})
	if err != nil {
		return nil, err
	}
	return fsys, nil
}
