package core

import (
	"context"
	"fmt"
	"io"
	"path"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
)

// quotaActive reports whether the account's usage is tracked: only users
// with a quota pay for the bookkeeping.
func (s *Session) quotaActive() bool {
	pol := s.view().pol
	return s.eng.opts.Usage != nil && (ferry.Int64(pol.QuotaBytes) > 0 || ferry.Int64(pol.QuotaFiles) > 0)
}

// usage returns the user's usage, loading it (and rescanning a home that
// was never scanned) on first use.
func (s *Session) usage(ctx context.Context) (bytes, files int64, err error) {
	st := s.st
	st.usageMu.Lock()
	defer st.usageMu.Unlock()
	if !st.loaded {
		b, f, scanned, err := s.eng.opts.Usage.GetUsage(ctx, st.name)
		if err != nil {
			return 0, 0, err
		}
		if !scanned {
			if b, f, err = s.scanHome(ctx); err != nil {
				return 0, 0, err
			}
			if err := s.eng.opts.Usage.SetUsage(ctx, st.name, b, f, s.eng.now()); err != nil {
				return 0, 0, err
			}
		}
		st.bytes, st.files, st.loaded = b, f, true
	}
	return st.bytes, st.files, nil
}

// addUsage records a change in the user's files when quotas apply.
func (s *Session) addUsage(ctx context.Context, bytes, files int64) {
	if !s.quotaActive() || bytes == 0 && files == 0 {
		return
	}
	if _, _, err := s.usage(ctx); err != nil {
		s.log.Warn("quota usage", "err", err)
		return
	}
	s.st.usageMu.Lock()
	s.st.bytes += bytes
	s.st.files += files
	s.st.usageMu.Unlock()
	if err := s.eng.opts.Usage.AddUsage(context.WithoutCancel(ctx), s.st.name, bytes, files); err != nil {
		s.log.Warn("quota usage", "err", err)
	}
}

// uploadLimit returns the size an upload may grow to (-1: no limit) given
// the size of the file it replaces (-1: a new file), or a quota error.
func (s *Session) uploadLimit(ctx context.Context, vp string, existing int64) (int64, error) {
	pol := s.view().pol
	limit := int64(-1)
	if m := ferry.Int64(pol.MaxFileSize); m > 0 {
		limit = m
	}
	if err := s.checkFreeSpace(ctx, vp); err != nil {
		return 0, err
	}
	if !s.quotaActive() {
		return limit, nil
	}
	bytes, files, err := s.usage(ctx)
	if err != nil {
		return 0, fmt.Errorf("core: quota of %q: %w", s.st.name, err)
	}
	if q := ferry.Int64(pol.QuotaFiles); q > 0 && existing < 0 && files >= q {
		return 0, fmt.Errorf("core: upload %q: file quota of %d files reached: %w", vp, q, ferry.ErrQuota)
	}
	if q := ferry.Int64(pol.QuotaBytes); q > 0 {
		remaining := q - bytes + max(existing, 0)
		if remaining <= 0 {
			return 0, fmt.Errorf("core: upload %q: quota of %d bytes reached: %w", vp, q, ferry.ErrQuota)
		}
		if limit < 0 || remaining < limit {
			limit = remaining
		}
	}
	return limit, nil
}

func (s *Session) checkFreeSpace(ctx context.Context, vp string) error {
	minFree := s.eng.opts.MinFreePercent
	sf, ok := s.fs.(storage.StatFSer)
	if minFree <= 0 || !ok {
		return nil
	}
	u, err := sf.StatFS(ctx, ".")
	if err != nil || u.Total == 0 {
		return nil
	}
	if free := u.Avail * 100 / u.Total; free < uint64(minFree) {
		return fmt.Errorf("core: upload %q: storage has %d%% free, uploads need %d%%: %w", vp, free, minFree, ferry.ErrQuota)
	}
	return nil
}

// scanHome counts the home without the mounted folders.
func (s *Session) scanHome(ctx context.Context) (int64, int64, error) {
	u := s.view().user
	home, err := s.eng.storage.OpenFS(ctx, u.Home, false)
	if err != nil {
		return 0, 0, err
	}
	defer home.Close()
	return scanUsage(ctx, home)
}

// Rescan walks a user's home and records its usage.
func (e *Engine) Rescan(ctx context.Context, user string) (bytes, files int64, err error) {
	if e.opts.Usage == nil {
		return 0, 0, fmt.Errorf("core: rescan: no usage store")
	}
	u, err := e.users.GetUser(ctx, user)
	if err != nil {
		return 0, 0, err
	}
	fsys, err := e.storage.OpenFS(ctx, u.Home, e.create)
	if err != nil {
		return 0, 0, err
	}
	defer fsys.Close()
	if bytes, files, err = scanUsage(ctx, fsys); err != nil {
		return 0, 0, err
	}
	return bytes, files, e.opts.Usage.SetUsage(ctx, user, bytes, files, e.now())
}

// scanUsage sums the regular files under the root, iteratively and in
// bounded batches.
func scanUsage(ctx context.Context, fsys storage.FS) (bytes, files int64, err error) {
	dirs := []string{"."}
	for len(dirs) > 0 {
		dir := dirs[len(dirs)-1]
		dirs = dirs[:len(dirs)-1]
		d, err := fsys.OpenDir(ctx, dir)
		if err != nil {
			return 0, 0, fmt.Errorf("scan %q: %w", dir, err)
		}
		for {
			batch, rerr := d.Readdir(listBatch)
			for _, fi := range batch {
				switch {
				case fi.IsDir():
					dirs = append(dirs, path.Join(dir, fi.Name()))
				case fi.Mode().IsRegular() && !isPartialName(fi.Name()):
					bytes += fi.Size()
					files++
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				d.Close()
				return 0, 0, fmt.Errorf("scan %q: %w", dir, rerr)
			}
		}
		d.Close()
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
	}
	return bytes, files, nil
}
