package core

import (
	"context"
	"fmt"
	"io"
	"path"
	"sync"

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

// usageCount is the cached usage of a virtual folder, shared by every
// session that mounts it.
type usageCount struct {
	mu           sync.Mutex
	loaded       bool
	bytes, files int64
}

// folderKey is the usage store's key of a folder (user names cannot hold
// ':').
func folderKey(name string) string { return "folder:" + name }

// folderUsage returns a folder's usage, loading it (and scanning a folder
// never scanned) on first use.
func (s *Session) folderUsage(ctx context.Context, f *ferry.Folder) (*usageCount, error) {
	e := s.eng
	e.folderMu.Lock()
	c, ok := e.folderUsage[f.Name]
	if !ok {
		c = &usageCount{}
		e.folderUsage[f.Name] = c
	}
	e.folderMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return c, nil
	}
	b, n, scanned, err := e.opts.Usage.GetUsage(ctx, folderKey(f.Name))
	if err != nil {
		return nil, err
	}
	if !scanned {
		fsys, err := e.storage.OpenFS(ctx, f.Path, false)
		if err != nil {
			return nil, err
		}
		b, n, err = scanUsage(ctx, fsys)
		fsys.Close()
		if err != nil {
			return nil, err
		}
		if err := e.opts.Usage.SetUsage(ctx, folderKey(f.Name), b, n, e.now()); err != nil {
			return nil, err
		}
	}
	c.bytes, c.files, c.loaded = b, n, true
	return c, nil
}

// folderQuota reports whether a folder's usage is tracked.
func (s *Session) folderQuota(f *ferry.Folder) bool {
	return f != nil && s.eng.opts.Usage != nil && (f.QuotaBytes > 0 || f.QuotaFiles > 0)
}

// recordUsage books a change of a file at storage name against whoever
// holds it: the folder it lies in, or the user.
func (s *Session) recordUsage(ctx context.Context, name string, bytes, files int64) {
	f := s.folderOf(name)
	if f == nil {
		s.addUsage(ctx, bytes, files)
		return
	}
	if !s.folderQuota(f) || bytes == 0 && files == 0 {
		return
	}
	c, err := s.folderUsage(ctx, f)
	if err != nil {
		s.log.Warn("folder quota usage", "folder", f.Name, "err", err)
		return
	}
	c.mu.Lock()
	c.bytes += bytes
	c.files += files
	c.mu.Unlock()
	if err := s.eng.opts.Usage.AddUsage(context.WithoutCancel(ctx), folderKey(f.Name), bytes, files); err != nil {
		s.log.Warn("folder quota usage", "folder", f.Name, "err", err)
	}
}

// uploadLimit returns the size an upload to storage name may grow to (-1:
// no limit) given the size of the file it replaces (-1: a new file), or a
// quota error. A file in a virtual folder counts against the folder's
// quota, any other against the user's.
func (s *Session) uploadLimit(ctx context.Context, vp, name string, existing int64) (int64, error) {
	pol := s.view().pol
	limit := int64(-1)
	if m := ferry.Int64(pol.MaxFileSize); m > 0 {
		limit = m
	}
	if err := s.checkFreeSpace(ctx, vp); err != nil {
		return 0, err
	}
	var bytes, files, qBytes, qFiles int64
	var owner string
	if f := s.folderOf(name); f != nil {
		if !s.folderQuota(f) {
			return limit, nil
		}
		c, err := s.folderUsage(ctx, f)
		if err != nil {
			return 0, fmt.Errorf("core: quota of folder %q: %w", f.Name, err)
		}
		c.mu.Lock()
		bytes, files = c.bytes, c.files
		c.mu.Unlock()
		qBytes, qFiles, owner = f.QuotaBytes, f.QuotaFiles, "folder "+f.Name
	} else {
		if !s.quotaActive() {
			return limit, nil
		}
		var err error
		if bytes, files, err = s.usage(ctx); err != nil {
			return 0, fmt.Errorf("core: quota of %q: %w", s.st.name, err)
		}
		qBytes, qFiles, owner = ferry.Int64(pol.QuotaBytes), ferry.Int64(pol.QuotaFiles), "user "+s.st.name
	}
	if qFiles > 0 && existing < 0 && files >= qFiles {
		return 0, fmt.Errorf("core: upload %q: file quota of %d files of %s reached: %w", vp, qFiles, owner, ferry.ErrQuota)
	}
	if qBytes > 0 {
		remaining := qBytes - bytes + max(existing, 0)
		if remaining <= 0 {
			return 0, fmt.Errorf("core: upload %q: quota of %d bytes of %s reached: %w", vp, qBytes, owner, ferry.ErrQuota)
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
	home, err := e.Home(ctx, user)
	if err != nil {
		return 0, 0, err
	}
	fsys, err := e.storage.OpenFS(ctx, home, e.create)
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
