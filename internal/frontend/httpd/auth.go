package httpd

import (
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

type ctxKey int

const sessionKey ctxKey = iota

// sessionFrom returns the request's core session (set by basicAuth or the
// web client's cookie check).
func sessionFrom(ctx context.Context) *core.Session {
	s, _ := ctx.Value(sessionKey).(*core.Session)
	return s
}

// addrs returns the client's and the server's address of a request.
func addrs(r *http.Request) (remote, local netip.AddrPort) {
	remote, _ = netip.ParseAddrPort(r.RemoteAddr)
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local, _ = netip.ParseAddrPort(la.String())
	}
	return remote, local
}

// basicAuth authenticates a request by HTTP Basic credentials or a Bearer
// user API token through core
// (every failure reaches core's login policy and the defender) and runs h
// with the session in the request context. face is "webdav" or "api".
func (s *Server) basicAuth(h http.HandlerFunc, face string) http.Handler {
	proto := ferry.HTTP
	if face == "webdav" {
		proto = ferry.WebDAV
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remote, local := addrs(r)
		req := core.LoginRequest{Protocol: proto, Remote: remote, Local: local, TLS: r.TLS != nil, Service: s.opts.Service}
		if tok, ok := bearerToken(r); ok {
			req.Token = tok
		} else if req.User, req.Password, ok = r.BasicAuth(); !ok {
			// No credentials is the normal first step of the Basic
			// challenge; credentials that cannot be read are a
			// protocol error the defender scores.
			if h := r.Header.Values("Authorization"); len(h) > 0 {
				s.eng.Report(r.Context(), remote.Addr(), "protocol: malformed Authorization header")
				s.closeIfBanned(w, remote)
			}
			s.unauthorized(w, r, face)
			return
		}
		sess, release, err := s.auth.acquire(r.Context(), req)
		if err != nil {
			// core scored the failure; a client banned by it does not
			// keep guessing on its open connection.
			s.closeIfBanned(w, remote)
			s.unauthorized(w, r, face)
			return
		}
		defer release()
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey, sess)))
	})
}

// closeIfBanned ends the connection after this reply once the defender
// has banned the client: Admit refuses its next connection.
func (s *Server) closeIfBanned(w http.ResponseWriter, remote netip.AddrPort) {
	if s.eng.Admit(remote.Addr()) != nil {
		w.Header().Set("Connection", "close")
	}
}

// bearerToken returns the credentials of an "Authorization: Bearer"
// header (RFC 6750), a user API token.
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, face string) {
	// Drain a small body so the client sees the 401 rather than a reset.
	w.Header().Set("WWW-Authenticate", `Basic realm="Ferry", charset="UTF-8"`)
	if face == "api" {
		// Basic stays first: clients that take the first challenge know it.
		w.Header().Add("WWW-Authenticate", `Bearer realm="Ferry"`)
		writeAPIError(w, http.StatusUnauthorized, "unauthorized", "authentication required")
		return
	}
	http.Error(w, "401 Unauthorized: sign in with your Ferry user name and password", http.StatusUnauthorized)
}

// sessionCache reuses sessions opened by HTTP Basic credentials or a
// Bearer token: HTTP clients send credentials on every request, and one
// core session per client keeps `ferry who` and the event log readable.
// An entry is keyed by protocol, user, password (or token) and client IP,
// lives while requests use it for at most ttl from the login (then the
// next request logs in again, which core's verified-password cache keeps
// cheap); a failed login is never cached, so each one reaches core. A
// kicked session leaves the cache at once.
type sessionCache struct {
	eng *core.Engine
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[[32]byte]*cachedSession
}

type cachedSession struct {
	key     [32]byte
	user    string
	token   string // the token's stored hash, for a token login
	sess    *core.Session
	refs    int
	created time.Time
	last    time.Time
	dead    bool
}

func newSessionCache(eng *core.Engine, ttl time.Duration, now func() time.Time) *sessionCache {
	return &sessionCache{eng: eng, ttl: ttl, now: now, m: make(map[[32]byte]*cachedSession)}
}

func credKey(req core.LoginRequest) [32]byte {
	h := sha256.New()
	for _, s := range []string{string(req.Protocol), req.User, req.Password, req.Token, req.Remote.Addr().String()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// acquire returns a session for req and a release func to call when the
// request ends.
func (c *sessionCache) acquire(ctx context.Context, req core.LoginRequest) (*core.Session, func(), error) {
	if c.ttl < 0 {
		sess, err := c.eng.Login(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		return sess, func() { sess.Close() }, nil
	}
	key := credKey(req)
	c.mu.Lock()
	if e, ok := c.m[key]; ok {
		if c.usable(e) {
			e.refs++
			c.mu.Unlock()
			return e.sess, func() { c.release(e) }, nil
		}
		c.retire(e)
	}
	c.mu.Unlock()
	e := &cachedSession{key: key, created: c.now(), user: req.User}
	if req.Token != "" {
		e.token = ferry.HashUserToken(req.Token)
	}
	req.Disconnect = func() { c.drop(e) }
	sess, err := c.eng.Login(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	if old, ok := c.m[key]; ok && c.usable(old) {
		// Another request logged in meanwhile: use its session.
		old.refs++
		c.mu.Unlock()
		sess.Close()
		return old.sess, func() { c.release(old) }, nil
	}
	e.sess, e.refs = sess, 1
	c.m[key] = e
	c.mu.Unlock()
	return sess, func() { c.release(e) }, nil
}

// usable reports whether a cached session may serve another request: it
// is alive and younger than ttl, so that a password change, a disabled
// account or new permissions apply within ttl even to a busy client. The
// caller holds mu.
func (c *sessionCache) usable(e *cachedSession) bool {
	return !e.dead && e.sess.Context().Err() == nil && c.now().Sub(e.created) < c.ttl
}

// retire takes e out of the cache; it closes when its last request ends.
// The caller holds mu.
func (c *sessionCache) retire(e *cachedSession) {
	delete(c.m, e.key)
	e.dead = true
	if e.refs == 0 {
		go e.sess.Close()
	}
}

func (c *sessionCache) release(e *cachedSession) {
	c.mu.Lock()
	e.refs--
	e.last = c.now()
	closeNow := e.dead && e.refs == 0
	c.mu.Unlock()
	if closeNow {
		e.sess.Close()
	}
}

// drop removes a kicked session; it closes when its last request ends.
func (c *sessionCache) drop(e *cachedSession) {
	c.mu.Lock()
	if cur, ok := c.m[e.key]; ok && cur == e {
		delete(c.m, e.key)
	}
	e.dead = true
	closeNow := e.refs == 0 && e.sess != nil
	c.mu.Unlock()
	if closeNow {
		go e.sess.Close()
	}
}

// forget retires the cached sessions for which match is true (a token
// revoked or a password changed through this server): the next request
// logs in again, and old credentials fail at once instead of within ttl.
func (c *sessionCache) forget(match func(*cachedSession) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.m {
		if e.sess != nil && match(e) {
			c.retire(e)
		}
	}
}

// sweep closes sessions idle for longer than ttl.
func (c *sessionCache) sweep() {
	now := c.now()
	var idle []*core.Session
	c.mu.Lock()
	for k, e := range c.m {
		if e.refs == 0 && (now.Sub(e.last) >= c.ttl || now.Sub(e.created) >= c.ttl) {
			delete(c.m, k)
			e.dead = true
			idle = append(idle, e.sess)
		}
	}
	c.mu.Unlock()
	for _, s := range idle {
		s.Close()
	}
}

// closeAll closes every cached session (service stop).
func (c *sessionCache) closeAll() {
	c.mu.Lock()
	all := c.m
	c.m = make(map[[32]byte]*cachedSession)
	for _, e := range all {
		e.dead = true
	}
	c.mu.Unlock()
	for _, e := range all {
		e.sess.Close()
	}
}
