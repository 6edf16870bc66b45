package ferrytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// UpdateUser replaces a stored user (core.PasswordSetter), bumping its
// Version; a non-zero Version must match the stored one.
func (u *Users) UpdateUser(_ context.Context, x *ferry.User) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	old, ok := u.users[x.Name]
	if !ok {
		return fmt.Errorf("user %q: %w", x.Name, ferry.ErrNotFound)
	}
	if x.Version != 0 && x.Version != old.Version {
		return fmt.Errorf("user %q: %w", x.Name, ferry.ErrConflict)
	}
	c := *x
	c.Version = old.Version + 1
	x.Version = c.Version
	u.users[x.Name] = &c
	return nil
}

// Tokens is an in-memory core.TokenSource.
type Tokens struct {
	mu     sync.Mutex
	nextID int64
	m      map[int64]*ferry.UserToken
}

// NewTokens returns an empty token source.
func NewTokens() *Tokens { return &Tokens{m: map[int64]*ferry.UserToken{}} }

// UserTokenByHash implements core.TokenSource.
func (s *Tokens) UserTokenByHash(_ context.Context, hash string) (*ferry.UserToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.m {
		if t.Hash == hash {
			c := *t
			return &c, nil
		}
	}
	return nil, fmt.Errorf("token: %w", ferry.ErrNotFound)
}

// TouchUserToken implements core.TokenSource.
func (s *Tokens) TouchUserToken(_ context.Context, id int64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.m[id]; ok {
		t.LastUsedAt = at
	}
	return nil
}

// CreateUserToken implements core.TokenSource.
func (s *Tokens) CreateUserToken(_ context.Context, t *ferry.UserToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.m {
		if (x.User == t.User && x.Name == t.Name) || x.Hash == t.Hash {
			return fmt.Errorf("token %q: %w", t.Name, ferry.ErrExists)
		}
	}
	s.nextID++
	t.ID, t.CreatedAt = s.nextID, time.Now()
	c := *t
	s.m[t.ID] = &c
	return nil
}

// ListUserTokens implements core.TokenSource.
func (s *Tokens) ListUserTokens(_ context.Context, user string) ([]*ferry.UserToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*ferry.UserToken
	for _, t := range s.m {
		if user == "" || t.User == user {
			c := *t
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *ferry.UserToken) int {
		return strings.Compare(a.User+"\x00"+a.Name, b.User+"\x00"+b.Name)
	})
	return out, nil
}

// DeleteUserToken implements core.TokenSource.
func (s *Tokens) DeleteUserToken(_ context.Context, user, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.m {
		if t.User == user && t.Name == name {
			delete(s.m, id)
			return nil
		}
	}
	return fmt.Errorf("token %q: %w", name, ferry.ErrNotFound)
}
