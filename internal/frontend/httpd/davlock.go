package httpd

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/webdav"
)

// lockStore holds WebDAV write locks (RFC 4918 class 2) for every home, in
// memory: exclusive and shared, depth 0 or infinity, each with a timeout
// after which it disappears, and the owner XML the client gave, returned
// verbatim in lockdiscovery. Locks do not survive a restart (clients
// re-lock); they bind WebDAV clients only.
type lockStore struct {
	mu  sync.Mutex
	now func() time.Time
	ns  map[string]map[string]*davLock // home -> token -> lock
}

type davLock struct {
	token     string
	root      string // virtual path
	zeroDepth bool
	shared    bool
	owner     string // inner XML of <owner>
	user      string // Ferry user who took it
	timeout   time.Duration
	expires   time.Time // zero: held for one request only
	temp      bool
}

func newLockStore(now func() time.Time) *lockStore {
	return &lockStore{now: now, ns: make(map[string]map[string]*davLock)}
}

func newLockToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// locks returns the live locks of a home, dropping expired ones. The
// caller holds mu.
func (st *lockStore) locks(ns string) map[string]*davLock {
	m := st.ns[ns]
	if m == nil {
		m = make(map[string]*davLock)
		st.ns[ns] = m
	}
	now := st.now()
	for t, l := range m {
		if !l.temp && !now.Before(l.expires) {
			delete(m, t)
		}
	}
	return m
}

// covers reports whether lock l applies to p.
func (l *davLock) covers(p string) bool {
	return p == l.root || (!l.zeroDepth && within(p, l.root))
}

// conflict reports whether a new lock at root would conflict with l.
func (l *davLock) conflict(root string, zeroDepth, shared bool) bool {
	if shared && l.shared {
		return false
	}
	return l.covers(root) || (!zeroDepth && within(l.root, root))
}

// lockView is the lock store seen from one request: one home, one user,
// and the file system to evaluate ETag conditions against. It implements
// webdav.LockSystem for x/net/webdav's If-header checks.
type lockView struct {
	st     *lockStore
	ns     string
	user   string
	prefix string // URL prefix, for lockroot hrefs
	fs     *davFS
}

var _ webdav.LockSystem = (*lockView)(nil)

// create takes a lock, or fails with webdav.ErrLocked on a conflict.
func (v *lockView) create(root string, zeroDepth, shared bool, owner string, timeout time.Duration) (*davLock, error) {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	m := v.st.locks(v.ns)
	for _, l := range m {
		if l.conflict(root, zeroDepth, shared) {
			return nil, webdav.ErrLocked
		}
	}
	l := &davLock{token: newLockToken(), root: root, zeroDepth: zeroDepth, shared: shared, owner: owner,
		user: v.user, timeout: timeout, expires: v.st.now().Add(timeout)}
	m[l.token] = l
	c := *l
	return &c, nil
}

// refresh restarts a lock's timeout.
func (v *lockView) refresh(token string, timeout time.Duration) (*davLock, error) {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	l, ok := v.st.locks(v.ns)[token]
	if !ok || l.temp {
		return nil, webdav.ErrNoSuchLock
	}
	l.timeout, l.expires = timeout, v.st.now().Add(timeout)
	c := *l
	return &c, nil
}

// unlock removes the lock token that applies to p.
func (v *lockView) unlock(token, p string) error {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	m := v.st.locks(v.ns)
	l, ok := m[token]
	if !ok || l.temp || !l.covers(p) {
		return webdav.ErrNoSuchLock
	}
	delete(m, token)
	return nil
}

// removeTree drops the locks rooted at p or below (DELETE, MOVE source).
func (v *lockView) removeTree(p string) {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	m := v.st.locks(v.ns)
	for t, l := range m {
		if !l.temp && within(l.root, p) {
			delete(m, t)
		}
	}
}

// discovery renders the DAV:lockdiscovery value of p.
func (v *lockView) discovery(p string) string {
	v.st.mu.Lock()
	var ls []davLock
	for _, l := range v.st.locks(v.ns) {
		if !l.temp && l.covers(p) {
			ls = append(ls, *l)
		}
	}
	now := v.st.now()
	v.st.mu.Unlock()
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(v.activeLock(&l, now))
	}
	return b.String()
}

func (v *lockView) activeLock(l *davLock, now time.Time) string {
	scope, depth := "exclusive", "infinity"
	if l.shared {
		scope = "shared"
	}
	if l.zeroDepth {
		depth = "0"
	}
	left := max(int64(l.expires.Sub(now).Round(time.Second)/time.Second), 0)
	root := (&url.URL{Path: path.Join(v.prefix, l.root)}).EscapedPath()
	owner := ""
	if l.owner != "" {
		owner = "<D:owner>" + l.owner + "</D:owner>"
	}
	return fmt.Sprintf(`<D:activelock xmlns:D="DAV:"><D:locktype><D:write/></D:locktype>`+
		`<D:lockscope><D:%s/></D:lockscope><D:depth>%s</D:depth>%s<D:timeout>Second-%d</D:timeout>`+
		`<D:locktoken><D:href>%s</D:href></D:locktoken><D:lockroot><D:href>%s</D:href></D:lockroot></D:activelock>`,
		scope, depth, owner, left, xmlEscape(l.token), xmlEscape(root))
}

// Confirm implements the If header (RFC 4918 section 10.4) for one list of
// conditions: every condition must hold (a token must name a live lock on
// the resource, an ETag must match, Not inverts), and every locked
// resource the request changes must be covered by a token in the list.
func (v *lockView) Confirm(_ time.Time, name0, name1 string, conds ...webdav.Condition) (func(), error) {
	target := name0
	if target == "" {
		target = name1
	}
	target = cleanName(target)
	name0, name1 = cleanName(name0), cleanName(name1)
	v.st.mu.Lock()
	m := v.st.locks(v.ns)
	held := map[string]bool{}
	ok := true
	var etagConds []webdav.Condition
	for _, c := range conds {
		if c.ETag != "" {
			etagConds = append(etagConds, c)
			continue
		}
		l, live := m[c.Token]
		match := live && !l.temp && (l.covers(target) || (name1 != "" && l.covers(name1)))
		if match && !c.Not {
			held[c.Token] = true
		}
		if match == c.Not {
			ok = false
		}
	}
	for _, name := range []string{name0, name1} {
		if name == "" || !ok {
			continue
		}
		locked, mine := false, false
		for t, l := range m {
			if l.covers(name) {
				locked = true
				mine = mine || held[t]
			}
		}
		if locked && !mine {
			ok = false
		}
	}
	v.st.mu.Unlock()
	for _, c := range etagConds {
		if !ok {
			break
		}
		fi, err := v.fs.s.Stat(v.fs.s.Context(), target)
		match := err == nil && strings.TrimPrefix(c.ETag, "W/") == etag(fi)
		if match == c.Not {
			ok = false
		}
	}
	if !ok {
		return nil, webdav.ErrConfirmationFailed
	}
	return func() {}, nil
}

func cleanName(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean("/" + p)
}

// Create takes the short exclusive lock x/net/webdav holds on a resource
// it changes for a request that names no lock, so that it fails with 423
// when someone else holds a lock there.
func (v *lockView) Create(_ time.Time, d webdav.LockDetails) (string, error) {
	root := cleanName(d.Root)
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	m := v.st.locks(v.ns)
	for _, l := range m {
		if l.conflict(root, d.ZeroDepth, false) {
			return "", webdav.ErrLocked
		}
	}
	l := &davLock{token: newLockToken(), root: root, zeroDepth: d.ZeroDepth, owner: d.OwnerXML, user: v.user, temp: true}
	m[l.token] = l
	return l.token, nil
}

// Refresh is part of webdav.LockSystem (LOCK is served by this package).
func (v *lockView) Refresh(_ time.Time, token string, d time.Duration) (webdav.LockDetails, error) {
	l, err := v.refresh(token, d)
	if err != nil {
		return webdav.LockDetails{}, err
	}
	return webdav.LockDetails{Root: l.root, Duration: l.timeout, OwnerXML: l.owner, ZeroDepth: l.zeroDepth}, nil
}

// Unlock releases a lock, the library's temporary ones included.
func (v *lockView) Unlock(_ time.Time, token string) error {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	m := v.st.locks(v.ns)
	if _, ok := m[token]; !ok {
		return webdav.ErrNoSuchLock
	}
	delete(m, token)
	return nil
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	return r.Replace(s)
}
