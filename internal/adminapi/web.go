package adminapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

//go:embed web
var webFiles embed.FS

// webAdmin serves the browser administration pages under /admin/: plain
// HTML forms (no script needed), signed in with a session cookie that
// holds a session token, protected against cross-site requests by
// http.CrossOriginProtection and a per-session form token.
type webAdmin struct {
	s     *Server
	pages map[string]*template.Template
	mux   *http.ServeMux
	cop   *http.CrossOriginProtection
}

// webPage is what every template gets.
type webPage struct {
	Title  string
	Admin  *ferry.Admin
	CSRF   string
	Flash  string
	Error  string
	Errors map[string]string // field → message
	Form   url.Values
	Data   any
}

func newWebAdmin(s *Server) (*webAdmin, error) {
	wa := &webAdmin{s: s, pages: map[string]*template.Template{}, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	funcs := template.FuncMap{
		"since": func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.Local().Format(time.DateTime)
		},
		"join":  strings.Join,
		"lines": func(v []string) string { return strings.Join(v, "\n") },
		"perms": func(ps []ferry.PathPerm) string {
			var out []string
			for _, p := range ps {
				out = append(out, p.Path+"="+p.Perms.String())
			}
			return strings.Join(out, "\n")
		},
		"kinds": func() []ferry.ServiceKind { return ferry.ServiceKinds },
		// val is the posted form's value of field after a refused
		// submission, else the record's (def).
		"val": func(form url.Values, field, def string) string {
			if form != nil {
				return form.Get(field)
			}
			return def
		},
		// has reports whether the form holds value v for field.
		"has": func(form url.Values, field string, v any) bool {
			return slices.Contains(form[field], fmt.Sprint(v))
		},
		"num": func(v any) string {
			switch x := v.(type) {
			case *int64:
				if x != nil {
					return strconv.FormatInt(*x, 10)
				}
			case *int:
				if x != nil {
					return strconv.Itoa(*x)
				}
			}
			return ""
		},
		"tri": func(b *bool) string {
			switch {
			case b == nil:
				return ""
			case *b:
				return "yes"
			}
			return "no"
		},
		"mounts": func(ms []ferry.Mount) string {
			var out []string
			for _, m := range ms {
				l := m.Path + "=" + m.Folder
				if m.ReadOnly {
					l += ":ro"
				}
				out = append(out, l)
			}
			return strings.Join(out, "\n")
		},
		"protos": func(ps []ferry.Protocol) string {
			var out []string
			for _, p := range ps {
				out = append(out, string(p))
			}
			return strings.Join(out, ", ")
		},
		"expiry": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04")
		},
		"locationForm": func(l any, f url.Values, e map[string]string, csrf string) locationFormView {
			v := locationFormView{F: f, E: e, CSRF: csrf}
			if lv, ok := l.(locationView); ok {
				v.L = &lv
			}
			return v
		},
		"options": optionLines,
		"policyForm": func(p ferry.Policy, f url.Values, e map[string]string, group bool) policyView {
			return policyView{P: p, F: f, E: e, Group: group}
		},
		"events": func(es []ferry.EventType) string {
			var out []string
			for _, e := range es {
				out = append(out, string(e))
			}
			return strings.Join(out, ", ")
		},
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(webFiles, "web/layout.html", "web/*.tmpl")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(webFiles, "web/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if strings.HasSuffix(n, "/layout.html") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(webFiles, n)
		if err != nil {
			return nil, err
		}
		wa.pages[strings.TrimSuffix(strings.TrimPrefix(n, "web/"), ".html")] = t
	}
	wa.routes()
	return wa, nil
}

func (wa *webAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Cache-Control", "no-store")
	wa.cop.Handler(wa.mux).ServeHTTP(w, r)
}

// webHandler handles a signed-in webPage; it returns an error to show.
type webHandler func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error

// webPage registers a signed-in route. POSTs need the form token.
func (wa *webAdmin) handle(pattern string, h webHandler) {
	wa.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			wa.toLogin(w, r)
			return
		}
		p, err := wa.s.principalFor(r.Context(), c.Value)
		if err != nil {
			wa.toLogin(w, r)
			return
		}
		pg := &webPage{Admin: p.admin, CSRF: csrfToken(c.Value), Flash: r.URL.Query().Get("flash"), Errors: map[string]string{}}
		if r.Method == http.MethodPost {
			if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(pg.CSRF)) {
				http.Error(w, "the form expired; reload the webPage and try again", http.StatusForbidden)
				return
			}
		}
		if err := h(w, r, p, pg); err != nil {
			ae := apiErr(err)
			if ae.Status >= 500 {
				wa.s.log.Error("web admin", "path", r.URL.Path, "err", err)
			}
			w.WriteHeader(ae.Status)
			pg.Error = ae.Message
			wa.render(w, "error", pg)
		}
	})
}

func (wa *webAdmin) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "signed out; sign in again", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// csrfToken derives the form token from the session secret: a webPage from
// another site cannot read the cookie, so it cannot compute the token.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("ferry admin form"))
	return hex.EncodeToString(m.Sum(nil))
}

func (wa *webAdmin) render(w http.ResponseWriter, name string, pg *webPage) {
	t, ok := wa.pages[name]
	if !ok {
		http.Error(w, "no webPage "+name, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := t.ExecuteTemplate(w, "layout.html", pg); err != nil {
		wa.s.log.Warn("render webPage", "webPage", name, "err", err)
	}
}

// back redirects to path with a flash message (POST/redirect/GET).
func back(w http.ResponseWriter, r *http.Request, path, flash string) {
	http.Redirect(w, r, path+"?flash="+url.QueryEscape(flash), http.StatusSeeOther)
}

func (wa *webAdmin) login(w http.ResponseWriter, r *http.Request) {
	pg := &webPage{Title: "Sign in", Form: url.Values{"next": {r.URL.Query().Get("next")}}}
	if r.Method == http.MethodPost {
		pg.Form = r.PostForm
		if err := r.ParseForm(); err == nil {
			pg.Form = r.PostForm
		}
		secret, t, _, err := wa.s.signIn(r.Context(), remoteAddr(r), r.PostFormValue("name"), r.PostFormValue("password"))
		if err == nil {
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/admin/", HttpOnly: true,
				Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, Expires: t.ExpiresAt})
			next := r.PostFormValue("next")
			if !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "//") {
				next = "/admin/"
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		ae := apiErr(err)
		w.WriteHeader(ae.Status)
		pg.Error = ae.Message
	}
	wa.render(w, "login", pg)
}

func (wa *webAdmin) logout(w http.ResponseWriter, r *http.Request, p *principal, _ *webPage) error {
	if err := wa.s.opts.Tokens.DeleteToken(r.Context(), p.token.Name); err != nil && !errors.Is(err, ferry.ErrNotFound) {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/admin/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
	return nil
}

// formBody turns form fields into the JSON body the API handlers take:
// plain fields as strings, list fields (one item per line or comma) as
// lists, perms lines "PATH=PERMS" as permission objects. Empty fields
// are left out, so they take their defaults.
func formBody(form url.Values, listFields ...string) map[string]json.RawMessage {
	body := map[string]json.RawMessage{}
	for k, vs := range form {
		v := strings.TrimSpace(vs[0])
		switch {
		case k == "csrf" || k == "next":
		case k == "perms":
			ps := []map[string]string{}
			for _, line := range splitLines(v) {
				path, perm, _ := strings.Cut(line, "=")
				ps = append(ps, map[string]string{"path": strings.TrimSpace(path), "perms": strings.TrimSpace(perm)})
			}
			body[k], _ = json.Marshal(ps)
		case slices.Contains(listFields, k):
			body[k], _ = json.Marshal(append([]string{}, splitLines(v)...))
		case k == "options":
			opts := map[string]string{}
			for _, line := range splitLines(v) {
				key, val, _ := strings.Cut(line, "=")
				opts[strings.TrimSpace(key)] = strings.TrimSpace(val)
			}
			body[k], _ = json.Marshal(opts)
		case k == "enabled":
			body[k], _ = json.Marshal(v == "on" || v == "true")
		case v == "" && k != "description":
		default:
			body[k], _ = json.Marshal(v)
		}
	}
	return body
}

func splitLines(v string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// fieldErr puts an API error next to its field, or at the top.
func fieldErr(pg *webPage, err error) error {
	ae := apiErr(err)
	if ae.Status >= 500 || ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound {
		return err
	}
	field, _, _ := strings.Cut(ae.Field, "[")
	field, _, _ = strings.Cut(field, ".")
	if field != "" {
		pg.Errors[field] = ae.Message
	} else {
		pg.Error = ae.Message
	}
	return nil
}
