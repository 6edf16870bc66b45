package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/storage"
	"github.com/ferrymft/ferry/internal/vpath"
)

// Session is one logged-in client. Its methods take virtual paths ("/" is the
// user's home), check them, check the permission, call storage, and publish
// an event. A Session is safe for concurrent use (SFTP runs requests in
// parallel).
type Session struct {
	eng      *Engine
	id       string
	user     *ferry.User // as at login; the current account is in st
	st       *userState
	fs       storage.FS
	folders  map[string]*ferry.Folder // by mount path (storage name)
	proto    ferry.Protocol
	remote   string
	addr     netip.Addr
	service  string
	start    time.Time
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	disc     func()
	xfer     atomic.Pointer[transfer]
	closeOne sync.Once
}

type transfer struct {
	path, dir string
	size      int64
	start     time.Time
	bytes     atomic.Int64
	sha256    string // hex digest of a committed upload, when computed
}

func newSessionID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (e *Engine) newSession(ctx context.Context, g *Grant, req LoginRequest, fsys storage.FS) *Session {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Session{
		eng: e, id: newSessionID(), user: g.user, st: e.acquireUser(g.view), fs: fsys,
		proto: req.Protocol, remote: req.Remote.String(), addr: req.Remote.Addr().Unmap(), service: req.Service,
		start: e.now(), ctx: sctx, cancel: cancel, disc: req.Disconnect,
	}
	s.log = e.log.With(ferry.LogSession, s.id, ferry.LogUser, g.user.Name,
		ferry.LogProto, string(req.Protocol), ferry.LogRemote, s.remote)
	e.reg.add(s)
	return s
}

// ID returns the session's identifier (as shown by `ferry who`).
func (s *Session) ID() string { return s.id }

// User returns a copy of the logged-in account.
func (s *Session) User() ferry.User { return *s.user }

// Logger returns the session's logger, bound to its id, user, protocol and
// remote address.
func (s *Session) Logger() *slog.Logger { return s.log }

// Context is cancelled when the session is closed or kicked.
func (s *Session) Context() context.Context { return s.ctx }

// Info returns a snapshot for the registry.
func (s *Session) Info() SessionInfo {
	info := SessionInfo{ID: s.id, User: s.user.Name, Protocol: string(s.proto), Service: s.service,
		Remote: s.remote, Start: s.start}
	if t := s.xfer.Load(); t != nil {
		info.Transfer = &TransferInfo{Path: t.path, Direction: t.dir, Bytes: t.bytes.Load(), Size: t.size, Start: t.start}
	}
	return info
}

// Close ends the session: it unregisters it, releases storage and publishes
// the logout event. It is safe to call more than once.
func (s *Session) Close() error {
	var err error
	s.closeOne.Do(func() {
		s.cancel()
		s.eng.reg.remove(s)
		s.eng.releaseUser(s.st)
		err = s.fs.Close()
		s.log.Info("logout", "duration", s.eng.now().Sub(s.start).Round(time.Millisecond))
		s.publish(ferry.Event{Type: ferry.EventLogout, Status: "ok", Duration: s.eng.now().Sub(s.start)})
	})
	return err
}

func (s *Session) kick() {
	s.log.Info("session kicked")
	s.cancel()
	if s.disc != nil {
		s.disc()
	}
}

func (s *Session) publish(ev ferry.Event) {
	ev.Session, ev.User, ev.Protocol, ev.Remote, ev.Service = s.id, s.user.Name, s.proto, s.remote, s.service
	s.eng.publish(ev)
}

// allow asks the engine's gate (pre-hooks) whether typ on vp may proceed.
// A refusal is classified as a permission error for the front ends.
func (s *Session) allow(ctx context.Context, typ ferry.EventType, vp string) error {
	if s.eng.gate == nil {
		return nil
	}
	ev := ferry.Event{Type: typ, Path: vp, Time: s.eng.now()}
	ev.Session, ev.User, ev.Protocol, ev.Remote, ev.Service = s.id, s.user.Name, s.proto, s.remote, s.service
	if err := s.eng.gate.Allow(ctx, ev); err != nil {
		s.log.Info(string(typ)+" refused by pre-hook", "path", vp, "err", err)
		if errors.Is(err, fs.ErrPermission) {
			return err
		}
		return fmt.Errorf("%w: %w", err, fs.ErrPermission)
	}
	return nil
}

// opDone logs and publishes the outcome of a file operation and returns err.
func (s *Session) opDone(typ ferry.EventType, p, target string, err error) error {
	ev := ferry.Event{Type: typ, Path: p, Target: target, Status: "ok"}
	if err != nil {
		ev.Status = err.Error()
		s.log.Info(string(typ)+" failed", "path", p, "err", err)
	} else {
		s.log.Info(string(typ), "path", p, "target", target)
	}
	s.publish(ev)
	return err
}

// partialPrefix marks Ferry's hidden upload partials. Names with it are
// invisible in listings and refused as arguments.
const partialPrefix = ".ferry-upload."

func isPartialName(name string) bool { return strings.HasPrefix(name, partialPrefix) }

// resolve cleans a virtual path and returns it with its storage name. It
// refuses names that address upload partials.
func (s *Session) resolve(p string) (vp, name string, err error) {
	if err := s.ctx.Err(); err != nil {
		return "", "", fmt.Errorf("core: %w", ferry.ErrClosed)
	}
	vp, err = vpath.Clean(p)
	if err != nil {
		return "", "", fmt.Errorf("core: path %q: %w", p, err)
	}
	for _, elem := range strings.Split(vp, "/") {
		if isPartialName(elem) {
			return "", "", fmt.Errorf("core: %q: %w", vp, fs.ErrNotExist)
		}
	}
	return vp, vpath.Rel(vp), nil
}

// check resolves p and checks op there.
func (s *Session) check(op ferry.Perm, p string) (vp, name string, err error) {
	vp, name, err = s.resolve(p)
	if err != nil {
		return "", "", err
	}
	v := s.view()
	if err := v.rules.Check(op, vp); err != nil {
		return "", "", err
	}
	fop := opWrite
	if op == ferry.PermList || op == ferry.PermDownload {
		fop = opRead
	}
	if err := v.filter(vp, fop); err != nil {
		return "", "", err
	}
	return vp, name, nil
}

// Can reports whether the session holds op at path p (for FEAT-like
// advertising and UI hints; every operation checks again).
func (s *Session) Can(op ferry.Perm, p string) bool {
	vp, err := vpath.Clean(p)
	return err == nil && s.view().rules.Check(op, vp) == nil
}

// view returns the account's current rules and policy.
func (s *Session) view() *view { return s.st.cur.Load() }

// fileInfo renames a storage FileInfo to the base of its virtual path ("/"
// for the root) so front ends can print it directly.
type fileInfo struct {
	fs.FileInfo
	name string
}

func (fi fileInfo) Name() string { return fi.name }

func named(fi fs.FileInfo, vp string) fs.FileInfo {
	return fileInfo{FileInfo: fi, name: vpath.Base(vp)}
}

// partialInfo is what Stat shows an atomic-resumable user in place of a
// missing file: its own upload partial.
type partialInfo struct{ fs.FileInfo }

// IsPartial reports whether fi, from Stat or Lstat, is the session user's
// own upload partial (upload mode atomic-resumable) rather than a file under
// its name. Resume it with WriteOptions{Offset: fi.Size()}; writing "in
// place" would create the final name instead.
func IsPartial(fi fs.FileInfo) bool {
	_, ok := fi.(partialInfo)
	return ok
}

// mapErr classifies storage errors the front ends need to tell apart.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrExist) && !errors.Is(err, ferry.ErrExists) {
		return fmt.Errorf("%w (%w)", err, ferry.ErrExists)
	}
	return err
}
