package transfer

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/remote"
)

// uploadPath returns where the virtual path vp of an on_upload
// transfer's user lies on local storage: through the user's virtual
// folders with RunnerOptions.LocalPath, else under its home.
func (r *Runner) uploadPath(ctx context.Context, t *ferry.Transfer, vp string) (remote.Location, error) {
	user, _, err := t.UploadTrigger()
	if err != nil {
		return remote.Location{}, err
	}
	var p string
	switch {
	case r.o.LocalPath != nil:
		p, err = r.o.LocalPath(ctx, user, vp)
	case r.o.Homes != nil:
		var home string
		home, err = r.o.Homes(ctx, user)
		p = filepath.Join(home, filepath.FromSlash(path.Clean("/"+vp)))
	default:
		return remote.Location{}, fmt.Errorf("on_upload %s: no user homes here", t.OnUpload)
	}
	if err != nil {
		return remote.Location{}, fmt.Errorf("on_upload %s: %s: %w", t.OnUpload, vp, err)
	}
	return remote.Parse(p)
}

// subdir is the folder an on_upload transfer's listing descends into
// for the entry name of dir (rel under the trigger's root): a virtual
// folder mounted there rather than the home's directory it hides.
func (r *Runner) subdir(ctx context.Context, t *ferry.Transfer, dir remote.Location, rel, name string) remote.Location {
	sub := dir.Join(name)
	if t.OnUpload == "" || r.o.LocalPath == nil {
		return sub
	}
	l, err := r.uploadPath(ctx, t, path.Join(t.UploadRoot(), rel, name))
	if err != nil {
		return sub
	}
	l.Dir = true
	return l
}

// mountsBelow returns the mount points of an on_upload transfer's user
// below the trigger's root, relative to it ("shared", "a/b"): none
// without Options.MountPoints and LocalPath, or when they cannot be read
// (the listing then sees the home's directories only).
func (r *Runner) mountsBelow(ctx context.Context, t *ferry.Transfer) []string {
	if t.OnUpload == "" || r.o.MountPoints == nil || r.o.LocalPath == nil {
		return nil
	}
	user, _, err := t.UploadTrigger()
	if err != nil {
		return nil
	}
	mps, err := r.o.MountPoints(ctx, user)
	if err != nil {
		r.o.Logger.Warn("on_upload catch-up: the user's virtual folders cannot be read; listing its home only",
			"transfer", t.Name, "user", user, "err", err)
		return nil
	}
	prefix := strings.TrimSuffix(t.UploadRoot(), "/") + "/"
	var out []string
	for _, mp := range mps {
		if rel, ok := strings.CutPrefix(path.Clean(mp), prefix); ok && rel != "" {
			out = append(out, rel)
		}
	}
	return out
}

// leadsToMount reports whether rel (under the root) is a mount point or
// on the way to one.
func leadsToMount(mounts []string, rel string) bool {
	for _, m := range mounts {
		if rel == "" || m == rel || strings.HasPrefix(m, rel+"/") {
			return true
		}
	}
	return false
}

// withMounts adds to the entries of the folder rel a directory entry for
// each mount point in it or on the way to one below it, as the user's
// sessions list them: a mount hides a file of the home under its name.
func withMounts(es []remote.Entry, mounts []string, rel string) []remote.Entry {
	for _, m := range mounts {
		rest := m
		if rel != "" {
			var ok bool
			if rest, ok = strings.CutPrefix(m, rel+"/"); !ok {
				continue
			}
		}
		name, _, _ := strings.Cut(rest, "/")
		i := slices.IndexFunc(es, func(e remote.Entry) bool { return e.Name == name })
		switch {
		case i < 0:
			es = append(es, remote.Entry{Name: name, Dir: true})
		case !es[i].Dir:
			es[i] = remote.Entry{Name: name, Dir: true}
		}
	}
	return es
}
