package core

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/perm"
	"github.com/ferrymft/ferry/internal/vpath"
)

// Defender is what the engine needs of the brute-force defender
// (auth.Defender satisfies it).
type Defender interface {
	Banned(addr netip.Addr) bool
	Record(ctx context.Context, addr netip.Addr, score int, why string)
}

// UsageStore keeps each user's usage for quotas.
type UsageStore interface {
	GetUsage(ctx context.Context, user string) (bytes, files int64, scanned bool, err error)
	AddUsage(ctx context.Context, user string, bytes, files int64) error
	SetUsage(ctx context.Context, user string, bytes, files int64, now time.Time) error
}

// view is what a session enforces: the account and its effective rules and
// policy. Refresh replaces it, so a changed limit reaches live sessions.
type view struct {
	user  *ferry.User
	rules perm.Rules
	pol   ferry.Policy
	hours ferry.Hours
}

// userState is shared by all live sessions of one user: the current view,
// the bandwidth limiters (shared, so two sessions together stay under the
// limit) and the usage counters for quotas.
type userState struct {
	name     string
	refs     int // guarded by Engine.usersMu
	cur      atomic.Pointer[view]
	up, down *rate.Limiter

	usageMu sync.Mutex
	loaded  bool
	bytes   int64
	files   int64
}

// burst is the largest chunk a limited transfer moves at once.
const burst = 256 << 10

func newLimiter(bps int64) *rate.Limiter {
	l := rate.NewLimiter(rate.Inf, burst)
	setRate(l, bps)
	return l
}

func setRate(l *rate.Limiter, bps int64) {
	if bps <= 0 {
		l.SetLimit(rate.Inf)
		return
	}
	l.SetLimit(rate.Limit(bps))
}

// limited reports whether l throttles.
func limited(l *rate.Limiter) bool { return l != nil && l.Limit() != rate.Inf }

// wait takes n bytes from l, in burst-sized steps.
func wait(ctx context.Context, l *rate.Limiter, n int) error {
	if !limited(l) {
		return nil
	}
	for n > 0 {
		step := min(n, burst)
		if err := l.WaitN(ctx, step); err != nil {
			return fmt.Errorf("%w: %w", ferry.ErrClosed, err)
		}
		n -= step
	}
	return nil
}

// waitUp and waitDown take n bytes from the user's and the server's
// limiters; limitedUp and limitedDown tell whether either throttles.
func (s *Session) waitUp(n int) error {
	if err := wait(s.ctx, s.st.up, n); err != nil {
		return err
	}
	return wait(s.ctx, s.eng.up, n)
}

func (s *Session) waitDown(n int) error {
	if err := wait(s.ctx, s.st.down, n); err != nil {
		return err
	}
	return wait(s.ctx, s.eng.down, n)
}

func (s *Session) limitedUp() bool   { return limited(s.st.up) || limited(s.eng.up) }
func (s *Session) limitedDown() bool { return limited(s.st.down) || limited(s.eng.down) }

// UploadThrottled reports whether an upload bandwidth limit (the user's or
// the server's) applies now: its writes may wait for tokens.
func (s *Session) UploadThrottled() bool { return s.limitedUp() }

// fileMode and dirMode are the modes new files and directories get: 0666
// and 0777 without the account's umask (the process umask applies too).
func (s *Session) fileMode() fs.FileMode { return 0o666 &^ s.umask() }
func (s *Session) dirMode() fs.FileMode  { return 0o777 &^ s.umask() }

func (s *Session) umask() fs.FileMode {
	u, err := ferry.ParseUmask(s.view().pol.Umask)
	if err != nil {
		return 0
	}
	return u
}

// loginAllowed applies the per-address login rate.
func (e *Engine) loginAllowed(addr netip.Addr) bool {
	if e.opts.LoginsPerMinute <= 0 || !addr.IsValid() {
		return true
	}
	e.loginMu.Lock()
	defer e.loginMu.Unlock()
	if len(e.loginRates) > 10000 {
		e.loginRates = make(map[netip.Addr]*rate.Limiter) // bounded memory; forgets old addresses
	}
	l, ok := e.loginRates[addr]
	if !ok {
		l = rate.NewLimiter(rate.Limit(float64(e.opts.LoginsPerMinute)/60), e.opts.LoginsPerMinute)
		e.loginRates[addr] = l
	}
	return l.Allow()
}

// Home returns the home directory of user: its own, or the one its home
// template (from its policy or groups) gives.
func (e *Engine) Home(ctx context.Context, user string) (string, error) {
	u, err := e.users.GetUser(ctx, user)
	if err != nil {
		return "", err
	}
	if u.Home != "" {
		return u.Home, nil
	}
	v, err := e.buildView(ctx, u)
	if err != nil {
		return "", err
	}
	return v.user.Home, nil
}

// buildView computes the effective rules and policy of u.
func (e *Engine) buildView(ctx context.Context, u *ferry.User) (*view, error) {
	names := append(slices.Clone(u.Groups), ferry.DefaultGroup)
	var groupPerms [][]ferry.PathPerm
	var groupPols []ferry.Policy
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		g, err := e.users.GetGroup(ctx, name)
		if errors.Is(err, ferry.ErrNotFound) {
			continue // a deleted group grants nothing
		}
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", name, err)
		}
		groupPerms = append(groupPerms, g.Perms)
		groupPols = append(groupPols, g.Policy)
	}
	pol := ferry.Merge(u.Policy, groupPols...)
	hours, err := ferry.ParseHours(pol.Hours)
	if err != nil {
		return nil, err
	}
	if u.Home == "" {
		if pol.HomeTemplate == "" {
			return nil, fmt.Errorf("user %q has no home and none of its groups has a home template: %w", u.Name, ferry.ErrInvalid)
		}
		c := *u
		c.Home = ferry.ExpandHome(pol.HomeTemplate, u.Name, names[0])
		u = &c
	}
	return &view{user: u, rules: perm.Effective(u.Perms, groupPerms...), pol: pol, hours: hours}, nil
}

// restrict checks the login-time restrictions of the effective policy and
// the server-wide networks; the error is the reason (logged, not returned
// to the client).
func (e *Engine) restrict(v *view, req LoginRequest, method string) error {
	addr := req.Remote.Addr().Unmap()
	if e.opts.denied(addr) {
		return fmt.Errorf("source %s not allowed by the server's networks", addr)
	}
	if !cidrAllowed(addr, v.pol.AllowCIDRs, v.pol.DenyCIDRs) {
		return fmt.Errorf("source %s not allowed for this account", addr)
	}
	if len(v.pol.Protocols) > 0 && !slices.Contains(v.pol.Protocols, baseProtocol(req.Protocol)) {
		return fmt.Errorf("protocol %s not allowed for this account", req.Protocol)
	}
	if len(v.pol.LoginMethods) > 0 && !slices.Contains(v.pol.LoginMethods, method) {
		return fmt.Errorf("login method %s not allowed for this account", method)
	}
	if !v.hours.Allows(e.now()) {
		return fmt.Errorf("outside the account's hours (%s)", v.pol.Hours)
	}
	if ferry.Bool(v.pol.RequireTLS) && (req.Protocol == ferry.FTP || req.Protocol == ferry.FTPS) && !req.TLS {
		return errors.New("account requires TLS")
	}
	return nil
}

// baseProtocol folds FTPS into FTP for the protocols restriction.
func baseProtocol(p ferry.Protocol) ferry.Protocol {
	if p == ferry.FTPS {
		return ferry.FTP
	}
	return p
}

func cidrAllowed(addr netip.Addr, allow, deny []string) bool {
	if !addr.IsValid() {
		return len(allow) == 0 // not an IP connection (tests, unix sockets)
	}
	for _, c := range deny {
		if p, err := ferry.ParseCIDR(c); err == nil && p.Contains(addr) {
			return false
		}
	}
	if len(allow) == 0 {
		return true
	}
	for _, c := range allow {
		if p, err := ferry.ParseCIDR(c); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// acquireUser returns the shared state of a user, creating it for the
// user's first live session.
func (e *Engine) acquireUser(v *view) *userState {
	e.usersMu.Lock()
	defer e.usersMu.Unlock()
	st, ok := e.userStates[v.user.Name]
	if !ok {
		st = &userState{name: v.user.Name, up: newLimiter(0), down: newLimiter(0)}
		e.userStates[v.user.Name] = st
	}
	st.refs++
	st.apply(v)
	return st
}

func (e *Engine) releaseUser(st *userState) {
	e.usersMu.Lock()
	defer e.usersMu.Unlock()
	st.refs--
	if st.refs <= 0 {
		delete(e.userStates, st.name)
	}
}

func (st *userState) apply(v *view) {
	st.cur.Store(v)
	setRate(st.up, ferry.Int64(v.pol.BandwidthUp))
	setRate(st.down, ferry.Int64(v.pol.BandwidthDown))
}

// Refresh re-reads the accounts of every live session and applies changed
// permissions, limits and quotas to them at once — a lowered bandwidth
// limit reaches transfers in progress. app calls it when the store changes.
// A user that was deleted or disabled is disconnected.
func (e *Engine) Refresh(ctx context.Context) {
	e.usersMu.Lock()
	states := make([]*userState, 0, len(e.userStates))
	for _, st := range e.userStates {
		states = append(states, st)
	}
	e.usersMu.Unlock()
	for _, st := range states {
		u, err := e.users.GetUser(ctx, st.name)
		if err == nil && u.Status == ferry.StatusActive && !u.Expired(e.now()) {
			if v, err := e.buildView(ctx, u); err == nil {
				st.apply(v)
				continue
			}
		}
		if err != nil && !errors.Is(err, ferry.ErrNotFound) {
			e.log.Warn("refresh account", ferry.LogUser, st.name, "err", err)
			continue
		}
		e.log.Info("account removed or disabled: disconnecting its sessions", ferry.LogUser, st.name)
		e.reg.kickUser(st.name)
	}
}

// Admit is called by front ends for every accepted connection, before any
// work: it refuses banned addresses.
func (e *Engine) Admit(remote netip.Addr) error {
	if e.opts.Defender != nil && e.opts.Defender.Banned(remote) {
		return fmt.Errorf("core: %s: %w", remote.Unmap(), ferry.ErrBanned)
	}
	if e.opts.denied(remote.Unmap()) {
		return fmt.Errorf("core: %s not in the server's allowed networks: %w", remote.Unmap(), ferry.ErrBanned)
	}
	return nil
}

// Report scores a misbehaviour of a remote address that core cannot see:
// protocol errors before login (why "protocol"), or a disconnect without
// any login attempt (why "no-auth").
func (e *Engine) Report(ctx context.Context, remote netip.Addr, why string) {
	if e.opts.Defender != nil {
		e.opts.Defender.Record(ctx, remote, 1, why)
	}
}

func (o *Options) denied(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range o.DenyCIDRs {
		if p.Contains(addr) {
			return true
		}
	}
	if len(o.AllowCIDRs) == 0 {
		return false
	}
	for _, p := range o.AllowCIDRs {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// filterOp classifies operations for the name filters.
type filterOp int

const (
	opRead  filterOp = iota // stat, download, list entries
	opWrite                 // upload, mkdir, delete, rename, chmod…
)

// filter applies the name rules of the policy to the last element of vp:
// hidden names do not exist, denied names and protected dot-files refuse.
func (v *view) filter(vp string, op filterOp) error {
	name := path.Base(vp)
	if vp == "/" {
		return nil
	}
	dir := path.Dir(vp)
	if v.hidden(dir, name) {
		return fmt.Errorf("core: %q: %w", vp, fs.ErrNotExist)
	}
	for _, pat := range v.pol.DenyPatterns {
		if matchName(pat, dir, name) {
			return fmt.Errorf("core: %q matches the denied pattern %q: %w", vp, pat, fs.ErrPermission)
		}
	}
	if op == opWrite && strings.HasPrefix(name, ".") && v.pol.DotFiles == ferry.DotFilesProtect {
		return fmt.Errorf("core: %q: dot-files are protected: %w", vp, fs.ErrPermission)
	}
	return nil
}

// hidden reports whether name, in the virtual directory dir, is invisible
// to this account.
func (v *view) hidden(dir, name string) bool {
	if strings.HasPrefix(name, ".") && v.pol.DotFiles == ferry.DotFilesHide {
		return true
	}
	for _, pat := range v.pol.HidePatterns {
		if matchName(pat, dir, name) {
			return true
		}
	}
	return false
}

// matchName applies a name pattern: "GLOB" matches names everywhere,
// "/DIR/GLOB" names in DIR and below.
func matchName(pat, dir, name string) bool {
	if i := strings.LastIndexByte(pat, '/'); i >= 0 {
		scope := pat[:i]
		if scope == "" {
			scope = "/"
		}
		if !vpath.Within(dir, scope) {
			return false
		}
		pat = pat[i+1:]
	}
	ok, _ := path.Match(pat, name)
	return ok
}

// uploadAllowed checks the extension allow-list.
func (v *view) uploadAllowed(vp string) error {
	if len(v.pol.AllowedExtensions) == 0 {
		return nil
	}
	lower := strings.ToLower(vp)
	for _, ext := range v.pol.AllowedExtensions {
		if strings.HasSuffix(lower, strings.ToLower(ext)) {
			return nil
		}
	}
	return fmt.Errorf("core: %q: uploads must end in one of %s: %w", vp, strings.Join(v.pol.AllowedExtensions, ", "), fs.ErrPermission)
}
