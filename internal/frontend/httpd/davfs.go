package httpd

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"sync"
	"time"

	"golang.org/x/net/webdav"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/vpath"
)

// davFS is a webdav.FileSystem over one core.Session, built per request.
// Opening for reading does not open a download until the first Read, so
// PROPFIND never counts as a download; opening with O_CREATE or O_TRUNC is
// an atomic upload that commits on Close only when every byte arrived.
type davFS struct {
	s      *core.Session
	props  *propView
	locks  *lockView
	st     *reqState
	method string
	offset int64 // a resumed PUT continues here (Content-Range)
}

// reqState carries what the FileSystem learned during one request back to
// the HTTP layer: the last core error (for a better status), whether a PUT
// replaced an existing file (204 rather than 201), and the ETag of what an
// upload committed.
type reqState struct {
	mu      sync.Mutex
	err     error
	existed bool
	etag    string
}

// note records err and returns it in the form x/net/webdav tests with
// os.IsNotExist and os.IsExist, which do not look through %w wrapping.
func (st *reqState) note(err error) error {
	if err == nil {
		return nil
	}
	st.mu.Lock()
	st.err = err
	st.mu.Unlock()
	for _, kind := range []error{fs.ErrNotExist, fs.ErrExist, fs.ErrPermission} {
		if errors.Is(err, kind) {
			return &fs.PathError{Op: "ferry", Path: err.Error(), Err: kind}
		}
	}
	return err
}

var _ webdav.FileSystem = (*davFS)(nil)

func (f *davFS) Mkdir(ctx context.Context, name string, _ os.FileMode) error {
	return f.st.note(f.s.Mkdir(ctx, name))
}

func (f *davFS) OpenFile(ctx context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	if flag&(os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND) != 0 {
		return f.openWrite(ctx, name)
	}
	// O_RDONLY, or O_RDWR for PROPPATCH: a handle for reading and
	// properties; nothing is opened yet.
	fi, err := f.s.Stat(ctx, name)
	if err != nil {
		return nil, f.st.note(err)
	}
	vp, _ := vpath.Clean(name)
	return &davNode{fs: f, ctx: ctx, name: vp, fi: davInfo{fi}}, nil
}

func (f *davFS) openWrite(ctx context.Context, name string) (webdav.File, error) {
	_, statErr := f.s.Stat(ctx, name)
	up, err := f.s.OpenWrite(ctx, name, core.WriteOptions{Offset: f.offset})
	if err != nil {
		return nil, f.st.note(err)
	}
	f.st.mu.Lock()
	f.st.existed = statErr == nil
	f.st.mu.Unlock()
	vp, _ := vpath.Clean(name)
	return &davUpload{fs: f, ctx: ctx, name: vp, up: up, start: time.Now()}, nil
}

// RemoveAll deletes a file, or a folder with everything in it, depth first.
func (f *davFS) RemoveAll(ctx context.Context, name string) error {
	vp, err := vpath.Clean(name)
	if err != nil {
		return f.st.note(err)
	}
	if vpath.IsRoot(vp) {
		return f.st.note(fmt.Errorf("httpd: delete the home folder: %w", fs.ErrPermission))
	}
	if err := f.st.note(removeTree(ctx, f.s, vp)); err != nil {
		return err
	}
	f.props.removeTree(vp)
	if f.method == http.MethodDelete {
		f.locks.removeTree(vp) // a deleted resource's locks go with it
	}
	return nil
}

// removeTree removes vp and, for a folder, everything below it.
func removeTree(ctx context.Context, s *core.Session, vp string) error {
	fi, err := s.Lstat(ctx, vp)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return s.Remove(ctx, vp)
	}
	var children []string
	for c, err := range s.List(ctx, vp) {
		if err != nil {
			return err
		}
		children = append(children, path.Join(vp, c.Name()))
	}
	for _, c := range children {
		if err := removeTree(ctx, s, c); err != nil {
			return err
		}
	}
	return s.Rmdir(ctx, vp)
}

func (f *davFS) Rename(ctx context.Context, oldName, newName string) error {
	if err := f.st.note(f.s.Rename(ctx, oldName, newName)); err != nil {
		return err
	}
	o, _ := vpath.Clean(oldName)
	n, _ := vpath.Clean(newName)
	f.props.moveTree(o, n)
	f.locks.removeTree(o) // locks do not move with the resource
	return nil
}

func (f *davFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	fi, err := f.s.Stat(ctx, name)
	if err != nil {
		return nil, f.st.note(err)
	}
	return davInfo{fi}, nil
}

// davInfo gives x/net/webdav a content type and ETag without reading the
// file (the library would otherwise open it to sniff).
type davInfo struct{ fs.FileInfo }

func (i davInfo) ContentType(context.Context) (string, error) { return contentType(i.Name()), nil }
func (i davInfo) ETag(context.Context) (string, error)        { return etag(i.FileInfo), nil }

// contentType guesses from the name; unknown types are octet streams.
func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// etag is the strong validator of a file: modification time and size, as
// Apache does.
func etag(fi fs.FileInfo) string { return etagOf(fi.ModTime(), fi.Size()) }

// davNode is a file or folder opened for reading or for its properties.
type davNode struct {
	fs   *davFS
	ctx  context.Context
	name string
	fi   davInfo
	dl   *core.Download
	pos  int64
}

func (n *davNode) open() error {
	if n.dl != nil {
		return nil
	}
	dl, err := n.fs.s.OpenRead(n.ctx, n.name, n.pos)
	if err != nil {
		return n.fs.st.note(err)
	}
	n.dl = dl
	return nil
}

func (n *davNode) Read(p []byte) (int, error) {
	if err := n.open(); err != nil {
		return 0, err
	}
	m, err := n.dl.Read(p)
	n.pos += int64(m)
	return m, err
}

// WriteTo lets io.Copy (COPY) move the bytes with the core's chunked copy.
func (n *davNode) WriteTo(w io.Writer) (int64, error) {
	if err := n.open(); err != nil {
		return 0, err
	}
	m, err := n.dl.WriteTo(w)
	n.pos += m
	return m, err
}

func (n *davNode) Seek(off int64, whence int) (int64, error) {
	if n.dl != nil {
		p, err := n.dl.Seek(off, whence)
		n.pos = p
		return p, err
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += n.pos
	case io.SeekEnd:
		off += n.fi.Size()
	}
	if off < 0 {
		return 0, fmt.Errorf("httpd: seek to %d: %w", off, ferry.ErrInvalid)
	}
	n.pos = off
	return off, nil
}

func (n *davNode) Readdir(count int) ([]fs.FileInfo, error) {
	var out []fs.FileInfo
	for fi, err := range n.fs.s.List(n.ctx, n.name) {
		if err != nil {
			return out, n.fs.st.note(err)
		}
		out = append(out, davInfo{fi})
	}
	if count > 0 && len(out) == 0 {
		return nil, io.EOF
	}
	return out, nil
}

func (n *davNode) Stat() (fs.FileInfo, error) { return n.fi, nil }

func (n *davNode) Write([]byte) (int, error) {
	return 0, fmt.Errorf("httpd: %q is open for reading: %w", n.name, fs.ErrPermission)
}

func (n *davNode) Close() error {
	if n.dl != nil {
		return n.dl.Close()
	}
	return nil
}

func (n *davNode) DeadProps() (map[xml.Name]webdav.Property, error) {
	return n.fs.props.deadProps(n.name, n.fs.locks), nil
}

func (n *davNode) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	return n.fs.props.patch(n.fs.s, n.name, patches)
}

// davUpload is an atomic upload: Close commits only when every Write and
// ReadFrom succeeded, so a PUT whose body was cut short leaves nothing at
// the target.
type davUpload struct {
	fs     *davFS
	ctx    context.Context
	name   string
	up     *core.Upload
	n      int64
	failed error
	start  time.Time
}

func (u *davUpload) Write(p []byte) (int, error) {
	m, err := u.up.Write(p)
	u.n += int64(m)
	if err != nil {
		u.failed = err
	}
	return m, err
}

// ReadFrom receives the request body; a body that ends early (the client
// disconnected before Content-Length bytes) fails the upload.
func (u *davUpload) ReadFrom(r io.Reader) (int64, error) {
	m, err := u.up.ReadFrom(r)
	u.n += m
	if err != nil {
		u.failed = err
	}
	return m, err
}

func (u *davUpload) Close() error {
	if u.failed != nil {
		u.up.Abort(u.failed)
		return u.fs.st.note(u.failed)
	}
	if err := u.up.Commit(); err != nil {
		return u.fs.st.note(err)
	}
	if fi, err := u.fs.s.Stat(u.ctx, u.name); err == nil {
		u.fs.st.mu.Lock()
		u.fs.st.etag = etag(fi)
		u.fs.st.mu.Unlock()
	}
	return nil
}

// Stat describes the bytes received so far (x/net/webdav asks before
// Close; the committed file's ETag is sent instead, see reqState).
func (u *davUpload) Stat() (fs.FileInfo, error) {
	return davInfo{uploadInfo{name: path.Base(u.name), size: u.n, mtime: u.start}}, nil
}

func (u *davUpload) Read([]byte) (int, error) {
	return 0, fmt.Errorf("httpd: %q is open for writing: %w", u.name, fs.ErrPermission)
}

func (u *davUpload) Seek(off int64, whence int) (int64, error) {
	if off == 0 && (whence == io.SeekCurrent || whence == io.SeekEnd) {
		return u.n, nil
	}
	return 0, fmt.Errorf("httpd: seek in an upload: %w", errors.ErrUnsupported)
}

func (u *davUpload) Readdir(int) ([]fs.FileInfo, error) {
	return nil, fmt.Errorf("httpd: %q: %w", u.name, ferry.ErrNotDir)
}

func (u *davUpload) DeadProps() (map[xml.Name]webdav.Property, error) { return nil, nil }

// Patch stores properties copied along with the file (COPY).
func (u *davUpload) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	return u.fs.props.patch(u.fs.s, u.name, patches)
}

type uploadInfo struct {
	name  string
	size  int64
	mtime time.Time
}

func (i uploadInfo) Name() string       { return i.name }
func (i uploadInfo) Size() int64        { return i.size }
func (i uploadInfo) Mode() fs.FileMode  { return 0o644 }
func (i uploadInfo) ModTime() time.Time { return i.mtime }
func (i uploadInfo) IsDir() bool        { return false }
func (i uploadInfo) Sys() any           { return nil }
