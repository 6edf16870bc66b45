package store

import (
	"cmp"
	"context"

	"github.com/ferrymft/ferry/internal/ferry"
)

var userRecord = &record[ferry.User]{
	kind:  "user",
	table: "users",
	cols: []string{"password_hash", "public_keys", "home", "group_names", "perms",
		"status", "expires_at", "upload_mode", "description", "policy", "tls_cert_pins"},
	meta: func(u *ferry.User) meta {
		return meta{id: &u.ID, name: &u.Name, created: &u.CreatedAt, updated: &u.UpdatedAt, version: &u.Version}
	},
	args: func(u *ferry.User) ([]any, error) {
		err := cmp.Or(
			checkText("password hash", u.PasswordHash),
			checkText("public key", u.PublicKeys...),
			checkText("certificate pin", u.TLSCertPins...),
			checkText("home", u.Home),
			checkText("group name", u.Groups...),
			checkPerms(u.Perms),
			checkText("status", string(u.Status)),
			checkText("upload mode", string(u.UploadMode)),
			checkText("description", u.Description),
		)
		if err != nil {
			return nil, err
		}
		expires, err := timeArg("expiry", u.ExpiresAt)
		if err != nil {
			return nil, err
		}
		keys, err := jsonArg(u.PublicKeys)
		if err != nil {
			return nil, err
		}
		groups, err := jsonArg(u.Groups)
		if err != nil {
			return nil, err
		}
		perms, err := jsonArg(u.Perms)
		if err != nil {
			return nil, err
		}
		policy, err := policyArg(&u.Policy)
		if err != nil {
			return nil, err
		}
		pins, err := jsonArg(u.TLSCertPins)
		if err != nil {
			return nil, err
		}
		return []any{u.PasswordHash, keys, u.Home, groups, perms,
			string(u.Status), expires, string(u.UploadMode), u.Description, policy, pins}, nil
	},
	dests: func(u *ferry.User) []any {
		return []any{&u.PasswordHash, jsonCol{&u.PublicKeys}, &u.Home, jsonCol{&u.Groups}, jsonCol{&u.Perms},
			&u.Status, timeCol{&u.ExpiresAt}, &u.UploadMode, &u.Description, jsonCol{&u.Policy}, jsonCol{&u.TLSCertPins}}
	},
}

// CreateUser stores a new user. It checks the name with ferry.ValidateName,
// sets u's ID, CreatedAt, UpdatedAt and Version (1), and fails with
// ferry.ErrExists when the name is taken.
func (s *Store) CreateUser(ctx context.Context, u *ferry.User) error {
	return create(ctx, s, userRecord, u)
}

// GetUser returns the user called name, or ferry.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (*ferry.User, error) {
	return get(ctx, s, userRecord, name)
}

// ListUsers returns users ordered by name.
func (s *Store) ListUsers(ctx context.Context, o ListOptions) ([]*ferry.User, error) {
	return list(ctx, s, userRecord, o)
}

// UpdateUser replaces the stored user called u.Name with u. When u.Version
// is not 0 the stored version must equal it, or the update fails with
// ferry.ErrConflict. It writes the new Version and UpdatedAt, and the
// stored ID and CreatedAt, back into u.
func (s *Store) UpdateUser(ctx context.Context, u *ferry.User) error {
	return update(ctx, s, userRecord, u)
}

// DeleteUser removes the user called name, or fails with ferry.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return remove(ctx, s, userRecord, name)
}

// CountUsers returns the number of users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	return count(ctx, s, userRecord)
}
