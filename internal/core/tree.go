package core

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
	"github.com/ferrymft/ferry/internal/storage/mountfs"
	"github.com/ferrymft/ferry/internal/vpath"
)

// FolderSource looks up virtual folders; a UserSource that also implements
// it (the store does) enables mounts.
type FolderSource interface {
	GetFolder(ctx context.Context, name string) (*ferry.Folder, error)
}

// openTree opens the user's home and mounts its virtual folders. Mounts
// are read at login: a changed mount applies to the next session.
func (e *Engine) openTree(ctx context.Context, v *view) (storage.FS, map[string]*ferry.Folder, error) {
	home, err := e.storage.OpenFS(ctx, v.user.Home, e.create)
	if err != nil {
		return nil, nil, err
	}
	for _, dir := range e.opts.HomeDirs {
		_ = home.Mkdir(ctx, dir, 0o750) // exists already on later logins
	}
	if len(v.pol.Mounts) == 0 {
		return home, nil, nil
	}
	fsrc, ok := e.users.(FolderSource)
	if !ok {
		home.Close()
		return nil, nil, fmt.Errorf("mounts need a folder source: %w", errors.ErrUnsupported)
	}
	var mounts []mountfs.Mount
	folders := make(map[string]*ferry.Folder)
	closeAll := func() {
		home.Close()
		for _, m := range mounts {
			m.FS.Close()
		}
	}
	for _, m := range v.pol.Mounts {
		vp, err := vpath.Clean(m.Path)
		if err != nil || vpath.IsRoot(vp) {
			continue
		}
		f, err := fsrc.GetFolder(ctx, m.Folder)
		if err != nil {
			e.log.Warn("mount skipped", ferry.LogUser, v.user.Name, "folder", m.Folder, "err", err)
			continue
		}
		mfs, err := e.storage.OpenFS(ctx, f.Path, e.create)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("folder %q at %s: %w", f.Name, f.Path, err)
		}
		mounts = append(mounts, mountfs.Mount{Path: vpath.Rel(vp), FS: mfs, ReadOnly: m.ReadOnly})
		folders[vpath.Rel(vp)] = f
	}
	return mountfs.New(home, mounts), folders, nil
}

// folderOf returns the virtual folder a storage name lies in, if any.
func (s *Session) folderOf(name string) *ferry.Folder {
	m, ok := s.fs.(*mountfs.FS)
	if !ok {
		return nil
	}
	mp, ok := m.MountOf(name)
	if !ok {
		return nil
	}
	return s.folders[mp]
}

// freeName finds "a.1.txt", "a.2.txt"… for an upload to a taken name
// (rename-on-conflict).
func (s *Session) freeName(ctx context.Context, vp string) (string, string, error) {
	dir, file := path.Split(vp)
	ext := path.Ext(file)
	stem := strings.TrimSuffix(file, ext)
	for i := 1; i < 10000; i++ {
		cand := dir + stem + "." + strconv.Itoa(i) + ext
		name := vpath.Rel(cand)
		if _, err := s.fs.Lstat(ctx, name); err != nil {
			return cand, name, nil
		}
	}
	return "", "", fmt.Errorf("core: upload %q: no free name for rename-on-conflict: %w", vp, ferry.ErrExists)
}
