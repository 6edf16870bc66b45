package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
			r.o.Logger.Warn("transfer: a move cut short cannot be completed", "transfer", t.Name, "file", rec.Source, "err", err)
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

// pendingSource finds the source file of a row under src: there is false
// when it is gone or is not the file recorded (another size).
func (r *Runner) pendingSource(ctx context.Context, t *ferry.Transfer, cp *Copier, src remote.Location, rec ferry.TransferRecord) (c candidate, there bool, err error) {
	rel, ok := strings.CutPrefix(rec.Source, strings.TrimSuffix(src.Join().String(), "/")+"/")
	var l remote.Location
	if ok {
		l = src.Join(strings.Split(rel, "/")...)
	} else if t.OnUpload != "" && t.ArchiveTo == "" && src.Scheme == "file" && filepath.IsAbs(rec.Source) {
		// an upload into a virtual folder outside the root's directory:
		// its local path is enough to remove it
		if l, err = remote.Parse(rec.Source); err != nil {
			return c, false, err
		}
		ok, rel = true, path.Base(l.Path)
	}
	if !ok || l.String() != rec.Source {
		return c, false, fmt.Errorf("%s is not under the source %s (served by a failover, or the source changed)", rec.Source, src)
	}
	f, err := cp.Source(ctx, l)
	if err != nil {
		return c, false, err
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
