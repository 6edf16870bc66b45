package store

import (
	"cmp"
	"context"

	"github.com/ferrymft/ferry/internal/ferry"
)

var groupRecord = &record[ferry.Group]{
	kind:  "group",
	table: "groups",
	cols:  []string{"perms", "description", "policy"},
	meta: func(g *ferry.Group) meta {
		return meta{id: &g.ID, name: &g.Name, created: &g.CreatedAt, updated: &g.UpdatedAt, version: &g.Version}
	},
	args: func(g *ferry.Group) ([]any, error) {
		if err := cmp.Or(checkPerms(g.Perms), checkText("description", g.Description)); err != nil {
			return nil, err
		}
		perms, err := jsonArg(g.Perms)
		if err != nil {
			return nil, err
		}
		policy, err := policyArg(&g.Policy)
		if err != nil {
			return nil, err
		}
		return []any{perms, g.Description, policy}, nil
	},
	dests: func(g *ferry.Group) []any {
		return []any{jsonCol{&g.Perms}, &g.Description, jsonCol{&g.Policy}}
	},
}

// CreateGroup stores a new group. It checks the name with
// ferry.ValidateName, sets g's ID, CreatedAt, UpdatedAt and Version (1),
// and fails with ferry.ErrExists when the name is taken.
func (s *Store) CreateGroup(ctx context.Context, g *ferry.Group) error {
	return create(ctx, s, groupRecord, g)
}

// GetGroup returns the group called name, or ferry.ErrNotFound.
func (s *Store) GetGroup(ctx context.Context, name string) (*ferry.Group, error) {
	return get(ctx, s, groupRecord, name)
}

// ListGroups returns groups ordered by name.
func (s *Store) ListGroups(ctx context.Context, o ListOptions) ([]*ferry.Group, error) {
	return list(ctx, s, groupRecord, o)
}

// UpdateGroup replaces the stored group called g.Name with g, with the
// same version check and write-back as [Store.UpdateUser].
func (s *Store) UpdateGroup(ctx context.Context, g *ferry.Group) error {
	return update(ctx, s, groupRecord, g)
}

// DeleteGroup removes the group called name, or fails with
// ferry.ErrNotFound. Users that name the group keep the name.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	return remove(ctx, s, groupRecord, name)
}

// CountGroups returns the number of groups.
func (s *Store) CountGroups(ctx context.Context) (int, error) {
	return count(ctx, s, groupRecord)
}
