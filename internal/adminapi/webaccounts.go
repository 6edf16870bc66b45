package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Pages for groups, virtual folders, admins and API tokens. Each change
// goes through the same preparation and validation as the API and
// publishes the same admin_change event.

func (wa *webAdmin) accountRoutes() {
	s := wa.s
	groups := s.groups()
	wa.handle("GET /admin/groups", func(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
		gs, err := s.opts.Accounts.ListGroups(r.Context(), ferry.ListOptions{Limit: 500})
		if err != nil {
			return err
		}
		pg.Title, pg.Data = "Groups", gs
		wa.render(w, "groups", pg)
		return nil
	})
	wa.handle("GET /admin/groups/new", func(w http.ResponseWriter, _ *http.Request, _ *principal, pg *webPage) error {
		pg.Title, pg.Data = "New group", &ferry.Group{}
		wa.render(w, "group", pg)
		return nil
	})
	wa.handle("GET /admin/groups/{name}", func(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
		g, err := s.opts.Accounts.GetGroup(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		pg.Title, pg.Data = "Group "+g.Name, g
		wa.render(w, "group", pg)
		return nil
	})
	wa.handle("POST /admin/groups", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		return wa.saveGroup(w, r, p, pg, groups, nil)
	})
	wa.handle("POST /admin/groups/{name}", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		old, err := s.opts.Accounts.GetGroup(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		return wa.saveGroup(w, r, p, pg, groups, old)
	})
	wa.handle("POST /admin/groups/{name}/delete", wa.deleter(accessUsers, "groups", s.opts.Accounts.DeleteGroup))

	wa.handle("GET /admin/folders", wa.folderList)
	wa.handle("POST /admin/folders", wa.addFolder)
	wa.handle("POST /admin/folders/{name}/delete", wa.deleter(accessFull, "folders", s.opts.Accounts.DeleteFolder))

	wa.handle("GET /admin/admins", wa.adminList)
	wa.handle("POST /admin/admins", wa.addAdmin)
	wa.handle("POST /admin/admins/{name}/delete", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		if err := p.require(accessFull); err != nil {
			return err
		}
		ad, err := s.opts.Accounts.GetAdmin(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		if err := s.admins().beforeDelete(r.Context(), p, ad); err != nil {
			return err
		}
		return wa.deleter(accessFull, "admins", s.opts.Accounts.DeleteAdmin)(w, r, p, pg)
	})

	wa.handle("GET /admin/tokens", wa.tokenList)
	wa.handle("POST /admin/tokens", wa.addToken)
	wa.handle("POST /admin/tokens/{name}/revoke", func(w http.ResponseWriter, r *http.Request, p *principal, _ *webPage) error {
		if err := wa.s.deleteToken(discard{}, r, p); err != nil {
			return err
		}
		back(w, r, "/admin/tokens", "token "+r.PathValue("name")+" revoked")
		return nil
	})
}

// discard is a ResponseWriter for API handlers reused by a page that
// answers on its own.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// deleter returns a handler deleting the record named in the path.
func (wa *webAdmin) deleter(need access, plural string, del func(ctx context.Context, name string) error) webHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal, _ *webPage) error {
		if err := p.require(need); err != nil {
			return err
		}
		name := r.PathValue("name")
		if err := del(r.Context(), name); err != nil {
			return err
		}
		wa.s.audit(r, p, "delete", "/"+plural+"/"+name)
		back(w, r, "/admin/"+plural, strings.TrimSuffix(plural, "s")+" "+name+" deleted")
		return nil
	}
}

// saveGroup creates (old nil) or updates a group from the form.
func (wa *webAdmin) saveGroup(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage, rs *resource[ferry.Group], old *ferry.Group) error {
	if err := p.require(accessUsers); err != nil {
		return err
	}
	g := &ferry.Group{}
	if old != nil {
		cp := *old
		g = &cp
	}
	pol := g.Policy
	policyFromForm(r.PostForm, &pol, pg)
	shown := url.Values{}
	for _, k := range []string{"name", "description", "perms"} {
		if vs := r.PostForm[k]; len(vs) > 0 {
			shown[k] = vs
		}
	}
	body := formBody(shown)
	if old != nil {
		delete(body, "name")
	}
	if _, ok := body["perms"]; !ok {
		body["perms"] = json.RawMessage("[]")
	}
	body["policy"], _ = json.Marshal(pol)
	g.Policy = ferry.Policy{} // the body holds all of it: unset fields stay unset
	var err error
	if len(pg.Errors) == 0 {
		if err = rs.prepare(r.Context(), p, g, old, body); err == nil {
			if old != nil {
				err = wa.s.opts.Accounts.UpdateGroup(r.Context(), g)
			} else {
				err = wa.s.opts.Accounts.CreateGroup(r.Context(), g)
			}
		}
	}
	if err != nil || len(pg.Errors) > 0 {
		if err != nil {
			if ferr := fieldErr(pg, err); ferr != nil {
				return ferr
			}
		}
		pg.Title, pg.Data, pg.Form = "Group "+g.Name, g, r.PostForm
		if old == nil {
			pg.Title = "New group"
			g.ID = 0
		}
		w.WriteHeader(http.StatusBadRequest)
		wa.render(w, "group", pg)
		return nil
	}
	action := "create"
	if old != nil {
		action = "update"
	}
	wa.s.audit(r, p, action, "/groups/"+g.Name)
	back(w, r, "/admin/groups/"+g.Name, "group "+g.Name+" saved")
	return nil
}

func (wa *webAdmin) folderList(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
	fs, err := wa.s.opts.Accounts.ListFolders(r.Context(), ferry.ListOptions{Limit: 500})
	if err != nil {
		return err
	}
	pg.Title, pg.Data = "Virtual folders", fs
	wa.render(w, "folders", pg)
	return nil
}

func (wa *webAdmin) addFolder(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	f := &ferry.Folder{}
	err := wa.s.folders().prepare(r.Context(), p, f, nil, formBody(r.PostForm))
	if err == nil {
		err = wa.s.opts.Accounts.CreateFolder(r.Context(), f)
	}
	if err != nil {
		if ferr := fieldErr(pg, err); ferr != nil {
			return ferr
		}
		pg.Form = r.PostForm
		w.WriteHeader(http.StatusBadRequest)
		return wa.folderList(w, r, p, pg)
	}
	wa.s.audit(r, p, "create", "/folders/"+f.Name)
	back(w, r, "/admin/folders", "folder "+f.Name+" added")
	return nil
}

func (wa *webAdmin) adminList(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
	as, err := wa.s.opts.Accounts.ListAdmins(r.Context(), ferry.ListOptions{Limit: 500})
	if err != nil {
		return err
	}
	if pg.Form == nil {
		pg.Form = url.Values{"role": {string(ferry.RoleReadOnly)}}
	}
	pg.Title, pg.Data = "Admins", as
	wa.render(w, "admins", pg)
	return nil
}

func (wa *webAdmin) addAdmin(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	ad := &ferry.Admin{Role: ferry.RoleFull, Status: ferry.StatusActive}
	body := formBody(r.PostForm)
	err := wa.s.prepareAdmin(r.Context(), p, ad, nil, body)
	if err == nil {
		err = wa.s.opts.Accounts.CreateAdmin(r.Context(), ad)
	}
	if err != nil {
		if ferr := fieldErr(pg, err); ferr != nil {
			return ferr
		}
		pg.Form = r.PostForm
		w.WriteHeader(http.StatusBadRequest)
		return wa.adminList(w, r, p, pg)
	}
	wa.s.audit(r, p, "create", "/admins/"+ad.Name)
	back(w, r, "/admin/admins", "admin "+ad.Name+" added")
	return nil
}

// tokenPage is the API tokens page: the tokens, and the secret of one
// just created (shown once: it is not stored).
type tokenPage struct {
	Tokens []tokenView
	New    *tokenView
	All    bool // a full admin sees everyone's tokens
}

func (wa *webAdmin) tokenList(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
	return wa.renderTokens(w, r, p, pg, nil)
}

func (wa *webAdmin) renderTokens(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage, created *tokenView) error {
	admin := p.name()
	all := p.allows(accessFull)
	if all {
		admin = ""
	}
	ts, err := wa.s.opts.Tokens.ListTokens(r.Context(), admin, kindAPI)
	if err != nil {
		return err
	}
	tp := tokenPage{New: created, All: all}
	for _, t := range ts {
		tp.Tokens = append(tp.Tokens, viewToken(t))
	}
	slices.SortFunc(tp.Tokens, func(a, b tokenView) int { return strings.Compare(a.Admin+"/"+a.Name, b.Admin+"/"+b.Name) })
	if pg.Form == nil {
		pg.Form = url.Values{"scope": {scopeReadOnly}}
	}
	pg.Title, pg.Data = "API tokens", tp
	wa.render(w, "tokens", pg)
	return nil
}

// addToken creates a token through the API handler and shows its secret
// once, on the answer page itself (never in a redirect URL).
func (wa *webAdmin) addToken(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
	body := formBody(r.PostForm)
	if _, ok := body["name"]; !ok {
		body["name"] = json.RawMessage(`""`)
	}
	buf, _ := json.Marshal(body)
	r2 := r.Clone(r.Context())
	r2.Body = readCloser{strings.NewReader(string(buf))}
	rec := &recordWriter{header: http.Header{}}
	err := wa.s.createToken(rec, r2, p)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
			return err
		}
		if ferr := fieldErr(pg, err); ferr != nil {
			return ferr
		}
		pg.Form = r.PostForm
		w.WriteHeader(http.StatusBadRequest)
		return wa.renderTokens(w, r, p, pg, nil)
	}
	var v tokenView
	if err := json.Unmarshal(rec.body, &v); err != nil {
		return fmt.Errorf("token answer: %w", err)
	}
	pg.Flash = "token " + v.Name + " created"
	return wa.renderTokens(w, r, p, pg, &v)
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// recordWriter keeps what an API handler writes.
type recordWriter struct {
	header http.Header
	body   []byte
}

func (rw *recordWriter) Header() http.Header { return rw.header }
func (rw *recordWriter) Write(b []byte) (int, error) {
	rw.body = append(rw.body, b...)
	return len(b), nil
}
func (rw *recordWriter) WriteHeader(int) {}
