package httpd

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/vpath"
)

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

type templates struct{ t *template.Template }

func loadTemplates() (*templates, error) {
	t, err := template.ParseFS(webFS, "web/templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("httpd: templates: %w", err)
	}
	return &templates{t: t}, nil
}

const webSessionKey ctxKey = 100

// webRoutes registers the browser client.
func (s *Server) webRoutes(mux *http.ServeMux) {
	static, _ := fs.Sub(webFS, "web/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if e, _ := s.webSessionFrom(r); e != nil {
			http.Redirect(w, r, "/files/", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /login", s.webLoginPage)
	mux.HandleFunc("POST /login", s.webLogin)
	mux.HandleFunc("POST /logout", s.webAuthed(s.webLogout))
	mux.HandleFunc("GET /files/{path...}", s.webAuthed(s.webFiles))
	mux.HandleFunc("POST /upload/{path...}", s.webAuthed(s.webUpload))
	mux.HandleFunc("POST /mkdir", s.webAuthed(s.webMkdir))
	mux.HandleFunc("GET /rename", s.webAuthed(s.webConfirm("rename")))
	mux.HandleFunc("POST /rename", s.webAuthed(s.webRename))
	mux.HandleFunc("GET /delete", s.webAuthed(s.webConfirm("delete")))
	mux.HandleFunc("POST /delete", s.webAuthed(s.webDelete))
	s.accountRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 Not Found", http.StatusNotFound)
	})
}

// page is what every template gets.
type page struct {
	Title, User, CSRF, Msg, Err string
	LoginUser                   string
	// folder pages
	Dir, UploadURL, ParentURL string
	Crumbs                    []crumb
	Entries                   []row
	Sort, Order               string
	// rename and delete pages
	Target, TargetName, BackURL string
	IsDir                       bool
	// account pages: Nav marks the current one
	Nav                 string
	Tokens              []tokenRow
	Expiries            []int
	NewToken, TokenName string
}

type crumb struct {
	Name, URL string
	Current   bool
}

type row struct {
	Name, URL, Size, Modified, ISO, RenameURL, DeleteURL string
	Bytes                                                int64
	IsDir                                                bool
	mod                                                  time.Time
}

// SortURL links to this folder sorted by key (toggling the order when it
// is already the key).
func (p *page) SortURL(key string) string {
	order := "asc"
	if p.Sort == key && p.Order == "asc" {
		order = "desc"
	}
	return "?sort=" + key + "&order=" + order
}

// SortMark shows the active sort column's direction.
func (p *page) SortMark(key string) string {
	if p.Sort != key {
		return ""
	}
	if p.Order == "desc" {
		return " ▼"
	}
	return " ▲"
}

// AriaSort is the aria-sort value of a column.
func (p *page) AriaSort(key string) string {
	if p.Sort != key {
		return "none"
	}
	if p.Order == "desc" {
		return "descending"
	}
	return "ascending"
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p *page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.tmpl.t.ExecuteTemplate(w, name, p); err != nil {
		s.log.Warn("render", "template", name, "err", err)
	}
}

// webAuthed runs h for a signed-in browser, checking the CSRF token of
// every POST (the upload handler checks its own, in the multipart body).
// http.CrossOriginProtection in front of the whole service refuses
// cross-origin browser writes before they get here.
func (s *Server) webAuthed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e, _ := s.webSessionFrom(r)
		if e == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "401 Unauthorized: your session has ended; sign in again", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost && !strings.HasPrefix(r.URL.Path, "/upload/") {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !e.csrfOK(r.PostFormValue("csrf")) {
				http.Error(w, "403 Forbidden: the form's security token is missing or wrong; reload the page and try again", http.StatusForbidden)
				return
			}
		}
		ctx := context.WithValue(r.Context(), sessionKey, e.sess)
		ctx = context.WithValue(ctx, webSessionKey, e)
		h(w, r.WithContext(ctx))
	}
}

func webSessionOf(r *http.Request) *webSession {
	e, _ := r.Context().Value(webSessionKey).(*webSession)
	return e
}

func (s *Server) webLoginPage(w http.ResponseWriter, r *http.Request) {
	if e, _ := s.webSessionFrom(r); e != nil {
		http.Redirect(w, r, "/files/", http.StatusSeeOther)
		return
	}
	p := &page{Title: "Sign in"}
	if r.URL.Query().Get("ok") == "signedout" {
		p.Msg = "You are signed out."
	}
	s.render(w, http.StatusOK, "login", p)
}

func (s *Server) webLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	user, pw := r.PostFormValue("user"), r.PostFormValue("password")
	token, err := s.web.login(r.Context(), webLoginRequest(r, user, pw, s.opts.Service))
	if err != nil {
		msg := "Wrong user name or password."
		if !errors.Is(err, ferry.ErrAuth) {
			msg = "Sign-in is not possible right now."
		}
		remote, _ := addrs(r)
		s.closeIfBanned(w, remote)
		s.render(w, http.StatusUnauthorized, "login", &page{Title: "Sign in", Err: msg, LoginUser: user})
		return
	}
	s.setSessionCookie(w, token, 0)
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/files/") {
		next = "/files/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) webLogout(w http.ResponseWriter, r *http.Request) {
	if _, token := s.webSessionFrom(r); token != "" {
		s.web.logout(token)
	}
	s.setSessionCookie(w, "", -1)
	http.Redirect(w, r, "/login?ok=signedout", http.StatusSeeOther)
}

func filesURL(p string) string {
	u := (&url.URL{Path: path.Join("/files", p)}).EscapedPath()
	if p == "/" || strings.HasSuffix(p, "/") {
		u += "/"
	}
	return u
}

var okMessages = map[string]string{
	"uploaded": "Upload complete.", "created": "Folder created.", "renamed": "Renamed.", "deleted": "Deleted.",
	"revoked": "Token revoked.", "password": "Your password has been changed.",
}

// errMessages turns the error codes of httpError into sentences.
func errMessage(code string) string {
	msgs := map[string]string{
		"not_found": "That file or folder does not exist.", "forbidden": "You do not have permission to do that here.",
		"exists": "Something with that name already exists.", "not_empty": "The folder is not empty.",
		"is_directory": "That is a folder, not a file.", "not_directory": "That is a file, not a folder.",
		"invalid": "That name or request is not valid.", "quota_exceeded": "Your storage quota is exhausted.",
		"limit": "A limit was reached; try again later.", "incomplete_body": "The upload did not arrive complete; nothing was stored.",
	}
	if m, ok := msgs[code]; ok {
		return m
	}
	if code == "" {
		return ""
	}
	return "Something went wrong on the server."
}

func (s *Server) basePage(r *http.Request, title string) *page {
	e := webSessionOf(r)
	q := r.URL.Query()
	return &page{Title: title, User: e.sess.User().Name, CSRF: e.csrf, Msg: okMessages[q.Get("ok")], Err: errMessage(q.Get("e"))}
}

func (s *Server) webFiles(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	dir, err := vpath.Clean("/" + r.PathValue("path"))
	if err != nil {
		s.webError(w, r, err)
		return
	}
	fi, err := sess.Stat(r.Context(), dir)
	if err != nil {
		s.webError(w, r, err)
		return
	}
	if !fi.IsDir() {
		serveFileWith(w, r, sess, dir, true, s.webError)
		return
	}
	p := s.basePage(r, "Files")
	p.Nav = "files"
	if !vpath.IsRoot(dir) {
		p.Title = vpath.Base(dir)
		p.ParentURL = filesURL(vpath.Dir(dir))
	}
	p.Dir, p.UploadURL = dir, (&url.URL{Path: path.Join("/upload", dir) + "/"}).EscapedPath()
	p.Crumbs = crumbs(dir)
	for fi, err := range sess.List(r.Context(), dir) {
		if err != nil {
			s.webError(w, r, err)
			return
		}
		full := path.Join(dir, fi.Name())
		rw := row{Name: fi.Name(), IsDir: fi.IsDir(), Bytes: fi.Size(), Size: humanSize(fi.Size()),
			Modified: fi.ModTime().UTC().Format("2006-01-02 15:04"), ISO: fi.ModTime().UTC().Format(time.RFC3339),
			mod: fi.ModTime(), RenameURL: "/rename?path=" + url.QueryEscape(full), DeleteURL: "/delete?path=" + url.QueryEscape(full)}
		rw.URL = filesURL(full)
		if fi.IsDir() {
			rw.URL += "/"
		}
		p.Entries = append(p.Entries, rw)
	}
	p.Sort, p.Order = r.URL.Query().Get("sort"), r.URL.Query().Get("order")
	if p.Sort != "size" && p.Sort != "modified" {
		p.Sort = "name"
	}
	if p.Order != "desc" {
		p.Order = "asc"
	}
	sortRows(p.Entries, p.Sort, p.Order == "desc")
	s.render(w, http.StatusOK, "files", p)
}

func crumbs(dir string) []crumb {
	out := []crumb{{Name: "Home", URL: "/files/"}}
	if vpath.IsRoot(dir) {
		out[0].Current = true
		return out
	}
	acc := ""
	parts := strings.Split(strings.Trim(dir, "/"), "/")
	for i, part := range parts {
		acc += "/" + part
		out = append(out, crumb{Name: part, URL: filesURL(acc) + "/", Current: i == len(parts)-1})
	}
	return out
}

// sortRows sorts folders first, then by key.
func sortRows(rows []row, key string, desc bool) {
	slices.SortStableFunc(rows, func(a, b row) int {
		if a.IsDir != b.IsDir {
			if a.IsDir {
				return -1
			}
			return 1
		}
		var c int
		switch key {
		case "size":
			c = cmp.Compare(a.Bytes, b.Bytes)
		case "modified":
			c = a.mod.Compare(b.mod)
		}
		if c == 0 {
			c = cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}
		if desc {
			c = -c
		}
		return c
	})
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// webError answers a failed page request in words.
func (s *Server) webError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, _ := httpError(err)
	if errors.Is(err, errShortBody) {
		status, code = http.StatusBadRequest, "incomplete_body"
	}
	if e := webSessionOf(r); e != nil {
		p := s.basePage(r, "Error")
		p.Msg, p.Err = "", errMessage(code)
		p.Crumbs = crumbs("/")
		p.BackURL = "/files/"
		s.render(w, status, "error", p)
		return
	}
	http.Error(w, errMessage(code), status)
}

// back redirects to a folder page with an outcome code.
func back(w http.ResponseWriter, r *http.Request, dir string, err error, okCode string) {
	q := "?ok=" + okCode
	if err != nil {
		_, code, _ := httpError(err)
		if errors.Is(err, errShortBody) {
			code = "incomplete_body"
		}
		q = "?e=" + code
	}
	u := filesURL(dir)
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	http.Redirect(w, r, u+q, http.StatusSeeOther)
}

// webUpload receives a multipart upload: the first part must be the CSRF
// token (the form puts it first), then any number of files, each streamed
// into an atomic upload.
func (s *Server) webUpload(w http.ResponseWriter, r *http.Request) {
	e := webSessionOf(r)
	xhr := r.Header.Get("X-Requested-With") == "XMLHttpRequest"
	dir, err := vpath.Clean("/" + r.PathValue("path"))
	fail := func(status int, code string, err error) {
		if xhr {
			if err != nil {
				apiFail(w, err)
			} else {
				writeAPIError(w, status, code, errMessage(code))
			}
			return
		}
		if err == nil {
			http.Error(w, errMessage(code), status)
			return
		}
		back(w, r, dir, err, "")
	}
	if err != nil {
		fail(0, "", err)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		fail(http.StatusBadRequest, "invalid", nil)
		return
	}
	first, err := mr.NextPart()
	if err != nil || first.FormName() != "csrf" {
		http.Error(w, "403 Forbidden: the form's security token is missing; reload the page and try again", http.StatusForbidden)
		return
	}
	tok, _ := io.ReadAll(io.LimitReader(first, 256))
	if !e.csrfOK(string(tok)) {
		http.Error(w, "403 Forbidden: the form's security token is wrong; reload the page and try again", http.StatusForbidden)
		return
	}
	done, err := receiveMultipart(r.Context(), e.sess, dir, mr)
	if err != nil {
		fail(0, "", err)
		return
	}
	if xhr {
		writeJSON(w, http.StatusCreated, map[string]any{"uploaded": len(done)})
		return
	}
	back(w, r, dir, nil, "uploaded")
}

func (s *Server) webMkdir(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	dir, name := r.PostFormValue("dir"), r.PostFormValue("name")
	target, err := childPath(dir, name)
	if err == nil {
		err = sess.Mkdir(r.Context(), target)
	}
	back(w, r, cleanOrRoot(dir), err, "created")
}

// childPath joins a single name (no slashes) to dir.
func childPath(dir, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", fmt.Errorf("httpd: name %q: %w", name, ferry.ErrInvalid)
	}
	return vpath.Join(cleanOrRoot(dir), name)
}

func cleanOrRoot(p string) string {
	c, err := vpath.Clean(p)
	if err != nil {
		return "/"
	}
	return c
}

// webConfirm renders the rename form or the delete confirmation.
func (s *Server) webConfirm(which string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r.Context())
		target := cleanOrRoot(r.URL.Query().Get("path"))
		fi, err := sess.Lstat(r.Context(), target)
		if err != nil {
			s.webError(w, r, err)
			return
		}
		title := "Rename"
		if which == "delete" {
			title = "Delete"
		}
		p := s.basePage(r, title+" "+vpath.Base(target))
		p.Target, p.TargetName, p.IsDir = target, vpath.Base(target), fi.IsDir()
		p.BackURL = filesURL(vpath.Dir(target))
		if !strings.HasSuffix(p.BackURL, "/") {
			p.BackURL += "/"
		}
		s.render(w, http.StatusOK, which, p)
	}
}

func (s *Server) webRename(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	from := cleanOrRoot(r.PostFormValue("path"))
	to, err := childPath(vpath.Dir(from), r.PostFormValue("name"))
	if err == nil {
		err = sess.Rename(r.Context(), from, to)
	}
	back(w, r, vpath.Dir(from), err, "renamed")
}

func (s *Server) webDelete(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	target := cleanOrRoot(r.PostFormValue("path"))
	var err error
	if vpath.IsRoot(target) {
		err = fmt.Errorf("httpd: delete the home folder: %w", fs.ErrPermission)
	} else {
		err = removeTree(r.Context(), sess, target)
	}
	back(w, r, vpath.Dir(target), err, "deleted")
}
