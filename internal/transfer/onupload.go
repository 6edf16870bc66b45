package transfer

import (
	"context"
	"fmt"
	"path"
	"path/filepath"

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
