package core

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
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
	folders, err := e.mountedFolders(ctx, v)
	if err != nil {
		home.Close()
		return nil, nil, err
	}
	var mounts []mountfs.Mount
	for _, m := range folders {
		mfs, err := e.storage.OpenFS(ctx, m.folder.Path, e.create)
		if err != nil {
			home.Close()
			for _, m := range mounts {
				m.FS.Close()
			}
			return nil, nil, fmt.Errorf("folder %q at %s: %w", m.folder.Name, m.folder.Path, err)
		}
		mounts = append(mounts, mountfs.Mount{Path: m.path, FS: mfs, ReadOnly: m.ReadOnly})
	}
	byPath := make(map[string]*ferry.Folder, len(folders))
	for _, m := range folders {
		byPath[m.path] = m.folder
	}
	return mountfs.New(home, mounts), byPath, nil
}

// mountedFolder is a mount of v's policy with its folder looked up.
type mountedFolder struct {
	ferry.Mount
	path   string // storage name of the mount point ("shared")
	folder *ferry.Folder
}

// mountedFolders looks up the folders v's policy mounts; a mount whose
// folder is missing is skipped (and logged), as at login.
func (e *Engine) mountedFolders(ctx context.Context, v *view) ([]mountedFolder, error) {
	if len(v.pol.Mounts) == 0 {
		return nil, nil
	}
	fsrc, ok := e.users.(FolderSource)
	if !ok {
		return nil, fmt.Errorf("mounts need a folder source: %w", errors.ErrUnsupported)
	}
	var out []mountedFolder
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
		out = append(out, mountedFolder{Mount: m, path: vpath.Rel(vp), folder: f})
	}
	return out, nil
}

// LocalPath returns the directory on the server's storage that holds
// the virtual path vp of user, as the user's sessions see it: under its
// home (its own or its home template's), or under the directory of the
// virtual folder mounted deepest above vp. Server-side consumers of
// uploads (on_upload transfers) use it instead of resolving mounts
// themselves.
func (e *Engine) LocalPath(ctx context.Context, user, vp string) (string, error) {
	vp, err := vpath.Clean(vp)
	if err != nil {
		return "", err
	}
	u, err := e.users.GetUser(ctx, user)
	if err != nil {
		return "", err
	}
	v, err := e.buildView(ctx, u)
	if err != nil {
		return "", err
	}
	home := v.user.Home // its own, or its home template's
	folders, err := e.mountedFolders(ctx, v)
	if err != nil {
		return "", err
	}
	mounts := make([]mountfs.Mount, 0, len(folders))
	for _, m := range folders {
		mounts = append(mounts, mountfs.Mount{Path: m.path})
	}
	// The same routing as the sessions' tree (the deepest mount wins).
	name := vpath.Rel(vp)
	if mp, ok := mountfs.New(nil, mounts).MountOf(name); ok {
		for _, m := range folders {
			if m.path == mp {
				rel := strings.TrimPrefix(strings.TrimPrefix(name, mp), "/")
				return filepath.Join(m.folder.Path, filepath.FromSlash(rel)), nil
			}
		}
	}
	if name == "." {
		return home, nil
	}
	return filepath.Join(home, filepath.FromSlash(name)), nil
}

// MountPoints returns the virtual paths ("/a/b") where user's virtual
// folders are mounted, as its sessions see them. Server-side consumers
// that walk a user's tree (the on_upload catch-up pass) use it, with
// LocalPath, to enter mounts that have no directory in the home.
func (e *Engine) MountPoints(ctx context.Context, user string) ([]string, error) {
	u, err := e.users.GetUser(ctx, user)
	if err != nil {
		return nil, err
	}
	v, err := e.buildView(ctx, u)
	if err != nil {
		return nil, err
	}
	folders, err := e.mountedFolders(ctx, v)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(folders))
	for _, m := range folders {
		out = append(out, vpath.Root+m.path)
	}
	return out, nil
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
