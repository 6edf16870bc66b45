package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/remote"
)

// A move (delete source, or archive it) writes the file's history row as
// ferry.TransferRemoving before the source goes, then its outcome. A crash
// in between leaves that row; the transfer's next run completes it
// (finishMoves) before it lists the source, so each moved file has
// exactly one row and is neither sent again nor lost.

// moves reports whether t removes or archives the files it copied.
func moves(t *ferry.Transfer) bool { return t.DeleteSource || t.ArchiveTo != "" }

// move records the copied file c as being removed, then removes or
// archives its source; a failure is put in res.Err. It returns the row
// written (nil when none was), and crashed when the move stopped between
// the two steps (the test hook, or a pause): the row is left "removing".
func (r *Runner) move(ctx context.Context, t *ferry.Transfer, cp *Copier, c candidate, res *Result, start time.Time) (*ferry.TransferRecord, bool) {
	rec := record(t, *res, start)
	rec.Status = ferry.TransferRemoving
	rec.SourceRel = path.Join(c.rel, c.e.Name) // to find it again, see pendingSource
	if err := r.o.Store.AddTransferRecord(context.WithoutCancel(ctx), rec); err != nil {
		res.Err = fmt.Errorf("%s: copied, but not recorded in the history, so the source stays: %w", c.loc, err)
		return nil, false
	}
	if r.crashAfterRecord != nil && r.crashAfterRecord(res.Src) {
		return rec, true
	}
	res.Err = r.dispose(ctx, t, cp, c)
	if res.Err != nil && ctx.Err() != nil {
		// Paused or stopping: the row stays "removing" and the next run
		// completes the move, rather than sending the file again.
		res.Err = fmt.Errorf("%s: interrupted (paused or stopping) after its copy; the next run removes the source: %w", c.loc, res.Err)
		return rec, true
	}
	return rec, false
}

// dispose removes or archives a copied source file.
func (r *Runner) dispose(ctx context.Context, t *ferry.Transfer, cp *Copier, c candidate) error {
	if t.ArchiveTo != "" {
		if err := r.archive(ctx, t, cp, c, t.ArchiveTo); err != nil {
			return fmt.Errorf("copied, but archiving failed: %w", err)
		}
		return nil
	}
	f, err := cp.Source(ctx, c.loc)
	if err == nil {
		err = f.Remove(ctx, c.loc.Path)
	}
	if err != nil {
		return fmt.Errorf("%s: copied, but removing the source failed: %w", c.loc, err)
	}
	return nil
}

// finishMoves completes t's moves that a crash cut short: a source still
// there with the recorded size is removed (or archived) now; one gone or
// changed since (a new upload under the name is not the file recorded)
// is left alone. Each row then gets its outcome.
func (r *Runner) finishMoves(ctx context.Context, t *ferry.Transfer, cp *Copier, src remote.Location) {
	if !moves(t) {
		return
	}
	pending, err := r.o.Store.PendingTransferRecords(ctx, t.Name)
	if err != nil {
		r.o.Logger.Warn("transfer: cannot read moves cut short; the next run tries again", "transfer", t.Name, "err", err)
		return
	}
	for _, rec := range pending {
		c, there, err := r.pendingSource(ctx, t, cp, src, rec)
		if err != nil {
			// Each run tries again; the same row is logged once.
			lvl := slog.LevelDebug
			if r.firstWarning(rec.ID) {
				lvl = slog.LevelWarn
			}
			r.o.Logger.Log(ctx, lvl, "transfer: a move cut short cannot be completed; each run tries again",
				"transfer", t.Name, "file", rec.Source, "history_id", rec.ID, "err", err)
			continue
		}
		rec.Status = ferry.TransferOK
		if there {
			if err := r.dispose(ctx, t, cp, c); err != nil {
				rec.Status, rec.Error = ferry.TransferFailed, err.Error()
			}
		}
		if err := r.o.Store.UpdateTransferRecord(context.WithoutCancel(ctx), &rec); err != nil {
			r.o.Logger.Warn("transfer: a move cut short not updated", "transfer", t.Name, "file", rec.Source, "err", err)
			continue
		}
		r.o.Logger.Info("transfer: completed a move cut short", "transfer", t.Name, "file", rec.Source,
			"source_removed_now", there, "status", rec.Status)
		ev := ferry.Event{Type: ferry.EventTransferSucceeded, Time: r.o.Now(), Path: rec.Source, Target: rec.Dest,
			Size: rec.Bytes, Detail: t.Name, Status: "ok", SHA256: rec.SHA256}
		if rec.Status != ferry.TransferOK {
			ev.Type, ev.Status = ferry.EventTransferFailed, rec.Error
		}
		r.o.Publish(ev)
	}
}

// firstWarning reports whether the history row id has not been warned
// about yet (in this process), and remembers it.
func (r *Runner) firstWarning(id int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.warned == nil {
		r.warned = map[int64]bool{}
	}
	if r.warned[id] {
		return false
	}
	r.warned[id] = true
	return true
}

// pendingSource finds the source file of a row: there is false when it is
// gone or is not the file recorded (another size). The file is where the
// row's Source says it was read: under src; on src's failover location
// (the backup served it); or, for an on_upload transfer, the local path
// of an upload in a virtual folder outside the root's directory. The
// row's SourceRel (its path under the source folder) gives the subfolder
// kept when archiving; rows written before it existed fall back to
// matching Source under src.
func (r *Runner) pendingSource(ctx context.Context, t *ferry.Transfer, cp *Copier, src remote.Location, rec ferry.TransferRecord) (c candidate, there bool, err error) {
	rel := rec.SourceRel
	if rel == "" {
		rel, _ = strings.CutPrefix(rec.Source, strings.TrimSuffix(src.Join().String(), "/")+"/")
	}
	l, err := r.pendingLocation(ctx, t, src, rec, rel)
	if err != nil {
		return c, false, err
	}
	f, err := cp.Source(ctx, l)
	if err != nil {
		return c, false, err
	}
	if fo, why := FailoverOf(f); fo != "" {
		// Another location than the one that served the file: its file
		// under that name may be another one; wait for the location.
		return c, false, fmt.Errorf("%s: its location is down (%v), so its failover %q answers; the next run tries again", l, why, fo)
	}
	e, err := f.Stat(ctx, l.Path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && (e.Dir || e.Size != rec.Bytes) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	dir := path.Dir(rel)
	if dir == "." {
		dir = ""
	}
	return candidate{loc: l, rel: dir, e: e}, true, nil
}

// pendingLocation is where a row's source file was read (see
// pendingSource), rel being its path under the source folder.
func (r *Runner) pendingLocation(ctx context.Context, t *ferry.Transfer, src remote.Location, rec ferry.TransferRecord, rel string) (remote.Location, error) {
	if rel != "" && !path.IsAbs(rel) && !strings.HasPrefix(path.Clean(rel), "../") {
		if l := src.Join(strings.Split(rel, "/")...); l.String() == rec.Source {
			return l, nil
		}
		if bl, ok, err := r.o.Resolver.backupOf(ctx, src); err != nil {
			return remote.Location{}, err
		} else if l := bl.Join(strings.Split(rel, "/")...); ok && l.String() == rec.Source {
			return l, nil // served by the failover location: finish it there
		}
	}
	if t.OnUpload != "" && src.Scheme == "file" && filepath.IsAbs(rec.Source) && (rec.SourceRel != "" || t.ArchiveTo == "") {
		// an upload into a virtual folder outside the root's directory:
		// its local path is enough to remove it, with SourceRel to
		// archive it
		return remote.Parse(rec.Source)
	}
	return remote.Location{}, fmt.Errorf("%s is not under the source %s nor its failover (the source or its location changed)", rec.Source, src)
}
