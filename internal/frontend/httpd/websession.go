package httpd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
)

// webSessions are the browser sign-ins: a random token in a cookie, kept
// here only as its SHA-256, mapped to a core session and a CSRF token. A
// session ends on sign-out, after the idle time, when kicked, or when the
// service stops. They live in memory: a restart signs everyone out.
type webSessions struct {
	eng  *core.Engine
	idle time.Duration
	now  func() time.Time
	mu   sync.Mutex
	m    map[[32]byte]*webSession
}

type webSession struct {
	key  [32]byte
	sess *core.Session
	csrf string
	last time.Time
}

func newWebSessions(eng *core.Engine, idle time.Duration, now func() time.Time) *webSessions {
	return &webSessions{eng: eng, idle: idle, now: now, m: make(map[[32]byte]*webSession)}
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// login checks the credentials through core and returns the cookie value.
func (ws *webSessions) login(ctx context.Context, req core.LoginRequest) (string, error) {
	token := randomToken()
	key := sha256.Sum256([]byte(token))
	e := &webSession{key: key, csrf: randomToken(), last: ws.now()}
	req.Disconnect = func() { ws.drop(key) }
	sess, err := ws.eng.Login(ctx, req)
	if err != nil {
		return "", err
	}
	e.sess = sess
	ws.mu.Lock()
	ws.m[key] = e
	ws.mu.Unlock()
	return token, nil
}

// lookup returns the live session for a cookie value and marks it used.
func (ws *webSessions) lookup(token string) *webSession {
	key := sha256.Sum256([]byte(token))
	ws.mu.Lock()
	defer ws.mu.Unlock()
	e, ok := ws.m[key]
	if !ok {
		return nil
	}
	now := ws.now()
	if now.Sub(e.last) > ws.idle || e.sess.Context().Err() != nil {
		delete(ws.m, key)
		go e.sess.Close()
		return nil
	}
	e.last = now
	return e
}

func (ws *webSessions) drop(key [32]byte) {
	ws.mu.Lock()
	e, ok := ws.m[key]
	delete(ws.m, key)
	ws.mu.Unlock()
	if ok && e.sess != nil {
		go e.sess.Close()
	}
}

func (ws *webSessions) logout(token string) { ws.drop(sha256.Sum256([]byte(token))) }

func (ws *webSessions) sweep() {
	now := ws.now()
	var old []*core.Session
	ws.mu.Lock()
	for k, e := range ws.m {
		if now.Sub(e.last) > ws.idle {
			delete(ws.m, k)
			old = append(old, e.sess)
		}
	}
	ws.mu.Unlock()
	for _, s := range old {
		s.Close()
	}
}

func (ws *webSessions) closeAll() {
	ws.mu.Lock()
	all := ws.m
	ws.m = make(map[[32]byte]*webSession)
	ws.mu.Unlock()
	for _, e := range all {
		e.sess.Close()
	}
}

// cookieName is __Host- prefixed under TLS (the browser then insists on
// Secure, Path=/ and no Domain); plain HTTP cannot use the prefix.
func cookieName(tls bool) string {
	if tls {
		return "__Host-ferry"
	}
	return "ferry"
}

func (s *Server) setSessionCookie(w http.ResponseWriter, value string, maxAge int) {
	tls := s.opts.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: cookieName(tls), Value: value, Path: "/", MaxAge: maxAge,
		Secure: tls, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// webSessionFrom returns the browser session of a request, if any.
func (s *Server) webSessionFrom(r *http.Request) (*webSession, string) {
	c, err := r.Cookie(cookieName(s.opts.TLS != nil))
	if err != nil || c.Value == "" {
		return nil, ""
	}
	return s.web.lookup(c.Value), c.Value
}

// csrfOK checks a submitted token against the session's.
func (e *webSession) csrfOK(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(e.csrf)) == 1
}

func webLoginRequest(r *http.Request, user, pw, service string) core.LoginRequest {
	remote, local := addrs(r)
	return core.LoginRequest{Protocol: ferry.HTTP, User: user, Password: pw, Remote: remote, Local: local,
		TLS: r.TLS != nil, Service: service}
}
