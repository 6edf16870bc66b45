package adminapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
)

// Token is an API credential as the token store keeps it (the secret is
// never stored, only Hash, the hex SHA-256 of it).
type Token struct {
	ID    int64
	Name  string
	Admin string
	Kind  string // kindSession or kindAPI
	Scope string // scopeFull or scopeReadOnly
	Hash  string
	// CreatedAt is set by the store; zero ExpiresAt never expires.
	CreatedAt, ExpiresAt, LastUsedAt time.Time
}

// Tokens stores API tokens.
type Tokens interface {
	CreateToken(ctx context.Context, t *Token) error
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	ListTokens(ctx context.Context, admin, kind string) ([]*Token, error)
	TouchToken(ctx context.Context, name string, at time.Time) error
	DeleteToken(ctx context.Context, name string) error
	DeleteAdminTokens(ctx context.Context, admin string) (int, error)
	PurgeExpiredTokens(ctx context.Context, now time.Time) (int, error)
}

// Token kinds and scopes.
const (
	kindSession   = "session"
	kindAPI       = "api"
	scopeFull     = "full"
	scopeReadOnly = "read-only"
	// tokenPrefix marks Ferry's tokens, so a leaked one is recognisable
	// by secret scanners.
	tokenPrefix = "fry_"
	// sessionCookie holds a web admin session's token.
	sessionCookie = "ferry_admin"
)

// access is what an operation needs.
type access int

const (
	accessRead  access = iota // any signed-in admin
	accessUsers               // change users, groups, sessions: full or user-manager
	accessFull                // change anything: full
)

// principal is the signed-in admin making a request.
type principal struct {
	admin *ferry.Admin
	token *Token
}

func (p *principal) name() string { return p.admin.Name }

// allows reports whether p may do what a needs: the admin's role bounds it
// and a read-only token narrows it further.
func (p *principal) allows(a access) bool {
	if a == accessRead {
		return true
	}
	if p.token.Scope != scopeFull {
		return false
	}
	switch p.admin.Role {
	case ferry.RoleFull:
		return true
	case ferry.RoleUserManager:
		return a == accessUsers
	}
	return false
}

func (p *principal) require(a access) error {
	if p.allows(a) {
		return nil
	}
	if p.token.Scope != scopeFull {
		return errf(http.StatusForbidden, codeForbidden, "", "this token is read-only")
	}
	return errf(http.StatusForbidden, codeForbidden, "", "role %s may not do this", p.admin.Role)
}

// newSecret returns a random token and its hash.
func newSecret() (secret, hash string) {
	secret = tokenPrefix + strings.ToLower(rand.Text()) + strings.ToLower(rand.Text())
	return secret, hashSecret(secret)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

var errUnauthorized = errf(http.StatusUnauthorized, codeUnauthorized, "",
	"missing, expired or revoked token; get one with POST /api/v1/auth/token")

// principalFor resolves a token secret to the admin it acts for.
func (s *Server) principalFor(ctx context.Context, secret string) (*principal, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return nil, errUnauthorized
	}
	t, err := s.opts.Tokens.TokenByHash(ctx, hashSecret(secret))
	if errors.Is(err, ferry.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return nil, errUnauthorized
	}
	a, err := s.opts.Accounts.GetAdmin(ctx, t.Admin)
	if errors.Is(err, ferry.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if a.Status != ferry.StatusActive {
		return nil, errUnauthorized
	}
	if t.Kind == kindAPI && now.Sub(t.LastUsedAt) > time.Minute {
		if err := s.opts.Tokens.TouchToken(ctx, t.Name, now); err != nil {
			s.log.Warn("record token use", "token", t.Name, "err", err)
		}
	}
	return &principal{admin: a, token: t}, nil
}

// bearer returns the request's bearer token, if any.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// remoteAddr is the client's address for the defender and events.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// signIn checks an admin's password and issues a session token. Unknown
// admins, wrong passwords and disabled accounts fail alike.
func (s *Server) signIn(ctx context.Context, remote netip.Addr, name, password string) (string, *Token, *ferry.Admin, error) {
	if d := s.opts.Defender; d != nil && remote.IsValid() {
		if err := d.Admit(remote); err != nil {
			return "", nil, nil, errf(http.StatusForbidden, codeBanned, "", "your address is banned after failed sign-ins")
		}
	}
	fail := func() (string, *Token, *ferry.Admin, error) {
		if d := s.opts.Defender; d != nil && remote.IsValid() {
			d.Report(ctx, remote, "admin sign-in failed")
		}
		s.opts.Publisher.Publish(ferry.Event{Type: ferry.EventLoginFailed, User: name, Protocol: ferry.AdminAPI,
			Remote: remote.String(), Status: "admin sign-in failed"})
		return "", nil, nil, errf(http.StatusUnauthorized, codeUnauthorized, "", "wrong admin name or password")
	}
	a, err := s.opts.Accounts.GetAdmin(ctx, name)
	if err != nil && !errors.Is(err, ferry.ErrNotFound) {
		return "", nil, nil, err
	}
	if a == nil {
		auth.DummyVerify(password)
		return fail()
	}
	ok, err := auth.VerifyPassword(a.PasswordHash, password)
	if err != nil || !ok || a.Status != ferry.StatusActive {
		return fail()
	}
	secret, hash := newSecret()
	t := &Token{Name: "session-" + hash[:16], Admin: a.Name, Kind: kindSession, Scope: scopeFull, Hash: hash,
		ExpiresAt: s.opts.Now().Add(s.opts.TokenTTL)}
	if err := s.opts.Tokens.CreateToken(ctx, t); err != nil {
		return "", nil, nil, err
	}
	if _, err := s.opts.Tokens.PurgeExpiredTokens(ctx, s.opts.Now()); err != nil {
		s.log.Warn("purge expired tokens", "err", err)
	}
	return secret, t, a, nil
}
