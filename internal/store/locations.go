package store

import (
	"cmp"
	"context"
	"fmt"

	"github.com/ferrymft/ferry/internal/ferry"
)

// locationOptions is the options column: connection settings read whole.
type locationOptions struct {
	HostKey  string `json:"host_key,omitempty"`
	Insecure bool   `json:"insecure,omitempty"`
	Active   bool   `json:"active,omitempty"`
	Failover string `json:"failover,omitempty"`
}

// Locations keep their secrets sealed: ferry.Location.Validate refuses a
// secret without ferry.SealedPrefix, so the store never holds plaintext.
var locationRecord = &record[ferry.Location]{
	kind:  "location",
	table: "locations",
	cols:  []string{"url", "auth", "password", "private_key", "options", "description"},
	meta: func(v *ferry.Location) meta {
		return meta{id: &v.ID, name: &v.Name, created: &v.CreatedAt, updated: &v.UpdatedAt, version: &v.Version}
	},
	args: func(v *ferry.Location) ([]any, error) {
		if err := v.Validate(); err != nil {
			return nil, err
		}
		if err := cmp.Or(checkText("url", v.URL), checkText("description", v.Description), checkText("host key", v.HostKey)); err != nil {
			return nil, err
		}
		opts, err := jsonArg(locationOptions{HostKey: v.HostKey, Insecure: v.Insecure, Active: v.Active, Failover: v.Failover})
		if err != nil {
			return nil, err
		}
		return []any{v.URL, string(v.Auth), v.Password, v.PrivateKey, opts, v.Description}, nil
	},
	dests: func(v *ferry.Location) []any {
		return []any{&v.URL, (*string)(&v.Auth), &v.Password, &v.PrivateKey, locationOptionsCol{v}, &v.Description}
	},
}

type locationOptionsCol struct{ l *ferry.Location }

func (c locationOptionsCol) Scan(src any) error {
	var o locationOptions
	if err := (jsonCol{&o}).Scan(src); err != nil {
		return fmt.Errorf("location options: %w", err)
	}
	c.l.HostKey, c.l.Insecure, c.l.Active, c.l.Failover = o.HostKey, o.Insecure, o.Active, o.Failover
	return nil
}

// CreateLocation stores a new location after ferry.Location.Validate
// (secrets sealed), setting its ID, times and Version.
func (s *Store) CreateLocation(ctx context.Context, v *ferry.Location) error {
	return create(ctx, s, locationRecord, v)
}

// GetLocation returns the location called name, or ferry.ErrNotFound.
func (s *Store) GetLocation(ctx context.Context, name string) (*ferry.Location, error) {
	return get(ctx, s, locationRecord, name)
}

// ListLocations returns locations ordered by name.
func (s *Store) ListLocations(ctx context.Context, o ListOptions) ([]*ferry.Location, error) {
	return list(ctx, s, locationRecord, o)
}

// UpdateLocation replaces the stored location called v.Name, with the same
// version check and write-back as [Store.UpdateUser].
func (s *Store) UpdateLocation(ctx context.Context, v *ferry.Location) error {
	return update(ctx, s, locationRecord, v)
}

// DeleteLocation removes the location called name, or fails with
// ferry.ErrNotFound. Transfers naming it fail until it exists again.
func (s *Store) DeleteLocation(ctx context.Context, name string) error {
	return remove(ctx, s, locationRecord, name)
}

// CountLocations returns the number of locations.
func (s *Store) CountLocations(ctx context.Context) (int, error) {
	return count(ctx, s, locationRecord)
}
