package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// The locations and managed transfers pages: list, add, edit, delete;
// transfers also run now, pause, resume and show their history. They go
// through the same preparation and validation as the API.

func (wa *webAdmin) transferRoutes() {
	s := wa.s
	wa.handle("GET /admin/locations", wa.locationList)
	wa.handle("POST /admin/locations", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		return wa.saveLocation(w, r, p, pg, nil)
	})
	wa.handle("GET /admin/locations/{name}", func(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
		l, err := s.opts.Locations.GetLocation(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		pg.Title, pg.Data = "Location "+l.Name, locationView{Location: l, HasPassword: l.Password != "", HasPrivateKey: l.PrivateKey != ""}
		wa.render(w, "location", pg)
		return nil
	})
	wa.handle("POST /admin/locations/{name}", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		old, err := s.opts.Locations.GetLocation(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		return wa.saveLocation(w, r, p, pg, old)
	})
	wa.handle("POST /admin/locations/{name}/delete", wa.deleter(accessFull, "locations", s.opts.Locations.DeleteLocation))

	wa.handle("GET /admin/transfers", wa.transferList)
	wa.handle("GET /admin/transfers/new", func(w http.ResponseWriter, _ *http.Request, _ *principal, pg *webPage) error {
		pg.Title, pg.Data = "New transfer", transferPage{Transfer: viewTransfer(&ferry.Transfer{Retries: 3})}
		wa.render(w, "transfer", pg)
		return nil
	})
	wa.handle("POST /admin/transfers", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		return wa.saveTransfer(w, r, p, pg, nil)
	})
	wa.handle("GET /admin/transfers/{name}", func(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
		t, err := s.opts.Transfers.GetTransfer(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		return wa.renderTransfer(w, r, pg, t)
	})
	wa.handle("POST /admin/transfers/{name}", func(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
		old, err := s.opts.Transfers.GetTransfer(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		return wa.saveTransfer(w, r, p, pg, old)
	})
	wa.handle("POST /admin/transfers/{name}/delete", wa.deleter(accessFull, "transfers", s.opts.Transfers.DeleteTransfer))
	wa.handle("POST /admin/transfers/{name}/{action}", wa.transferAction)
}

// locationFormView is what the shared location form gets: the stored
// location when editing (nil when adding).
type locationFormView struct {
	L    *locationView
	F    url.Values
	E    map[string]string
	CSRF string
}

func (wa *webAdmin) locationList(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
	ls, err := wa.s.opts.Locations.ListLocations(r.Context(), ferry.ListOptions{Limit: 500})
	if err != nil {
		return err
	}
	views := make([]locationView, len(ls))
	for i, l := range ls {
		views[i] = locationView{Location: l, HasPassword: l.Password != "", HasPrivateKey: l.PrivateKey != ""}
	}
	pg.Title, pg.Data = "Locations", views
	wa.render(w, "locations", pg)
	return nil
}

// locationBody turns the location form into an API body. A secret left
// empty keeps the stored one; "clear_secrets" removes both.
func locationBody(form url.Values) map[string]json.RawMessage {
	body := map[string]json.RawMessage{}
	set := func(k string, v any) { body[k], _ = json.Marshal(v) }
	for _, k := range []string{"name", "url", "host_key", "failover", "description"} {
		set(k, strings.TrimSpace(form.Get(k)))
	}
	if v := form.Get("auth"); v != "" {
		set("auth", v)
	}
	for _, k := range []string{"insecure", "active"} {
		set(k, form.Get(k) == "on")
	}
	if form.Get("clear_secrets") == "on" {
		set("password", "")
		set("private_key", "")
	}
	if v := form.Get("password"); v != "" {
		set("password", v)
	}
	if v := strings.TrimSpace(form.Get("private_key")); v != "" {
		set("private_key", v+"\n")
	}
	return body
}

// saveLocation creates (old nil) or replaces a location from the form.
func (wa *webAdmin) saveLocation(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage, old *ferry.Location) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	body := locationBody(r.PostForm)
	l := &ferry.Location{}
	if old != nil {
		l.Name, l.Version = old.Name, old.Version
		delete(body, "name")
	}
	err := wa.s.prepareLocation(r.Context(), p, l, old, body)
	if err == nil {
		if old != nil {
			err = wa.s.opts.Locations.UpdateLocation(r.Context(), l)
		} else {
			err = wa.s.opts.Locations.CreateLocation(r.Context(), l)
		}
	}
	if err != nil {
		if ferr := fieldErr(pg, err); ferr != nil {
			return ferr
		}
		pg.Form = r.PostForm
		pg.Form.Del("password")
		pg.Form.Del("private_key") // secrets are not echoed back into the page
		w.WriteHeader(http.StatusBadRequest)
		if old == nil {
			return wa.locationList(w, r, p, pg)
		}
		pg.Title, pg.Data = "Location "+old.Name, locationView{Location: old, HasPassword: old.Password != "", HasPrivateKey: old.PrivateKey != ""}
		wa.render(w, "location", pg)
		return nil
	}
	action := "create"
	if old != nil {
		action = "update"
	}
	wa.s.audit(r, p, action, "/locations/"+l.Name)
	back(w, r, "/admin/locations", "location "+l.Name+" saved")
	return nil
}

func (wa *webAdmin) transferList(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
	ts, err := wa.s.opts.Transfers.ListTransfers(r.Context(), ferry.ListOptions{Limit: 500})
	if err != nil {
		return err
	}
	views := make([]transferView, len(ts))
	for i, t := range ts {
		views[i] = viewTransfer(t)
	}
	pg.Title, pg.Data = "Managed transfers", views
	wa.render(w, "transfers", pg)
	return nil
}

// transferPage is the transfer form with the transfer's recent runs.
type transferPage struct {
	Transfer transferView
	History  []ferry.TransferRecord
	Modes    struct{ Verify, Conflict []string }
}

func (wa *webAdmin) renderTransfer(w http.ResponseWriter, r *http.Request, pg *webPage, t *ferry.Transfer) error {
	data := transferPage{Transfer: viewTransfer(t)}
	data.Modes.Verify, data.Modes.Conflict = ferry.VerifyModes, ferry.ConflictModes
	if t.ID != 0 {
		hs, err := wa.s.opts.Transfers.TransferHistory(r.Context(), HistoryQuery{Transfer: t.Name, Limit: 50})
		if err != nil {
			return err
		}
		data.History = hs
	}
	pg.Title, pg.Data = "Transfer "+t.Name, data
	if t.ID == 0 {
		pg.Title = "New transfer"
	}
	wa.render(w, "transfer", pg)
	return nil
}

// transferBody turns the transfer form into an API body; numbers are
// checked here so that the error lands next to the field.
func transferBody(form url.Values, pg *webPage) map[string]json.RawMessage {
	body := map[string]json.RawMessage{}
	set := func(k string, v any) { body[k], _ = json.Marshal(v) }
	for _, k := range []string{"name", "source", "dest", "pattern", "cron", "on_upload", "archive_to", "failed_to",
		"on_conflict", "verify", "description"} {
		set(k, strings.TrimSpace(form.Get(k)))
	}
	for _, k := range []string{"every", "min_age"} {
		if v := strings.TrimSpace(form.Get(k)); v != "" {
			set(k, v)
		}
	}
	set("exclude", append([]string{}, splitLines(form.Get("exclude"))...))
	for _, k := range []string{"recursive", "watch", "delete_source", "disabled"} {
		set(k, form.Get(k) == "on")
	}
	for _, k := range []string{"parallel", "retries", "rate_limit"} {
		v := strings.TrimSpace(form.Get(k))
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			pg.Errors[k] = k + ": a whole number >= 0"
			continue
		}
		set(k, n)
	}
	return body
}

// saveTransfer creates (old nil) or replaces a transfer from the form.
func (wa *webAdmin) saveTransfer(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage, old *ferry.Transfer) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	body := transferBody(r.PostForm, pg)
	t := &ferry.Transfer{}
	if old != nil {
		t.Name, t.Version, t.ID = old.Name, old.Version, old.ID
		delete(body, "name")
	}
	var err error
	if len(pg.Errors) == 0 {
		if err = wa.s.prepareTransfer(r.Context(), p, t, old, body); err == nil {
			if old != nil {
				err = wa.s.opts.Transfers.UpdateTransfer(r.Context(), t)
			} else {
				err = wa.s.opts.Transfers.CreateTransfer(r.Context(), t)
			}
		}
	}
	if err != nil || len(pg.Errors) > 0 {
		if err != nil {
			if ferr := fieldErr(pg, err); ferr != nil {
				return ferr
			}
		}
		pg.Form = r.PostForm
		w.WriteHeader(http.StatusBadRequest)
		shown := old
		if shown == nil {
			shown = &ferry.Transfer{}
		}
		return wa.renderTransfer(w, r, pg, shown)
	}
	action := "create"
	if old != nil {
		action = "update"
	}
	wa.s.audit(r, p, action, "/transfers/"+t.Name)
	back(w, r, "/admin/transfers/"+t.Name, "transfer "+t.Name+" saved")
	return nil
}

// transferAction runs a transfer now, pauses or resumes it.
func (wa *webAdmin) transferAction(w http.ResponseWriter, r *http.Request, p *principal, _ *webPage) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	ctx, name, action := r.Context(), r.PathValue("name"), r.PathValue("action")
	t, err := wa.s.opts.Transfers.GetTransfer(ctx, name)
	if err != nil {
		return err
	}
	var flash string
	switch action {
	case "run":
		if err := wa.s.opts.Transfers.RunTransfer(ctx, name); err != nil {
			if errors.Is(err, ErrBusy) {
				return errf(http.StatusConflict, codeConflict, "", "transfer %q is already running", name)
			}
			return err
		}
		flash = "transfer " + name + " started"
	case "pause", "resume":
		t.Disabled = action == "pause"
		if err := wa.s.opts.Transfers.UpdateTransfer(ctx, t); err != nil {
			return err
		}
		flash = "transfer " + name + " " + action + "d"
	default:
		return errf(http.StatusNotFound, codeNotFound, "", "unknown action %q: accepted values are run, pause, resume, delete", action)
	}
	wa.s.audit(r, p, action, "/transfers/"+name)
	next := "/admin/transfers"
	if r.PostFormValue("next") == "transfer" {
		next += "/" + name
	}
	back(w, r, next, flash)
	return nil
}
