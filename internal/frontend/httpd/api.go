package httpd

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/vpath"
)

//go:embed openapi.json
var openAPIDoc []byte

const apiFS = "/api/v1/fs"

// apiRoutes registers the file REST API. Everything under /api/v1/fs/
// takes the file's virtual path after the prefix.
func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPIDoc)
	})
	fsH := s.basicAuth(s.apiFS, "api")
	mux.Handle(apiFS+"/", fsH)
	mux.Handle(apiFS, fsH)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, "not_found", "no such API endpoint")
	})
}

// apiPath is the virtual path a request names.
func apiPath(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, apiFS)
	if p == "" {
		return "/"
	}
	return p
}

func (s *Server) apiFS(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	p := apiPath(r)
	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if q.Has("stat") {
			s.apiStat(w, r, sess, p)
			return
		}
		if q.Has("hash") {
			apiHash(w, r, sess, p, q.Get("hash"))
			return
		}
		fi, err := sess.Stat(r.Context(), p)
		if err != nil {
			apiFail(w, err)
			return
		}
		if fi.IsDir() {
			s.apiList(w, r, sess, p)
			return
		}
		serveFileWith(w, r, sess, p, q.Has("download"), func(w http.ResponseWriter, _ *http.Request, err error) { apiFail(w, err) })
	case http.MethodPut:
		s.apiPut(w, r, sess, p)
	case http.MethodPost:
		switch q.Get("action") {
		case "mkdir":
			if err := sess.Mkdir(r.Context(), p); err != nil {
				apiFail(w, err)
				return
			}
			s.apiStatStatus(w, r, sess, p, http.StatusCreated)
		case "rename":
			to := q.Get("to")
			if to == "" {
				writeAPIError(w, http.StatusBadRequest, "invalid", "rename needs the query parameter to")
				return
			}
			if err := sess.Rename(r.Context(), p, to); err != nil {
				apiFail(w, err)
				return
			}
			s.apiStatStatus(w, r, sess, to, http.StatusOK)
		case "", "upload":
			mr, err := r.MultipartReader()
			if err != nil {
				writeAPIError(w, http.StatusBadRequest, "invalid", "POST uploads need a multipart/form-data body, or action=mkdir|rename")
				return
			}
			infos, err := receiveMultipart(r.Context(), sess, p, mr)
			if err != nil {
				apiFail(w, err)
				return
			}
			out := make([]apiEntry, 0, len(infos))
			for _, u := range infos {
				out = append(out, entryOf(u.dir, u.fi))
			}
			writeJSON(w, http.StatusCreated, map[string]any{"uploaded": out})
		default:
			writeAPIError(w, http.StatusBadRequest, "invalid", "unknown action; accepted: upload, mkdir, rename")
		}
	case http.MethodDelete:
		s.apiDelete(w, r, sess, p, q.Get("recursive") == "true")
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, POST, DELETE")
		writeAPIError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
	}
}

// apiEntry is a file or folder in API replies.
type apiEntry struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Type     string    `json:"type"` // file, dir or symlink
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	Mode     string    `json:"mode"`
}

func entryOf(dir string, fi fs.FileInfo) apiEntry {
	e := apiEntry{Name: fi.Name(), Path: path.Join(dir, fi.Name()), Type: "file", Size: fi.Size(),
		Modified: fi.ModTime().UTC(), Mode: fmt.Sprintf("%04o", fi.Mode().Perm())}
	switch {
	case fi.IsDir():
		e.Type, e.Size = "dir", 0
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Type = "symlink"
	}
	return e
}

func (s *Server) apiStat(w http.ResponseWriter, r *http.Request, sess *core.Session, p string) {
	s.apiStatStatus(w, r, sess, p, http.StatusOK)
}

func (s *Server) apiStatStatus(w http.ResponseWriter, r *http.Request, sess *core.Session, p string, status int) {
	fi, err := sess.Stat(r.Context(), p)
	if err != nil {
		apiFail(w, err)
		return
	}
	vp, _ := vpath.Clean(p)
	e := entryOf(vpath.Dir(vp), fi)
	e.Path = vp
	writeJSON(w, status, e)
}

// apiList streams a folder listing as {"path": …, "entries": [...]}; the
// first entry is read before the status is sent, so a refused listing gets
// its proper error.
func (s *Server) apiList(w http.ResponseWriter, r *http.Request, sess *core.Session, p string) {
	vp, _ := vpath.Clean(p)
	next, stop := iterPull(sess, r.Context(), vp)
	defer stop()
	first, err, ok := next()
	if err != nil {
		apiFail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, `{"path":%s,"entries":[`, mustJSON(vp))
	for i := 0; ok; i++ {
		if i > 0 {
			io.WriteString(w, ",")
		}
		w.Write(mustJSON(entryOf(vp, first)))
		first, err, ok = next()
		if err != nil {
			sess.Logger().Warn("api listing cut short", "path", vp, "err", err)
			return // the client sees truncated JSON
		}
	}
	io.WriteString(w, "]}\n")
}

// iterPull turns a listing into next(): (entry, nil, true), then (nil, nil,
// false) at the end, or (nil, err, false).
func iterPull(sess *core.Session, ctx context.Context, p string) (func() (fs.FileInfo, error, bool), func()) {
	type item struct {
		fi  fs.FileInfo
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan item)
	go func() {
		defer close(ch)
		for fi, err := range sess.List(ctx, p) {
			select {
			case ch <- item{fi, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	next := func() (fs.FileInfo, error, bool) {
		it, ok := <-ch
		if !ok {
			return nil, nil, false
		}
		if it.err != nil {
			return nil, it.err, false
		}
		return it.fi, nil, true
	}
	return next, func() {
		cancel()
		for range ch {
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// apiPut stores the request body at p. ?offset=N resumes an interrupted
// upload at byte N.
func (s *Server) apiPut(w http.ResponseWriter, r *http.Request, sess *core.Session, p string) {
	var off int64
	if o := r.URL.Query().Get("offset"); o != "" {
		n, err := strconv.ParseInt(o, 10, 64)
		if err != nil || n < 0 {
			writeAPIError(w, http.StatusBadRequest, "invalid", "offset must be a non-negative integer")
			return
		}
		off = n
	}
	_, statErr := sess.Stat(r.Context(), p)
	existed := statErr == nil
	if err := putBody(r.Context(), sess, p, off, r.Body, r.ContentLength); err != nil {
		apiFail(w, err)
		return
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	s.apiStatStatus(w, r, sess, p, status)
}

// errShortBody marks a request body that ended before its Content-Length.
var errShortBody = fmt.Errorf("request body ended early: %w", ferry.ErrInvalid)

// putBody streams body into p atomically: it commits only when the whole
// body arrived.
func putBody(ctx context.Context, sess *core.Session, p string, off int64, body io.Reader, length int64) error {
	up, err := sess.OpenWrite(ctx, p, core.WriteOptions{Offset: off})
	if err != nil {
		return err
	}
	n, err := up.ReadFrom(body)
	if err == nil && length >= 0 && n != length {
		err = errShortBody
	}
	if err != nil {
		if !errors.Is(err, ferry.ErrQuota) && !errors.Is(err, ferry.ErrClosed) && !errors.Is(err, fs.ErrPermission) {
			err = fmt.Errorf("%w: %w", errShortBody, err)
		}
		up.Abort(err)
		return err
	}
	return up.Commit()
}

type uploaded struct {
	dir string
	fi  fs.FileInfo
}

// receiveMultipart streams every file part of a multipart body into folder
// dir (the web client's and the API's POST upload). Nothing is buffered:
// each part goes straight into an atomic upload.
func receiveMultipart(ctx context.Context, sess *core.Session, dir string, mr *multipart.Reader) ([]uploaded, error) {
	var out []uploaded
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("httpd: multipart body: %w: %w", errShortBody, err)
		}
		fname := part.FileName()
		if part.FormName() != "file" || fname == "" {
			part.Close()
			continue
		}
		// Browsers send a base name; some send a relative path.
		base := path.Base(strings.ReplaceAll(fname, `\`, "/"))
		if base == "." || base == ".." || base == "/" {
			return out, fmt.Errorf("httpd: file name %q: %w", fname, ferry.ErrInvalid)
		}
		target, err := vpath.Join(dir, base)
		if err != nil {
			return out, err
		}
		if err := putBody(ctx, sess, target, 0, part, -1); err != nil {
			return out, err
		}
		fi, err := sess.Stat(ctx, target)
		if err != nil {
			return out, err
		}
		out = append(out, uploaded{dir: vpath.Dir(target), fi: fi})
	}
}

func (s *Server) apiDelete(w http.ResponseWriter, r *http.Request, sess *core.Session, p string, recursive bool) {
	fi, err := sess.Lstat(r.Context(), p)
	if err != nil {
		apiFail(w, err)
		return
	}
	vp, _ := vpath.Clean(p)
	switch {
	case !fi.IsDir():
		err = sess.Remove(r.Context(), vp)
	case recursive:
		if vpath.IsRoot(vp) {
			err = fmt.Errorf("httpd: delete the home folder: %w", fs.ErrPermission)
		} else {
			err = removeTree(r.Context(), sess, vp)
		}
	default:
		err = sess.Rmdir(r.Context(), vp)
	}
	if err != nil {
		apiFail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeAPIError writes {"error": {"code": …, "message": …}}.
func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func apiFail(w http.ResponseWriter, err error) {
	status, code, msg := httpError(err)
	if errors.Is(err, errShortBody) {
		status, code, msg = http.StatusBadRequest, "incomplete_body", "The upload did not arrive complete; nothing was stored."
	}
	w.Header().Del("Content-Length")
	writeAPIError(w, status, code, msg)
}
