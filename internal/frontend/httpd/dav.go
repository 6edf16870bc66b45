package httpd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/webdav"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/vpath"
)

const davPrefix = "/dav"

// serveDAV serves one authenticated WebDAV request. x/net/webdav does the
// protocol; this package supplies the FileSystem and LockSystem over core
// and serves itself what the library does not do the way Ferry needs:
// GET/HEAD (ranges, zero-copy), LOCK/UNLOCK (shared locks), PROPFIND depth
// policy, PUT's 204 and status codes for permission and quota errors.
func (s *Server) serveDAV(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	name := strings.TrimPrefix(r.URL.Path, davPrefix)
	if name == "" {
		name = "/"
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		serveFile(w, r, sess, name, false)
		return
	}
	u := sess.User()
	st := &reqState{}
	fsys := &davFS{s: sess, props: s.props.view(u.Home), st: st, method: r.Method}
	lv := &lockView{st: s.locks, ns: u.Home, user: u.Name, prefix: davPrefix, fs: fsys}
	fsys.locks = lv
	switch r.Method {
	case "PROPFIND", "PROPPATCH", "LOCK":
		if !s.readXMLBody(w, r) {
			return
		}
		if r.Method == "PROPFIND" && !s.opts.PropfindInfinity {
			if d := r.Header.Get("Depth"); d == "" || strings.EqualFold(d, "infinity") {
				w.Header().Set("Content-Type", "application/xml; charset=utf-8")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+
					`<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>`)
				return
			}
		}
		if r.Method == "LOCK" {
			s.davLock(w, r, fsys, lv, name)
			return
		}
	case "UNLOCK":
		s.davUnlock(w, r, lv, name)
		return
	case http.MethodPut:
		if cr := r.Header.Get("Content-Range"); cr != "" {
			off, ok := putRange(cr, r.ContentLength)
			if !ok {
				http.Error(w, "400 Bad Request: Content-Range on PUT must be bytes N-M/* (or /M+1) continuing an upload at N",
					http.StatusBadRequest)
				return
			}
			fsys.offset = off
		}
	}
	h := &webdav.Handler{Prefix: davPrefix, FileSystem: fsys, LockSystem: lv,
		Logger: func(r *http.Request, err error) {
			if err != nil {
				sess.Logger().Debug("webdav", "method", r.Method, "path", r.URL.Path, "err", err)
			}
		}}
	h.ServeHTTP(&davWriter{ResponseWriter: w, st: st, method: r.Method}, r)
}

// putRange reads the Content-Range of a resumed PUT ("bytes N-M/*" or
// "bytes N-M/M+1"): the body is the rest of the file from byte N.
func putRange(h string, length int64) (int64, bool) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !ok {
		return 0, false
	}
	rng, total, ok := strings.Cut(spec, "/")
	if !ok {
		return 0, false
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first-1 {
		return 0, false
	}
	if length >= 0 && last-first+1 != length {
		return 0, false
	}
	if total != "*" && total != strconv.FormatInt(last+1, 10) {
		return 0, false
	}
	return first, true
}

// emptyPrefix finds a namespace prefix bound to the empty name, which XML
// Namespaces 1.0 forbids (xmlns:x=""); encoding/xml accepts it.
var emptyPrefix = regexp.MustCompile(`xmlns:[^\s=>]+\s*=\s*(""|'')`)

// readXMLBody reads a WebDAV XML request body (bounded) so it can be
// checked, and puts it back for the handler. It reports false after
// answering an error itself.
func (s *Server) readXMLBody(w http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxXMLBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			http.Error(w, "413 Request Entity Too Large: XML body over the limit", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "400 Bad Request", http.StatusBadRequest)
		}
		return false
	}
	if emptyPrefix.Match(body) {
		http.Error(w, "400 Bad Request: empty namespace prefix declaration", http.StatusBadRequest)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return true
}

// davWriter adjusts the statuses x/net/webdav writes: 204 for a PUT that
// replaced a file, the committed file's ETag, and 403/507/503 when core
// refused for a permission, quota or limit reason.
type davWriter struct {
	http.ResponseWriter
	st     *reqState
	method string
	wrote  bool
	mute   bool
}

func (d *davWriter) WriteHeader(code int) {
	if d.wrote {
		return
	}
	d.wrote = true
	d.st.mu.Lock()
	err, existed, tag := d.st.err, d.st.existed, d.st.etag
	d.st.mu.Unlock()
	if d.method == http.MethodPut && code == http.StatusCreated {
		if tag != "" {
			d.Header().Set("ETag", tag)
		}
		if existed {
			code = http.StatusNoContent
		}
	}
	if code >= 400 && err != nil {
		if c := davStatus(err, code); c != code {
			code = c
			d.mute = true
			d.Header().Set("Content-Type", "text/plain; charset=utf-8")
			d.ResponseWriter.WriteHeader(code)
			_, _, msg := httpError(err)
			io.WriteString(d.ResponseWriter, strconv.Itoa(code)+" "+http.StatusText(code)+": "+msg+"\n")
			return
		}
	}
	if code == http.StatusNoContent {
		d.mute = true
	}
	d.ResponseWriter.WriteHeader(code)
}

func (d *davWriter) Write(b []byte) (int, error) {
	if !d.wrote {
		d.WriteHeader(http.StatusOK)
	}
	if d.mute {
		return len(b), nil
	}
	return d.ResponseWriter.Write(b)
}

// lockInfo is a LOCK request body (RFC 4918 section 14.11).
type lockInfo struct {
	XMLName   xml.Name  `xml:"DAV: lockinfo"`
	Exclusive *struct{} `xml:"lockscope>exclusive"`
	Shared    *struct{} `xml:"lockscope>shared"`
	Write     *struct{} `xml:"locktype>write"`
	Owner     *struct {
		InnerXML string `xml:",innerxml"`
	} `xml:"owner"`
}

var ifToken = regexp.MustCompile(`<([^>\s]+)>`)

// davLock creates or refreshes a lock.
func (s *Server) davLock(w http.ResponseWriter, r *http.Request, fsys *davFS, lv *lockView, name string) {
	p, err := vpath.Clean(name)
	if err != nil {
		http.Error(w, "400 Bad Request", http.StatusBadRequest)
		return
	}
	timeout := s.lockTimeout(r.Header.Get("Timeout"))
	body, _ := io.ReadAll(r.Body)
	if len(bytes.TrimSpace(body)) == 0 {
		// Refresh: the lock token comes in the If header.
		for _, m := range ifToken.FindAllStringSubmatch(r.Header.Get("If"), -1) {
			if l, err := lv.refresh(m[1], timeout); err == nil && l.covers(p) {
				writeLockReply(w, lv, l, http.StatusOK)
				return
			}
		}
		http.Error(w, "412 Precondition Failed: no lock to refresh", http.StatusPreconditionFailed)
		return
	}
	var li lockInfo
	if err := xml.Unmarshal(body, &li); err != nil || li.Write == nil || (li.Exclusive == nil) == (li.Shared == nil) {
		http.Error(w, "400 Bad Request: not a valid lockinfo", http.StatusBadRequest)
		return
	}
	zeroDepth := false
	switch d := r.Header.Get("Depth"); strings.ToLower(d) {
	case "", "infinity":
	case "0":
		zeroDepth = true
	default:
		http.Error(w, "400 Bad Request: Depth must be 0 or infinity", http.StatusBadRequest)
		return
	}
	sess := fsys.s
	if !sess.Can(ferry.PermUpload, p) {
		http.Error(w, "403 Forbidden: locking needs the upload right", http.StatusForbidden)
		return
	}
	owner := ""
	if li.Owner != nil {
		owner = li.Owner.InnerXML
	}
	l, err := lv.create(p, zeroDepth, li.Shared != nil, owner, timeout)
	if err != nil {
		http.Error(w, "423 Locked", http.StatusLocked)
		return
	}
	status := http.StatusOK
	if _, err := sess.Stat(r.Context(), p); errors.Is(err, fs.ErrNotExist) {
		// Locking an unmapped URL creates an empty resource.
		err = createEmpty(r, sess, p)
		if err != nil {
			lv.unlock(l.token, p)
			code, _, msg := httpError(err)
			if code == http.StatusNotFound {
				code = http.StatusConflict
			}
			http.Error(w, msg, code)
			return
		}
		status = http.StatusCreated
	}
	w.Header().Set("Lock-Token", "<"+l.token+">")
	writeLockReply(w, lv, l, status)
}

func createEmpty(r *http.Request, sess *core.Session, p string) error {
	up, err := sess.OpenWrite(r.Context(), p, core.WriteOptions{})
	if err != nil {
		return err
	}
	return up.Commit()
}

func writeLockReply(w http.ResponseWriter, lv *lockView, l *davLock, status int) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+
		`<D:prop xmlns:D="DAV:"><D:lockdiscovery>`+lv.activeLock(l, lv.st.now())+`</D:lockdiscovery></D:prop>`)
}

// lockTimeout reads a Timeout header ("Second-N" or "Infinite", the first
// understood one wins), capped by the LockMaxTimeout option.
func (s *Server) lockTimeout(h string) time.Duration {
	max := s.opts.LockMaxTimeout
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if strings.EqualFold(part, "Infinite") {
			return max
		}
		if n, ok := strings.CutPrefix(part, "Second-"); ok {
			if secs, err := strconv.ParseInt(n, 10, 64); err == nil && secs > 0 {
				if secs > int64(max/time.Second) {
					return max
				}
				return time.Duration(secs) * time.Second
			}
		}
	}
	return max
}

func (s *Server) davUnlock(w http.ResponseWriter, r *http.Request, lv *lockView, name string) {
	t := r.Header.Get("Lock-Token")
	if len(t) < 2 || t[0] != '<' || t[len(t)-1] != '>' {
		http.Error(w, "400 Bad Request: Lock-Token header missing", http.StatusBadRequest)
		return
	}
	p, err := vpath.Clean(name)
	if err != nil {
		http.Error(w, "400 Bad Request", http.StatusBadRequest)
		return
	}
	if err := lv.unlock(t[1:len(t)-1], p); err != nil {
		http.Error(w, "409 Conflict: no such lock on this resource", http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
