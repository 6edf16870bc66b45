package adminapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// serviceView is a service definition with its live state.
type serviceView struct {
	*ferry.Service
	State    string `json:"state"` // running, failed, disabled, stopped
	Address  string `json:"address,omitempty"`
	Error    string `json:"error,omitempty"`
	Sessions int    `json:"sessions"`
}

func (s *Server) services() *resource[ferry.Service] {
	sv := s.opts.Services
	return &resource[ferry.Service]{
		plural: "services", write: accessFull,
		get: sv.GetService, list: sv.ListServices, create: sv.CreateService, update: sv.UpdateService, del: sv.DeleteService,
		meta:    func(v *ferry.Service) (*string, *int64) { return &v.Name, &v.Version },
		fresh:   func() *ferry.Service { return &ferry.Service{Enabled: true} },
		prepare: s.prepareService,
		views:   s.serviceViews,
		settle: func(ctx context.Context, v *ferry.Service) {
			// Best effort: the answer shows the state reached so far.
			_, _ = s.serviceState(ctx, v.Name, func(st ServiceStatus) bool {
				if !v.Enabled {
					return st.State != "running"
				}
				return (st.State == "running" && st.Error == "") || st.State == "failed"
			})
		},
	}
}

func (s *Server) prepareService(_ context.Context, _ *principal, v, _ *ferry.Service, body map[string]json.RawMessage) error {
	if err := decodeInto(body, v); err != nil {
		return err
	}
	if err := ferry.ValidateName("service", v.Name); err != nil {
		return invalid("name", err)
	}
	if _, err := ferry.ParseServiceKind(string(v.Kind)); err != nil {
		return invalid("protocol", err)
	}
	if err := ferry.ValidateListen(v.Listen); err != nil {
		return invalid("listen", err)
	}
	if err := v.Validate(); err != nil {
		return invalid(fieldOf(err), err)
	}
	if err := s.opts.Services.CheckService(*v); err != nil {
		field := fieldOf(err)
		if field == "" {
			field = "options"
		}
		return invalid(field, err)
	}
	return nil
}

func (s *Server) serviceViews(ctx context.Context, vs []*ferry.Service) ([]any, error) {
	sts, err := s.opts.Services.ServiceStatus(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]ServiceStatus, len(sts))
	for _, st := range sts {
		byName[st.Name] = st
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		st, ok := byName[v.Name]
		if !ok {
			st = ServiceStatus{State: "stopped"}
		}
		out[i] = serviceView{Service: v, State: st.State, Address: st.Address, Error: st.Error, Sessions: st.Sessions}
	}
	return out, nil
}

// serviceState waits briefly (the service manager applies store changes
// within its poll interval) for name to reach a state done accepts, and
// returns the last state seen.
func (s *Server) serviceState(ctx context.Context, name string, done func(ServiceStatus) bool) (ServiceStatus, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		sts, err := s.opts.Services.ServiceStatus(ctx)
		if err != nil {
			return ServiceStatus{}, err
		}
		var st ServiceStatus
		for _, x := range sts {
			if x.Name == name {
				st = x
			}
		}
		if done(st) || time.Now().After(deadline) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// handleStartStop serves POST /api/v1/services/{name}/start and /stop:
// it enables or disables the service in the store (an update, so a
// failed service is retried on start) and waits a little for the
// service manager to apply it.
func (s *Server) handleStartStop(start bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		ctx := r.Context()
		v, err := s.opts.Services.GetService(ctx, r.PathValue("name"))
		if err != nil {
			return err
		}
		if err := checkIfMatch(r, v.Version); err != nil {
			return err
		}
		before, err := s.serviceState(ctx, v.Name, func(ServiceStatus) bool { return true })
		if err != nil {
			return err
		}
		v.Enabled = start
		if err := s.opts.Services.UpdateService(ctx, v); err != nil {
			return err
		}
		action := "stop"
		if start {
			action = "start"
		}
		s.audit(r, p, action, "/services/"+v.Name)
		st, err := s.serviceState(ctx, v.Name, func(st ServiceStatus) bool {
			if start {
				// A failure seen before the update is stale until the
				// manager retries the new version.
				return (st.State == "running" && st.Error == "") ||
					(st.State == "failed" && (before.State != "failed" || st.Error != before.Error))
			}
			return st.State != "running"
		})
		if err != nil {
			return err
		}
		writeRecord(w, http.StatusOK, v.Version,
			serviceView{Service: v, State: st.State, Address: st.Address, Error: st.Error, Sessions: st.Sessions})
		return nil
	}
}
