package store

import (
	"cmp"
	"context"
	"fmt"

	"github.com/ferrymft/ferry/internal/ferry"
)

var serviceRecord = &record[ferry.Service]{
	kind:  "service",
	table: "services",
	cols:  []string{"kind", "listen_addr", "enabled", "options"},
	meta: func(v *ferry.Service) meta {
		return meta{id: &v.ID, name: &v.Name, created: &v.CreatedAt, updated: &v.UpdatedAt, version: &v.Version}
	},
	args: func(v *ferry.Service) ([]any, error) {
		if err := cmp.Or(checkText("protocol", string(v.Kind)), checkText("listen address", v.Listen)); err != nil {
			return nil, err
		}
		for k, val := range v.Options {
			if err := cmp.Or(checkText("option name", k), checkText(fmt.Sprintf("option %q", k), val)); err != nil {
				return nil, err
			}
		}
		opts, err := jsonArg(v.Options)
		if err != nil {
			return nil, err
		}
		return []any{string(v.Kind), v.Listen, v.Enabled, opts}, nil
	},
	dests: func(v *ferry.Service) []any {
		return []any{&v.Kind, &v.Listen, &v.Enabled, jsonCol{&v.Options}}
	},
}

// CreateService stores a new service definition. It checks the name with
// ferry.ValidateName, sets v's ID, CreatedAt, UpdatedAt and Version (1),
// and fails with ferry.ErrExists when the name is taken.
func (s *Store) CreateService(ctx context.Context, v *ferry.Service) error {
	return create(ctx, s, serviceRecord, v)
}

// GetService returns the service called name, or ferry.ErrNotFound.
func (s *Store) GetService(ctx context.Context, name string) (*ferry.Service, error) {
	return get(ctx, s, serviceRecord, name)
}

// ListServices returns services ordered by name.
func (s *Store) ListServices(ctx context.Context, o ListOptions) ([]*ferry.Service, error) {
	return list(ctx, s, serviceRecord, o)
}

// UpdateService replaces the stored service called v.Name with v, with the
// same version check and write-back as [Store.UpdateUser].
func (s *Store) UpdateService(ctx context.Context, v *ferry.Service) error {
	return update(ctx, s, serviceRecord, v)
}

// DeleteService removes the service called name, or fails with
// ferry.ErrNotFound.
func (s *Store) DeleteService(ctx context.Context, name string) error {
	return remove(ctx, s, serviceRecord, name)
}

// CountServices returns the number of services.
func (s *Store) CountServices(ctx context.Context) (int, error) {
	return count(ctx, s, serviceRecord)
}
