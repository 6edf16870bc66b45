package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ferrymft/ferry/internal/remote"
)

// moveInto moves the source file from to to on f (archiving it); local
// says f is the local file system. A local rename that crosses file
// systems (EXDEV: the archive on another disk) is done as a copy instead:
// see moveAcross.
func (r *Runner) moveInto(ctx context.Context, f remote.FS, local bool, from, to string) error {
	rename := f.Rename
	if r.renameHook != nil {
		rename = func(ctx context.Context, from, to string) error {
			if err := r.renameHook(from, to); err != nil {
				return err
			}
			return f.Rename(ctx, from, to)
		}
	}
	err := rename(ctx, from, to)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	if fo, ok := f.(*failoverFS); ok {
		// a backup standing in for the location: its own paths
		local, from, to = fo.to.Scheme == "file", fo.p(from), fo.p(to)
	}
	if !local {
		return err
	}
	return moveAcross(from, to)
}

// moveAcross moves the local file from to to on another file system: it
// copies from to a hidden name beside to (".NAME.ferry-part", skipped by
// listings and replaced by a retry), syncs it, renames it into place and
// syncs the folder, and only then removes from. A failure at any step
// leaves from as it was and nothing under to's name.
func moveAcross(from, to string) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("move %s across file systems: not a regular file", from)
	}
	dir := filepath.Dir(to)
	tmp := filepath.Join(dir, "."+filepath.Base(to)+DefaultTempSuffix)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("move %s across file systems: %w", from, err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	n, err := io.Copy(out, in)
	if err == nil && n != fi.Size() {
		err = fmt.Errorf("copied %d bytes of %d (the file changed)", n, fi.Size())
	}
	if err == nil {
		err = out.Sync()
	}
	if err == nil {
		err = out.Close()
	}
	if err == nil {
		err = os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
	}
	if err == nil {
		err = os.Rename(tmp, to)
	}
	if err != nil {
		return fmt.Errorf("move %s across file systems to %s: %w", from, to, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		derr = d.Sync()
		d.Close()
		if derr != nil {
			return fmt.Errorf("move %s across file systems: sync %s: %w", from, dir, derr)
		}
	}
	if err := os.Remove(from); err != nil {
		return fmt.Errorf("move %s across file systems: copied to %s, but the source stays: %w", from, to, err)
	}
	return nil
}
