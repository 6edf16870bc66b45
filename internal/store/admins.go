package store

import (
	"cmp"
	"context"

	"github.com/ferrymft/ferry/internal/ferry"
)

var adminRecord = &record[ferry.Admin]{
	kind:  "admin",
	table: "admins",
	cols:  []string{"password_hash", "role", "status", "description"},
	meta: func(a *ferry.Admin) meta {
		return meta{id: &a.ID, name: &a.Name, created: &a.CreatedAt, updated: &a.UpdatedAt, version: &a.Version}
	},
	args: func(a *ferry.Admin) ([]any, error) {
		err := cmp.Or(
			checkText("password hash", a.PasswordHash),
			checkText("role", string(a.Role)),
			checkText("status", string(a.Status)),
			checkText("description", a.Description),
		)
		if err != nil {
			return nil, err
		}
		return []any{a.PasswordHash, string(a.Role), string(a.Status), a.Description}, nil
	},
	dests: func(a *ferry.Admin) []any {
		return []any{&a.PasswordHash, &a.Role, &a.Status, &a.Description}
	},
}

// CreateAdmin stores a new administrator. It checks the name with
// ferry.ValidateName, sets a's ID, CreatedAt, UpdatedAt and Version (1),
// and fails with ferry.ErrExists when the name is taken.
func (s *Store) CreateAdmin(ctx context.Context, a *ferry.Admin) error {
	return create(ctx, s, adminRecord, a)
}

// GetAdmin returns the administrator called name, or ferry.ErrNotFound.
func (s *Store) GetAdmin(ctx context.Context, name string) (*ferry.Admin, error) {
	return get(ctx, s, adminRecord, name)
}

// ListAdmins returns administrators ordered by name.
func (s *Store) ListAdmins(ctx context.Context, o ListOptions) ([]*ferry.Admin, error) {
	return list(ctx, s, adminRecord, o)
}

// UpdateAdmin replaces the stored administrator called a.Name with a, with
// the same version check and write-back as [Store.UpdateUser].
func (s *Store) UpdateAdmin(ctx context.Context, a *ferry.Admin) error {
	return update(ctx, s, adminRecord, a)
}

// DeleteAdmin removes the administrator called name, or fails with
// ferry.ErrNotFound.
func (s *Store) DeleteAdmin(ctx context.Context, name string) error {
	return remove(ctx, s, adminRecord, name)
}

// CountAdmins returns the number of administrators.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	return count(ctx, s, adminRecord)
}
