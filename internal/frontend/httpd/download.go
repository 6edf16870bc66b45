package httpd

import (
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/vpath"
)

// fileErrorFunc answers a failed download in the face's own format.
type fileErrorFunc func(w http.ResponseWriter, r *http.Request, err error)

// serveFile answers GET or HEAD for a file: ETag and Last-Modified,
// conditional requests, one byte range (resume), and the body sent with
// Download.CopyTo, which on plain HTTP from local storage is sendfile.
// Multiple ranges are answered with the whole file, as RFC 9110 allows.
func serveFile(w http.ResponseWriter, r *http.Request, sess *core.Session, name string, attachment bool) {
	serveFileWith(w, r, sess, name, attachment, textError)
}

func serveFileWith(w http.ResponseWriter, r *http.Request, sess *core.Session, name string, attachment bool, fail fileErrorFunc) {
	ctx := r.Context()
	var (
		dl        *core.Download
		size      int64
		mod       time.Time
		base, tag string
	)
	if r.Method == http.MethodGet && !conditional(r) {
		// The common download opens the file at once and takes its size
		// and time from the open file: one lookup instead of two.
		var err error
		if dl, err = sess.OpenRead(ctx, name, 0); err != nil {
			fail(w, r, err)
			return
		}
		size, mod, base = dl.Size(), dl.ModTime(), vpath.Base(name)
	} else {
		fi, err := sess.Stat(ctx, name)
		if err != nil {
			fail(w, r, err)
			return
		}
		if fi.IsDir() {
			fail(w, r, fmt.Errorf("httpd: GET %q: %w", name, ferry.ErrIsDir))
			return
		}
		size, mod, base = fi.Size(), fi.ModTime(), fi.Name()
	}
	tag = etagOf(mod, size)
	h := w.Header()
	h["Etag"] = []string{tag}
	h["Last-Modified"] = []string{mod.UTC().Format(http.TimeFormat)}
	h["Accept-Ranges"] = acceptRanges
	h["Content-Type"] = []string{contentType(base)}
	// A user's file is never a page of this site: no scripts, no forms.
	h["Content-Security-Policy"] = fileCSP
	if attachment {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": base}))
	}
	if status := preconditions(r, tag, mod); status != 0 {
		w.WriteHeader(status)
		return
	}
	start, length, status := int64(0), size, http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && ifRange(r, tag, mod) {
		s, l, res := parseRange(rng, size)
		switch res {
		case rangeUnsatisfiable:
			if dl != nil {
				dl.Fail(fmt.Errorf("httpd: range %q not satisfiable for %d bytes", rng, size))
			}
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
			http.Error(w, "416 Range Not Satisfiable", http.StatusRequestedRangeNotSatisfiable)
			return
		case rangeOne:
			start, length, status = s, l, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s, s+l-1, size))
		}
	}
	h["Content-Length"] = []string{strconv.FormatInt(length, 10)}
	if r.Method == http.MethodHead {
		if !sess.Can(ferry.PermDownload, name) {
			h.Del("Content-Length")
			fail(w, r, fmt.Errorf("httpd: HEAD %q: %w", name, fs.ErrPermission))
			return
		}
		w.WriteHeader(status)
		return
	}
	var err error
	if dl == nil {
		dl, err = sess.OpenRead(ctx, name, start)
	} else if start > 0 {
		if _, err = dl.Seek(start, io.SeekStart); err != nil {
			dl.Fail(err)
		}
	}
	if err != nil {
		h.Del("Content-Length")
		h.Del("Content-Range")
		fail(w, r, err)
		return
	}
	w.WriteHeader(status)
	if r.TLS == nil && length > 0 {
		// Send the header now: net/http's ReadFrom then goes straight
		// to sendfile instead of first reading and copying 512 bytes
		// of the file to sniff a Content-Type it already has.
		_ = http.NewResponseController(w).Flush()
	}
	n, err := dl.CopyTo(w, length)
	if err == nil && n < length {
		err = fmt.Errorf("httpd: file shrank while sent: %d of %d bytes", n, length)
	}
	if err != nil {
		dl.Fail(err)
		return
	}
	dl.Close()
}

// Header values every download shares (never appended to).
var (
	acceptRanges = []string{"bytes"}
	fileCSP      = []string{"default-src 'none'; sandbox"}
)

// conditional reports whether r carries a precondition that may answer
// without the body (304 or 412).
func conditional(r *http.Request) bool {
	h := r.Header
	return h["If-Match"] != nil || h["If-None-Match"] != nil || h["If-Modified-Since"] != nil || h["If-Unmodified-Since"] != nil
}

// etagOf is a file's entity tag: its modification time and size.
func etagOf(mod time.Time, size int64) string {
	return `"` + strconv.FormatInt(mod.UnixNano(), 16) + "-" + strconv.FormatInt(size, 16) + `"`
}

func textError(w http.ResponseWriter, _ *http.Request, err error) {
	code, _, msg := httpError(err)
	if code == http.StatusConflict && strings.Contains(err.Error(), ferry.ErrIsDir.Error()) {
		code = http.StatusMethodNotAllowed
		msg = "This is a folder. Use a WebDAV client, or the web client at /."
	}
	http.Error(w, strconv.Itoa(code)+" "+http.StatusText(code)+": "+msg, code)
}

type rangeResult int

const (
	rangeIgnore rangeResult = iota
	rangeOne
	rangeUnsatisfiable
)

// parseRange reads a Range header for a file of size bytes. Malformed and
// multi-range headers are ignored (the whole file is sent).
func parseRange(h string, size int64) (start, length int64, res rangeResult) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, rangeIgnore
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, rangeIgnore
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, rangeIgnore
		}
		if n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		n = min(n, size)
		return size - n, n, rangeOne
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, rangeIgnore
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, 0, rangeIgnore
		}
		last = min(last, size-1)
	}
	if first >= size {
		return 0, 0, rangeUnsatisfiable
	}
	return first, last - first + 1, rangeOne
}

// preconditions evaluates If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since (RFC 9110 section 13.2.2); it returns 0 to go on, or
// 304 or 412.
func preconditions(r *http.Request, tag string, mod time.Time) int {
	mod = mod.Truncate(time.Second)
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagListMatch(im, tag, false) {
			return http.StatusPreconditionFailed
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && mod.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if etagListMatch(inm, tag, true) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				return http.StatusNotModified
			}
			return http.StatusPreconditionFailed
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if t, err := http.ParseTime(ims); err == nil && !mod.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

func etagListMatch(list, tag string, weak bool) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if weak {
			t = strings.TrimPrefix(t, "W/")
		} else if strings.HasPrefix(t, "W/") {
			continue
		}
		if t == tag {
			return true
		}
	}
	return false
}

// ifRange reports whether a Range applies under If-Range.
func ifRange(r *http.Request, tag string, mod time.Time) bool {
	ir := r.Header.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) || strings.HasPrefix(ir, "W/") {
		return ir == tag
	}
	t, err := http.ParseTime(ir)
	return err == nil && mod.Truncate(time.Second).Equal(t)
}
