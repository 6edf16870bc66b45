package adminapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

func (wa *webAdmin) routes() {
	s := wa.s
	wa.mux.HandleFunc("GET /admin/login", wa.login)
	wa.mux.HandleFunc("POST /admin/login", wa.login)
	wa.mux.HandleFunc("GET /admin/style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		http.ServeFileFS(w, r, webFiles, "web/style.css")
	})
	wa.handle("POST /admin/logout", wa.logout)
	wa.handle("GET /admin/{$}", wa.dashboard)

	users := s.users()
	wa.handle("GET /admin/users", wa.userList)
	wa.handle("GET /admin/users/new", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		pg.Title, pg.Data = "New user", &ferry.User{Status: ferry.StatusActive}
		wa.render(w, "user", pg)
		return nil
	})
	wa.handle("POST /admin/users", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		return wa.saveUser(w, r, p, pg, users, nil)
	})
	wa.handle("GET /admin/users/{name}", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		u, err := s.opts.Accounts.GetUser(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		pg.Title, pg.Data = "User "+u.Name, u
		wa.render(w, "user", pg)
		return nil
	})
	wa.handle("POST /admin/users/{name}", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		old, err := s.opts.Accounts.GetUser(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		return wa.saveUser(w, r, p, pg, users, old)
	})
	wa.handle("POST /admin/users/{name}/delete", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		if err := p.require(accessUsers); err != nil {
			return err
		}
		name := r.PathValue("name")
		if err := s.opts.Accounts.DeleteUser(r.Context(), name); err != nil {
			return err
		}
		s.audit(r, p, "delete", "/users/"+name)
		back(w, r, "/admin/users", "user "+name+" deleted")
		return nil
	})

	wa.handle("GET /admin/services", wa.serviceList)
	wa.handle("POST /admin/services", wa.addService)
	wa.handle("POST /admin/services/{name}/{action}", wa.serviceAction)
	wa.serviceEditRoutes()

	wa.handle("GET /admin/sessions", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		pg.Title, pg.Data = "Sessions", s.sessionViews(r)
		wa.render(w, "sessions", pg)
		return nil
	})
	wa.handle("POST /admin/sessions/{id}/kick", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		if err := p.require(accessUsers); err != nil {
			return err
		}
		id := r.PathValue("id")
		if !s.opts.Live.Kick(id) {
			return errf(http.StatusNotFound, codeNotFound, "", "session %q is not connected", id)
		}
		s.audit(r, p, "kick", "/sessions/"+id)
		back(w, r, "/admin/sessions", "session "+id+" disconnected")
		return nil
	})

	wa.accountRoutes()
	wa.ruleRoutes()
	wa.transferRoutes()

	wa.handle("GET /admin/bans", wa.banList)
	wa.handle("POST /admin/bans", wa.addBan)
	wa.handle("POST /admin/bans/lift", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		if err := p.require(accessFull); err != nil {
			return err
		}
		n := r.PostFormValue("network")
		if err := s.opts.Bans.DeleteBan(r.Context(), n); err != nil {
			return err
		}
		s.audit(r, p, "unban", "/bans/"+n)
		back(w, r, "/admin/bans", "ban on "+n+" lifted")
		return nil
	})
}

type dashboard struct {
	Services     []ServiceStatus
	Sessions     []sessionView
	Events       []ferry.Event
	FailedLogins []ferry.Event
	Version      string
	Node         string
	Uptime       time.Duration
}

func (wa *webAdmin) dashboard(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
	s := wa.s
	sts, err := s.opts.Services.ServiceStatus(r.Context())
	if err != nil {
		return err
	}
	pg.Title = "Dashboard"
	pg.Data = dashboard{
		Services: sts, Sessions: s.sessionViews(r),
		Events:       s.opts.Events.Query(EventFilter{Limit: 15}),
		FailedLogins: s.opts.Events.Query(EventFilter{Types: []ferry.EventType{ferry.EventLoginFailed}, Limit: 10}),
		Version:      s.opts.Version, Node: s.opts.Node, Uptime: s.opts.Now().Sub(s.opts.Started).Round(time.Second),
	}
	wa.render(w, "dashboard", pg)
	return nil
}

func (wa *webAdmin) userList(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
	o := ferry.ListOptions{Prefix: r.URL.Query().Get("q"), Limit: 500}
	us, err := wa.s.opts.Accounts.ListUsers(r.Context(), o)
	if err != nil {
		return err
	}
	pg.Title, pg.Data, pg.Form = "Users", us, r.URL.Query()
	wa.render(w, "users", pg)
	return nil
}

// saveUser creates (old nil) or updates a user from the form, through the
// same preparation and validation as the API.
func (wa *webAdmin) saveUser(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage, rs *resource[ferry.User], old *ferry.User) error {
	if err := p.require(accessUsers); err != nil {
		return err
	}
	shown := url.Values{}
	for _, k := range []string{"name", "password", "home", "status", "groups", "perms", "public_keys", "description"} {
		if vs, ok := r.PostForm[k]; ok {
			shown[k] = vs
		}
	}
	body := formBody(shown, "public_keys", "groups")
	if g, ok := body["groups"]; ok {
		var gs []string
		_ = json.Unmarshal(g, &gs)
		var split []string
		for _, x := range gs {
			split = append(split, splitComma(x)...)
		}
		body["groups"], _ = json.Marshal(split)
	}
	u := &ferry.User{Status: ferry.StatusActive}
	if old != nil {
		// Fields the form does not post keep their value.
		cp := *old
		u = &cp
		delete(body, "name")
	}
	if r.PostForm.Has("expires_at") {
		if t, err := parseExpiry(r.PostForm.Get("expires_at")); err != nil {
			pg.Errors["expires_at"] = err.Error()
		} else {
			body["expires_at"], _ = json.Marshal(t)
		}
	}
	pol := u.Policy
	policyFromForm(r.PostForm, &pol, pg)
	body["policy"], _ = json.Marshal(pol)
	u.Policy = ferry.Policy{} // the body holds all of it: unset fields stay unset
	var err error
	if len(pg.Errors) == 0 {
		err = rs.prepare(r.Context(), p, u, old, body)
		if err == nil {
			if old != nil {
				err = wa.s.opts.Accounts.UpdateUser(r.Context(), u)
			} else {
				err = wa.s.opts.Accounts.CreateUser(r.Context(), u)
			}
		}
	}
	if err != nil || len(pg.Errors) > 0 {
		if err != nil {
			if ferr := fieldErr(pg, err); ferr != nil {
				return ferr
			}
		}
		pg.Title, pg.Data, pg.Form = "User "+u.Name, u, r.PostForm
		if old == nil {
			pg.Title = "New user"
			u.ID = 0
		}
		w.WriteHeader(http.StatusBadRequest)
		wa.render(w, "user", pg)
		return nil
	}
	action := "create"
	if old != nil {
		action = "update"
	}
	wa.s.audit(r, p, action, "/users/"+u.Name)
	back(w, r, "/admin/users/"+u.Name, "user "+u.Name+" saved")
	return nil
}

type serviceRow struct {
	*ferry.Service
	Status ServiceStatus
}

func (wa *webAdmin) serviceList(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
	svcs, err := wa.s.opts.Services.ListServices(r.Context(), ferry.ListOptions{})
	if err != nil {
		return err
	}
	sts, err := wa.s.opts.Services.ServiceStatus(r.Context())
	if err != nil {
		return err
	}
	rows := make([]serviceRow, len(svcs))
	for i, v := range svcs {
		rows[i].Service = v
		for _, st := range sts {
			if st.Name == v.Name {
				rows[i].Status = st
			}
		}
	}
	if pg.Form == nil {
		pg.Form = map[string][]string{"enabled": {"on"}}
	}
	pg.Title, pg.Data = "Services", rows
	wa.render(w, "services", pg)
	return nil
}

func (wa *webAdmin) addService(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	body := formBody(r.PostForm)
	body["enabled"], _ = json.Marshal(r.PostFormValue("enabled") == "on")
	v := &ferry.Service{}
	err := wa.s.prepareService(r.Context(), p, v, nil, body)
	if err == nil {
		err = wa.s.opts.Services.CreateService(r.Context(), v)
	}
	if err != nil {
		if ferr := fieldErr(pg, err); ferr != nil {
			return ferr
		}
		pg.Form = r.PostForm
		w.WriteHeader(http.StatusBadRequest)
		return wa.serviceList(w, r, p, pg)
	}
	wa.s.audit(r, p, "create", "/services/"+v.Name)
	back(w, r, "/admin/services", "service "+v.Name+" added")
	return nil
}

func (wa *webAdmin) serviceAction(w http.ResponseWriter, r *http.Request, p *principal, _ *webPage) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	ctx, name, action := r.Context(), r.PathValue("name"), r.PathValue("action")
	v, err := wa.s.opts.Services.GetService(ctx, name)
	if err != nil {
		return err
	}
	switch action {
	case "start", "stop":
		v.Enabled = action == "start"
		err = wa.s.opts.Services.UpdateService(ctx, v)
	case "remove":
		err = wa.s.opts.Services.DeleteService(ctx, name)
	default:
		return errf(http.StatusNotFound, codeNotFound, "", "no action %q", action)
	}
	if err != nil {
		return err
	}
	wa.s.audit(r, p, action, "/services/"+name)
	if action != "remove" {
		_, _ = wa.s.serviceState(ctx, name, func(st ServiceStatus) bool {
			if action == "stop" {
				// "running" with an error is the manager still applying
				// the change ("definition changed; restarting").
				return st.State != "running"
			}
			return (st.State == "running" && st.Error == "") || st.State == "failed"
		})
	}
	back(w, r, "/admin/services", "service "+name+": "+action)
	return nil
}

func (wa *webAdmin) banList(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
	bans, err := wa.s.opts.Bans.ListBans(r.Context(), wa.s.opts.Now())
	if err != nil {
		return err
	}
	pg.Title, pg.Data = "Bans", bans
	wa.render(w, "bans", pg)
	return nil
}

func (wa *webAdmin) addBan(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	b := ferry.Ban{Network: r.PostFormValue("network"), Reason: r.PostFormValue("reason")}
	var err error
	if d := r.PostFormValue("duration"); d != "" {
		dur, perr := time.ParseDuration(d)
		if perr != nil || dur <= 0 {
			pg.Errors["duration"] = "a positive duration such as 30m or 24h; empty for a permanent ban"
		}
		b.ExpiresAt = wa.s.opts.Now().Add(dur)
	}
	if len(pg.Errors) == 0 {
		if err = wa.s.opts.Bans.AddBan(r.Context(), &b); err != nil {
			pg.Errors["network"] = cleanMessage(err)
		}
	}
	if len(pg.Errors) > 0 {
		pg.Form = r.PostForm
		w.WriteHeader(http.StatusBadRequest)
		return wa.banList(w, r, p, pg)
	}
	wa.s.audit(r, p, "ban", "/bans/"+b.Network)
	back(w, r, "/admin/bans", b.Network+" banned")
	return nil
}

func splitComma(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}
