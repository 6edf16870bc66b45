package adminapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/ferrymft/ferry/internal/ferry"
)

// resource is the CRUD shape users, groups, admins and services share: a
// unique name, a version for If-Match, and a store behind it. The generic
// handlers below hold the HTTP side once.
type resource[T any] struct {
	plural string // path segment and event path: "users"
	write  access // what a change needs
	get    func(ctx context.Context, name string) (*T, error)
	list   func(ctx context.Context, o ferry.ListOptions) ([]*T, error)
	create func(ctx context.Context, v *T) error
	update func(ctx context.Context, v *T) error
	del    func(ctx context.Context, name string) error
	meta   func(v *T) (name *string, version *int64)
	// fresh returns a new record with defaults, for POST and PUT.
	fresh func() *T
	// prepare decodes the body onto v (old is the stored record on
	// updates, nil on create), applies the body's extra fields (password)
	// and validates the result.
	prepare func(ctx context.Context, p *principal, v, old *T, body map[string]json.RawMessage) error
	// views turns records into their API form (services add live state);
	// nil writes the records as they are.
	views func(ctx context.Context, vs []*T) ([]any, error)
	// settle, when set, runs after a create or update (services wait
	// for the service manager to apply it).
	settle func(ctx context.Context, v *T)
	// beforeDelete may refuse a delete or clean up after it is allowed.
	beforeDelete func(ctx context.Context, p *principal, v *T) error
}

// readOnlyFields are set by the server and ignored in bodies.
var readOnlyFields = []string{"id", "created_at", "updated_at"}

func (rs *resource[T]) register(s *Server) {
	base := "/api/v1/" + rs.plural
	s.handle("GET", base, accessRead, rs.handleList)
	s.handle("POST", base, rs.write, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return rs.save(s, w, r, p, false, false)
	})
	s.handle("GET", base+"/{name}", accessRead, rs.handleGet)
	s.handle("PUT", base+"/{name}", rs.write, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return rs.save(s, w, r, p, true, false)
	})
	s.handle("PATCH", base+"/{name}", rs.write, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return rs.save(s, w, r, p, true, true)
	})
	s.handle("DELETE", base+"/{name}", rs.write, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return rs.handleDelete(s, w, r, p)
	})
}

func (rs *resource[T]) view(ctx context.Context, v *T) (any, error) {
	if rs.views == nil {
		return v, nil
	}
	out, err := rs.views(ctx, []*T{v})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func (rs *resource[T]) handleList(w http.ResponseWriter, r *http.Request, _ *principal) error {
	o, err := listOptions(r)
	if err != nil {
		return err
	}
	more := o
	more.Limit++
	items, err := rs.list(r.Context(), more)
	if err != nil {
		return err
	}
	if rs.views == nil {
		writeJSON(w, http.StatusOK, pageOf(items, o))
		return nil
	}
	vs, err := rs.views(r.Context(), items)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(vs, o))
	return nil
}

func (rs *resource[T]) handleGet(w http.ResponseWriter, r *http.Request, _ *principal) error {
	v, err := rs.get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	out, err := rs.view(r.Context(), v)
	if err != nil {
		return err
	}
	_, version := rs.meta(v)
	writeRecord(w, http.StatusOK, *version, out)
	return nil
}

// save creates (POST), replaces (PUT) or merges (PATCH) a record.
func (rs *resource[T]) save(s *Server, w http.ResponseWriter, r *http.Request, p *principal, existing, merge bool) error {
	ctx := r.Context()
	body, err := readBody(r)
	if err != nil {
		return err
	}
	for _, f := range readOnlyFields {
		delete(body, f)
	}
	v := rs.fresh()
	var old *T
	if existing {
		if old, err = rs.get(ctx, r.PathValue("name")); err != nil {
			return err
		}
		_, oldVersion := rs.meta(old)
		if err := checkIfMatch(r, *oldVersion); err != nil {
			return err
		}
		if merge {
			cp := *old
			v = &cp
		}
		name, version := rs.meta(v)
		*name, *version = r.PathValue("name"), *oldVersion
	}
	if err := rs.prepare(ctx, p, v, old, body); err != nil {
		return err
	}
	name, version := rs.meta(v)
	action, status := "create", http.StatusCreated
	if existing {
		if *name != r.PathValue("name") {
			return errf(http.StatusBadRequest, codeInvalid, "name", "name %q differs from the name in the path %q; renaming is not supported", *name, r.PathValue("name"))
		}
		action, status = "update", http.StatusOK
		err = rs.update(ctx, v)
	} else {
		err = rs.create(ctx, v)
	}
	if err != nil {
		return err
	}
	s.audit(r, p, action, "/"+rs.plural+"/"+*name)
	if rs.settle != nil {
		rs.settle(ctx, v)
	}
	out, err := rs.view(ctx, v)
	if err != nil {
		return err
	}
	if !existing {
		w.Header().Set("Location", "/api/v1/"+rs.plural+"/"+*name)
	}
	writeRecord(w, status, *version, out)
	return nil
}

func (rs *resource[T]) handleDelete(s *Server, w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	v, err := rs.get(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	name, version := rs.meta(v)
	if err := checkIfMatch(r, *version); err != nil {
		return err
	}
	if rs.beforeDelete != nil {
		if err := rs.beforeDelete(ctx, p, v); err != nil {
			return err
		}
	}
	if err := rs.del(ctx, *name); err != nil {
		return err
	}
	s.audit(r, p, "delete", "/"+rs.plural+"/"+*name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// audit publishes an admin_change event: Detail is the admin, Path the
// record, Target the action.
func (s *Server) audit(r *http.Request, p *principal, action, path string) {
	s.opts.Publisher.Publish(ferry.Event{
		Type: ferry.EventAdminChange, Time: s.opts.Now(), User: p.name(), Detail: p.name(),
		Protocol: ferry.AdminAPI, Remote: remoteAddr(r).String(), Path: path, Target: action, Status: "ok",
	})
	s.log.Info("admin change", "admin", p.name(), "action", action, "path", path)
}
