package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
)

func (s *Server) users() *resource[ferry.User] {
	a := s.opts.Accounts
	return &resource[ferry.User]{
		plural: "users", write: accessUsers,
		get: a.GetUser, list: a.ListUsers, create: a.CreateUser, update: a.UpdateUser, del: a.DeleteUser,
		meta:    func(u *ferry.User) (*string, *int64) { return &u.Name, &u.Version },
		fresh:   func() *ferry.User { return &ferry.User{Status: ferry.StatusActive} },
		prepare: s.prepareUser,
	}
}

func (s *Server) prepareUser(ctx context.Context, _ *principal, u, old *ferry.User, body map[string]json.RawMessage) error {
	var pw *string
	if _, err := take(body, "password", &pw); err != nil {
		return err
	}
	if err := decodeInto(body, u); err != nil {
		return err
	}
	if old != nil {
		u.PasswordHash = old.PasswordHash
	}
	if err := ferry.ValidateName("user", u.Name); err != nil {
		return invalid("name", err)
	}
	if u.Home == "" && s.groupHomeTemplate(ctx, u) {
		// The home comes from a group's home_template at login.
	} else if u.Home == "" && s.opts.HomeFor != nil {
		group := ""
		if len(u.Groups) > 0 {
			group = u.Groups[0]
		}
		u.Home = s.opts.HomeFor(u.Name, group)
	} else if u.Home == "" && s.opts.HomeRoot != "" {
		u.Home = filepath.Join(s.opts.HomeRoot, u.Name)
	}
	if u.Status == "" {
		u.Status = ferry.StatusActive
	}
	for i, line := range u.PublicKeys {
		if _, err := auth.ParseAuthorizedKey(line); err != nil {
			return invalid(fmt.Sprintf("public_keys[%d]", i), err)
		}
	}
	for i, pin := range u.TLSCertPins {
		p, err := ferry.ParseCertPin(pin)
		if err != nil {
			return invalid(fmt.Sprintf("tls_cert_pins[%d]", i), err)
		}
		u.TLSCertPins[i] = p
	}
	if err := u.Policy.Validate(); err != nil {
		return invalid("policy", err)
	}
	for i, g := range u.Groups {
		if _, err := s.opts.Accounts.GetGroup(ctx, g); errors.Is(err, ferry.ErrNotFound) {
			return errf(http.StatusBadRequest, codeInvalid, fmt.Sprintf("groups[%d]", i), "group %q does not exist", g)
		} else if err != nil {
			return err
		}
	}
	if err := u.Validate(); err != nil {
		return invalid(fieldOf(err), err)
	}
	return s.setPassword(&u.PasswordHash, pw)
}

// setPassword checks *pw against the password policy and hashes it into
// hash when pw is given.
func (s *Server) setPassword(hash *string, pw *string) error {
	if pw == nil {
		return nil
	}
	if *pw == "" {
		return errf(http.StatusBadRequest, codeInvalid, "password", "password must not be empty")
	}
	if err := s.opts.PasswordPolicy.Check(*pw); err != nil {
		return invalid("password", err)
	}
	h, err := auth.HashPassword(*pw)
	if err != nil {
		return invalid("password", err)
	}
	*hash = h
	return nil
}

func (s *Server) groups() *resource[ferry.Group] {
	a := s.opts.Accounts
	return &resource[ferry.Group]{
		plural: "groups", write: accessUsers,
		get: a.GetGroup, list: a.ListGroups, create: a.CreateGroup, update: a.UpdateGroup, del: a.DeleteGroup,
		meta:  func(g *ferry.Group) (*string, *int64) { return &g.Name, &g.Version },
		fresh: func() *ferry.Group { return &ferry.Group{} },
		prepare: func(_ context.Context, _ *principal, g, _ *ferry.Group, body map[string]json.RawMessage) error {
			if err := decodeInto(body, g); err != nil {
				return err
			}
			if err := ferry.ValidateName("group", g.Name); err != nil {
				return invalid("name", err)
			}
			if err := g.Policy.Validate(); err != nil {
				return invalid("policy", err)
			}
			if err := g.Validate(); err != nil {
				return invalid(fieldOf(err), err)
			}
			return nil
		},
	}
}

func (s *Server) folders() *resource[ferry.Folder] {
	a := s.opts.Accounts
	return &resource[ferry.Folder]{
		plural: "folders", write: accessFull,
		get: a.GetFolder, list: a.ListFolders, create: a.CreateFolder, update: a.UpdateFolder, del: a.DeleteFolder,
		meta:  func(f *ferry.Folder) (*string, *int64) { return &f.Name, &f.Version },
		fresh: func() *ferry.Folder { return &ferry.Folder{} },
		prepare: func(_ context.Context, _ *principal, f, _ *ferry.Folder, body map[string]json.RawMessage) error {
			if err := decodeInto(body, f); err != nil {
				return err
			}
			if err := ferry.ValidateName("folder", f.Name); err != nil {
				return invalid("name", err)
			}
			if err := f.Validate(); err != nil {
				return invalid("path", err)
			}
			return nil
		},
	}
}

func (s *Server) admins() *resource[ferry.Admin] {
	a := s.opts.Accounts
	return &resource[ferry.Admin]{
		plural: "admins", write: accessFull,
		get: a.GetAdmin, list: a.ListAdmins, create: a.CreateAdmin, update: a.UpdateAdmin, del: a.DeleteAdmin,
		meta:    func(ad *ferry.Admin) (*string, *int64) { return &ad.Name, &ad.Version },
		fresh:   func() *ferry.Admin { return &ferry.Admin{Role: ferry.RoleFull, Status: ferry.StatusActive} },
		prepare: s.prepareAdmin,
		beforeDelete: func(ctx context.Context, p *principal, ad *ferry.Admin) error {
			if ad.Name == p.name() {
				return errf(http.StatusConflict, codeConflict, "name", "you cannot delete the admin you are signed in as")
			}
			if _, err := s.opts.Tokens.DeleteAdminTokens(ctx, ad.Name); err != nil {
				return err
			}
			return nil
		},
	}
}

func (s *Server) prepareAdmin(_ context.Context, p *principal, ad, old *ferry.Admin, body map[string]json.RawMessage) error {
	var pw *string
	if _, err := take(body, "password", &pw); err != nil {
		return err
	}
	if err := decodeInto(body, ad); err != nil {
		return err
	}
	if old != nil {
		ad.PasswordHash = old.PasswordHash
		if old.Name == p.name() && (ad.Role != ferry.RoleFull || ad.Status != ferry.StatusActive) {
			return errf(http.StatusConflict, codeConflict, "role", "you cannot demote or disable the admin you are signed in as")
		}
	} else if pw == nil {
		return errf(http.StatusBadRequest, codeInvalid, "password", "password is required for a new admin")
	}
	if err := ferry.ValidateName("admin", ad.Name); err != nil {
		return invalid("name", err)
	}
	if err := ad.Validate(); err != nil {
		return invalid(fieldOf(err), err)
	}
	return s.setPassword(&ad.PasswordHash, pw)
}

// handlePassword serves POST /api/v1/{users,admins}/{name}/password.
func (s *Server) handlePassword(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		ctx := r.Context()
		body, err := readBody(r)
		if err != nil {
			return err
		}
		var pw string
		if ok, err := take(body, "password", &pw); err != nil {
			return err
		} else if !ok {
			return errf(http.StatusBadRequest, codeInvalid, "password", "password is required")
		}
		if err := decodeInto(body, &struct{}{}); err != nil {
			return err
		}
		name := r.PathValue("name")
		var version int64
		switch kind {
		case "users":
			u, err := s.opts.Accounts.GetUser(ctx, name)
			if err != nil {
				return err
			}
			if err := checkIfMatch(r, u.Version); err != nil {
				return err
			}
			if err := s.setPassword(&u.PasswordHash, &pw); err != nil {
				return err
			}
			if err := s.opts.Accounts.UpdateUser(ctx, u); err != nil {
				return err
			}
			version = u.Version
		default:
			ad, err := s.opts.Accounts.GetAdmin(ctx, name)
			if err != nil {
				return err
			}
			if err := checkIfMatch(r, ad.Version); err != nil {
				return err
			}
			if err := s.setPassword(&ad.PasswordHash, &pw); err != nil {
				return err
			}
			if err := s.opts.Accounts.UpdateAdmin(ctx, ad); err != nil {
				return err
			}
			version = ad.Version
		}
		s.audit(r, p, "password", "/"+kind+"/"+name)
		w.Header().Set("ETag", etag(version))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// groupHomeTemplate reports whether u gets a home template from its own
// policy, its groups or the default group.
func (s *Server) groupHomeTemplate(ctx context.Context, u *ferry.User) bool {
	if u.Policy.HomeTemplate != "" {
		return true
	}
	for _, name := range append(slices.Clone(u.Groups), ferry.DefaultGroup) {
		if g, err := s.opts.Accounts.GetGroup(ctx, name); err == nil && g.Policy.HomeTemplate != "" {
			return true
		}
	}
	return false
}
