package store

import (
	"cmp"
	"context"

	"github.com/ferrymft/ferry/internal/ferry"
)

var folderRecord = &record[ferry.Folder]{
	kind:  "folder",
	table: "folders",
	cols:  []string{"path", "description", "quota_bytes", "quota_files"},
	meta: func(f *ferry.Folder) meta {
		return meta{id: &f.ID, name: &f.Name, created: &f.CreatedAt, updated: &f.UpdatedAt, version: &f.Version}
	},
	args: func(f *ferry.Folder) ([]any, error) {
		if err := cmp.Or(checkText("path", f.Path), checkText("description", f.Description)); err != nil {
			return nil, err
		}
		return []any{f.Path, f.Description, f.QuotaBytes, f.QuotaFiles}, nil
	},
	dests: func(f *ferry.Folder) []any { return []any{&f.Path, &f.Description, &f.QuotaBytes, &f.QuotaFiles} },
}

// CreateFolder stores a new virtual folder (ferry.ErrExists when taken).
func (s *Store) CreateFolder(ctx context.Context, f *ferry.Folder) error {
	return create(ctx, s, folderRecord, f)
}

// GetFolder returns the folder called name, or ferry.ErrNotFound.
func (s *Store) GetFolder(ctx context.Context, name string) (*ferry.Folder, error) {
	return get(ctx, s, folderRecord, name)
}

// ListFolders returns folders ordered by name.
func (s *Store) ListFolders(ctx context.Context, o ListOptions) ([]*ferry.Folder, error) {
	return list(ctx, s, folderRecord, o)
}

// UpdateFolder replaces the stored folder called f.Name, with the version
// check of [Store.UpdateUser].
func (s *Store) UpdateFolder(ctx context.Context, f *ferry.Folder) error {
	return update(ctx, s, folderRecord, f)
}

// DeleteFolder removes the folder called name. Mounts naming it stop
// working (logins mount nothing there).
func (s *Store) DeleteFolder(ctx context.Context, name string) error {
	return remove(ctx, s, folderRecord, name)
}

// CountFolders returns how many folders exist.
func (s *Store) CountFolders(ctx context.Context) (int, error) {
	return count(ctx, s, folderRecord)
}
