package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchMask: a file written and closed, moved in, or a folder created (to
// watch it too). Writes in progress (IN_MODIFY) are not signals: a run
// still checks that a file is stable before it picks it.
const watchMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// watchDir calls changed each time a file under dir is closed after
// writing or moved in, until ctx ends; subfolders too when recursive
// (except those skip names, relative to dir). ready is called once the
// watches are in place. It fails at once when dir cannot be watched; the
// caller then polls.
func watchDir(ctx context.Context, dir string, recursive bool, skip func(rel string) bool, ready, changed func()) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: reads park in the runtime poller
	defer f.Close()
	dirs := map[int32]string{}
	add := func(p string) error {
		wd, err := unix.InotifyAddWatch(fd, p, watchMask)
		if err != nil {
			return fmt.Errorf("inotify watch %s: %w", p, err)
		}
		dirs[int32(wd)] = p
		return nil
	}
	addTree := func(root string) error {
		if !recursive {
			return add(root)
		}
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root {
					return err
				}
				return nil // vanished meanwhile
			}
			if !d.IsDir() {
				return nil
			}
			if rel, _ := filepath.Rel(dir, p); p != dir && skip != nil && skip(filepath.ToSlash(rel)) {
				return filepath.SkipDir
			}
			return add(p)
		})
	}
	if err := addTree(dir); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	if ready != nil {
		ready()
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("inotify read: %w", err)
		}
		signal := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := ""
			if ev.Len > 0 {
				raw := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				for i, c := range raw {
					if c == 0 {
						raw = raw[:i]
						break
					}
				}
				name = string(raw)
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				signal = true // events lost: a run lists everything anyway
			case ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 && dirs[ev.Wd] == dir:
				return fmt.Errorf("%s was removed or moved", dir)
			case ev.Mask&unix.IN_ISDIR != 0 && ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
				if recursive && dirs[ev.Wd] != "" {
					addTree(filepath.Join(dirs[ev.Wd], name)) // a vanished folder is no error
					signal = true                             // files may have landed before the watch
				}
			case ev.Mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO) != 0:
				signal = true
			}
		}
		if signal {
			changed()
		}
	}
}
