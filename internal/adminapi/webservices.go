package adminapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// The service edit page: listen address, options and enabled of one
// service, saved through the API's validation; the running server
// restarts only that service (its sessions get services.stop_grace).

func (wa *webAdmin) serviceEditRoutes() {
	wa.handle("GET /admin/services/{name}", func(w http.ResponseWriter, r *http.Request, _ *principal, pg *webPage) error {
		v, err := wa.s.opts.Services.GetService(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		return wa.renderService(w, r, pg, v)
	})
	wa.handle("POST /admin/services/{name}", wa.saveService)
}

func (wa *webAdmin) renderService(w http.ResponseWriter, r *http.Request, pg *webPage, v *ferry.Service) error {
	row := serviceRow{Service: v}
	sts, err := wa.s.opts.Services.ServiceStatus(r.Context())
	if err != nil {
		return err
	}
	for _, st := range sts {
		if st.Name == v.Name {
			row.Status = st
		}
	}
	pg.Title, pg.Data = "Service "+v.Name, row
	wa.render(w, "service", pg)
	return nil
}

func (wa *webAdmin) saveService(w http.ResponseWriter, r *http.Request, p *principal, pg *webPage) error {
	if err := p.require(accessFull); err != nil {
		return err
	}
	ctx := r.Context()
	old, err := wa.s.opts.Services.GetService(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	body := formBody(r.PostForm)
	if _, ok := body["options"]; !ok {
		body["options"] = json.RawMessage("{}")
	}
	body["enabled"], _ = json.Marshal(r.PostFormValue("enabled") == "on")
	body["name"], _ = json.Marshal(old.Name)
	body["protocol"], _ = json.Marshal(old.Kind)
	v := &ferry.Service{ID: old.ID, Version: old.Version}
	if err = wa.s.prepareService(ctx, p, v, old, body); err == nil {
		err = wa.s.opts.Services.UpdateService(ctx, v)
	}
	if err != nil {
		if ferr := fieldErr(pg, err); ferr != nil {
			return ferr
		}
		pg.Form = r.PostForm
		w.WriteHeader(http.StatusBadRequest)
		return wa.renderService(w, r, pg, old)
	}
	wa.s.audit(r, p, "update", "/services/"+v.Name)
	_, _ = wa.s.serviceState(ctx, v.Name, func(st ServiceStatus) bool {
		if !v.Enabled {
			return st.State != "running"
		}
		return (st.State == "running" && st.Error == "") || st.State == "failed"
	})
	back(w, r, "/admin/services", "service "+v.Name+" saved")
	return nil
}

// optionLines shows service options one KEY=VALUE per line, sorted.
func optionLines(o map[string]string) string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + o[k] + "\n")
	}
	return b.String()
}
