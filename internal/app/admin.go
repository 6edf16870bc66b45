package app

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/adminapi"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/servicemgr"
	"github.com/ferrymft/ferry/internal/store"
)

// adminOptionKeys are the option keys an admin service accepts
// (docs/admin-api.md).
var adminOptionKeys = []string{"cert", "key", "metrics_public", "tls", "token_ttl"}

// adminFactory returns the admin service's factory. The event log it
// feeds from the bus, created on the first start, lives as long as the
// factory (the App's), so a restarted admin service still shows earlier
// events.
func (a *App) adminFactory() servicemgr.Factory {
	var once sync.Once
	var events *adminapi.EventLog
	return func(svc ferry.Service) (servicemgr.Runner, error) {
		once.Do(func() {
			events = adminapi.NewEventLog(0)
			a.bus.Subscribe(context.Background(), "adminapi", 0, events.Record)
		})
		for k := range svc.Options {
			if !slices.Contains(adminOptionKeys, k) {
				return nil, fmt.Errorf("option %q: unknown for an admin service; accepted keys are %s",
					k, strings.Join(adminOptionKeys, ", "))
			}
		}
		o := svc.Options
		opts := adminapi.Options{
			Accounts: a.store, Services: adminServices{a}, Bans: a.store, Tokens: adminTokens{a.store},
			Live: a.eng, Defender: a.eng, Events: events, Publisher: a.bus,
			Rules: a.store, Outbox: adminOutbox{a.store}, Metrics: a.MetricsHandler(),
			Locations: adminLocations{a}, Transfers: adminTransfers{a},
			Logger: a.log.With(ferry.LogService, svc.Name), HomeRoot: a.cfg.Users.HomeRoot,
			HomeFor: func(user, group string) string { return HomeFor(a.cfg, user, group) },
			Version: Version, Node: a.cfg.Node, StoreKind: a.store.Kind(), Started: a.started,
		}
		var err error
		if opts.PasswordPolicy, err = PasswordPolicy(a.cfg); err != nil {
			return nil, err
		}
		if opts.TokenTTL, err = durationOption(o, "token_ttl"); err != nil {
			return nil, err
		}
		if opts.MetricsPublic, err = metricsPublic(o); err != nil {
			return nil, err
		}
		switch v := o["tls"]; v {
		case "", "off":
		case "on":
			cert, key := o["cert"], o["key"]
			if cert == "" {
				cert = filepath.Join(a.cfg.DataDir, "tls", "cert.pem")
			}
			if key == "" {
				key = filepath.Join(a.cfg.DataDir, "tls", "key.pem")
			}
			if opts.TLS, err = a.certs.Config(cert, key); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("option tls: %q: accepted values are on, off", v)
		}
		return adminapi.New(opts)
	}
}

// adminServices gives the admin API the stored definitions and the
// manager's live state.
type adminServices struct{ a *App }

func (s adminServices) GetService(ctx context.Context, name string) (*ferry.Service, error) {
	return s.a.store.GetService(ctx, name)
}
func (s adminServices) ListServices(ctx context.Context, o ferry.ListOptions) ([]*ferry.Service, error) {
	return s.a.store.ListServices(ctx, o)
}
func (s adminServices) CreateService(ctx context.Context, v *ferry.Service) error {
	return s.a.store.CreateService(ctx, v)
}
func (s adminServices) UpdateService(ctx context.Context, v *ferry.Service) error {
	return s.a.store.UpdateService(ctx, v)
}
func (s adminServices) DeleteService(ctx context.Context, name string) error {
	return s.a.store.DeleteService(ctx, name)
}

func (s adminServices) ServiceStatus(ctx context.Context) ([]adminapi.ServiceStatus, error) {
	sts, err := s.a.mgr.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]adminapi.ServiceStatus, len(sts))
	for i, st := range sts {
		out[i] = adminapi.ServiceStatus{Name: st.Service.Name, State: string(st.State), Address: st.Address,
			Error: st.Error, Sessions: st.Sessions}
	}
	return out, nil
}

// CheckService builds (and drops) the service's runner, which validates
// its options without binding anything.
func (s adminServices) CheckService(v ferry.Service) error {
	if v.Kind == ferry.ServiceAdmin {
		return checkAdminOptions(v)
	}
	f, ok := s.a.factories()[v.Kind]
	if !ok {
		return fmt.Errorf("protocol %q is not available in this build: %w", v.Kind, ferry.ErrInvalid)
	}
	if _, err := f(v); err != nil {
		return fmt.Errorf("%w: %w", ferry.ErrInvalid, err)
	}
	return nil
}

// checkAdminOptions validates an admin service's options without
// building one (which would subscribe another event log).
func checkAdminOptions(v ferry.Service) error {
	for k, val := range v.Options {
		if !slices.Contains(adminOptionKeys, k) {
			return fmt.Errorf("%w: option %q: unknown for an admin service; accepted keys are %s",
				ferry.ErrInvalid, k, strings.Join(adminOptionKeys, ", "))
		}
		if k == "tls" && val != "" && val != "on" && val != "off" {
			return fmt.Errorf("%w: option tls: %q: accepted values are on, off", ferry.ErrInvalid, val)
		}
	}
	if _, err := durationOption(v.Options, "token_ttl"); err != nil {
		return fmt.Errorf("%w: %w", ferry.ErrInvalid, err)
	}
	if _, err := metricsPublic(v.Options); err != nil {
		return fmt.Errorf("%w: %w", ferry.ErrInvalid, err)
	}
	return nil
}

// metricsPublic reads the metrics_public option: true serves /metrics
// without a token.
func metricsPublic(o map[string]string) (bool, error) {
	switch v := o["metrics_public"]; v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("option metrics_public: %q: accepted values are true, false", v)
	}
}

// adminOutbox translates the admin API's outbox queries to the store's.
type adminOutbox struct{ st *store.Store }

func (o adminOutbox) ListOutbox(ctx context.Context, q adminapi.OutboxQuery) ([]ferry.OutboxEntry, error) {
	if len(q.IDs) == 0 {
		return o.st.ListOutbox(ctx, store.OutboxFilter{Rule: q.Rule, Dead: q.Dead, Limit: q.Limit})
	}
	var out []ferry.OutboxEntry
	for _, id := range q.IDs {
		es, err := o.st.ListOutbox(ctx, store.OutboxFilter{Rule: q.Rule, Dead: q.Dead, ID: id})
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

func (o adminOutbox) ReplayOutbox(ctx context.Context, q adminapi.OutboxQuery) (int, error) {
	if len(q.IDs) == 0 {
		return o.st.ReplayOutbox(ctx, store.OutboxFilter{Rule: q.Rule, Dead: true})
	}
	total := 0
	for _, id := range q.IDs {
		n, err := o.st.ReplayOutbox(ctx, store.OutboxFilter{Rule: q.Rule, Dead: true, ID: id})
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// adminTokens converts between the store's and the admin API's token
// types (the same fields).
type adminTokens struct{ st *store.Store }

func (t adminTokens) CreateToken(ctx context.Context, tok *adminapi.Token) error {
	st := store.APIToken(*tok)
	if err := t.st.CreateToken(ctx, &st); err != nil {
		return err
	}
	*tok = adminapi.Token(st)
	return nil
}

func (t adminTokens) TokenByHash(ctx context.Context, hash string) (*adminapi.Token, error) {
	st, err := t.st.TokenByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	tok := adminapi.Token(*st)
	return &tok, nil
}

func (t adminTokens) ListTokens(ctx context.Context, admin, kind string) ([]*adminapi.Token, error) {
	sts, err := t.st.ListTokens(ctx, admin, kind)
	if err != nil {
		return nil, err
	}
	out := make([]*adminapi.Token, len(sts))
	for i, st := range sts {
		tok := adminapi.Token(*st)
		out[i] = &tok
	}
	return out, nil
}

func (t adminTokens) TouchToken(ctx context.Context, name string, at time.Time) error {
	return t.st.TouchToken(ctx, name, at)
}
func (t adminTokens) DeleteToken(ctx context.Context, name string) error {
	return t.st.DeleteToken(ctx, name)
}
func (t adminTokens) DeleteAdminTokens(ctx context.Context, admin string) (int, error) {
	return t.st.DeleteAdminTokens(ctx, admin)
}
func (t adminTokens) PurgeExpiredTokens(ctx context.Context, now time.Time) (int, error) {
	return t.st.PurgeExpiredTokens(ctx, now)
}
