package adminapi

import (
	_ "embed"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// openapiJSON is the API's OpenAPI 3 document; a test checks it against
// the routes registered here.
//
//go:embed openapi.json
var openapiJSON []byte

func (s *Server) routes() {
	s.handlePublic("GET", "/api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapiJSON)
		return nil
	})
	s.handlePublic("POST", "/api/v1/auth/token", s.issueToken)
	s.handle("DELETE", "/api/v1/auth/token", accessRead, s.revokeOwnToken)
	s.handle("GET", "/api/v1/tokens", accessRead, s.listTokens)
	s.handle("POST", "/api/v1/tokens", accessRead, s.createToken)
	s.handle("DELETE", "/api/v1/tokens/{name}", accessRead, s.deleteToken)

	s.handle("GET", "/api/v1/status", accessRead, s.status)
	s.users().register(s)
	s.handle("POST", "/api/v1/users/{name}/password", accessUsers, s.handlePassword("users"))
	s.groups().register(s)
	s.folders().register(s)
	s.admins().register(s)
	s.handle("POST", "/api/v1/admins/{name}/password", accessRead, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		// Every admin may change their own password; others' need full.
		need := accessFull
		if r.PathValue("name") == p.name() {
			need = accessUsers
			if p.token.Scope == scopeFull {
				need = accessRead
			}
		}
		if err := p.require(need); err != nil {
			return err
		}
		return s.handlePassword("admins")(w, r, p)
	})
	s.services().register(s)
	s.handle("POST", "/api/v1/services/{name}/start", accessFull, s.handleStartStop(true))
	s.handle("POST", "/api/v1/services/{name}/stop", accessFull, s.handleStartStop(false))

	s.handle("GET", "/api/v1/sessions", accessRead, s.listSessions)
	s.handle("DELETE", "/api/v1/sessions", accessUsers, s.kickUser)
	s.handle("GET", "/api/v1/sessions/{id}", accessRead, s.getSession)
	s.handle("DELETE", "/api/v1/sessions/{id}", accessUsers, s.kickSession)

	s.handle("GET", "/api/v1/bans", accessRead, s.listBans)
	s.handle("POST", "/api/v1/bans", accessFull, s.addBan)
	s.handle("DELETE", "/api/v1/bans/{network...}", accessFull, s.deleteBan)

	s.handle("GET", "/api/v1/events", accessRead, s.listEvents)

	s.rules().register(s)
	s.handle("GET", "/api/v1/outbox", accessRead, s.listOutbox)
	s.handle("POST", "/api/v1/outbox/replay", accessFull, s.replayOutbox)

	s.locations().register(s)
	s.transfers().register(s)
	s.handle("POST", "/api/v1/transfers/{name}/run", accessFull, s.runTransfer)
	s.handle("GET", "/api/v1/transfers/{name}/history", accessRead, s.transferHistory)

	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeErr(w, r, errf(http.StatusMethodNotAllowed, codeMethod, "", "%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		s.writeErr(w, r, errf(http.StatusNotFound, codeNotFound, "", "no such endpoint %s %s; see /api/v1/openapi.json", r.Method, r.URL.Path))
	})
}

// Routes lists the API's routes as "METHOD /path" (for the OpenAPI
// check and the docs).
func (s *Server) Routes() []string {
	out := make([]string, len(s.routeList))
	for i, r := range s.routeList {
		out[i] = r.method + " " + r.path
	}
	return out
}

// allowed lists the methods that have a route for r's path.
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := s.mux.Handler(r2); pattern != "/api/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

// tokenView is a token as the API shows it; Token (the secret) is only
// set in the answer that creates it.
type tokenView struct {
	Token      string     `json:"token,omitempty"`
	Name       string     `json:"name"`
	Admin      string     `json:"admin"`
	Kind       string     `json:"kind"`
	Scope      string     `json:"scope"`
	Role       ferry.Role `json:"role,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at,omitzero"`
	LastUsedAt time.Time  `json:"last_used_at,omitzero"`
}

func viewToken(t *Token) tokenView {
	return tokenView{Name: t.Name, Admin: t.Admin, Kind: t.Kind, Scope: t.Scope,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt}
}

// issueToken serves POST /api/v1/auth/token: Basic auth of an admin in,
// a session token out.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) error {
	name, pw, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="ferry admin"`)
		return errf(http.StatusUnauthorized, codeUnauthorized, "", "send the admin name and password with HTTP Basic authentication (curl -u NAME)")
	}
	secret, t, a, err := s.signIn(r.Context(), remoteAddr(r), name, pw)
	if err != nil {
		return err
	}
	v := viewToken(t)
	v.Token, v.Role = secret, a.Role
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) revokeOwnToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := s.opts.Tokens.DeleteToken(r.Context(), p.token.Name); err != nil && !errors.Is(err, ferry.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listTokens lists the caller's named tokens; a full admin may ask for
// ?admin=NAME or ?admin=* (everyone's).
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	admin := p.name()
	if q := r.URL.Query().Get("admin"); q != "" && q != admin {
		if err := p.require(accessFull); err != nil {
			return err
		}
		admin = strings.TrimSuffix(q, "*")
	}
	ts, err := s.opts.Tokens.ListTokens(r.Context(), admin, kindAPI)
	if err != nil {
		return err
	}
	out := make([]tokenView, len(ts))
	for i, t := range ts {
		out[i] = viewToken(t)
	}
	writeJSON(w, http.StatusOK, pageOf(out, ferry.ListOptions{Limit: len(out) + 1}))
	return nil
}

// createToken serves POST /api/v1/tokens: a named, long-lived token for
// the caller, shown once.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.token.Scope != scopeFull {
		return errf(http.StatusForbidden, codeForbidden, "", "this token is read-only")
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Name      string    `json:"name"`
		Scope     string    `json:"scope"`
		ExpiresAt time.Time `json:"expires_at"`
		ExpiresIn string    `json:"expires_in"`
	}
	if err := decodeInto(body, &in); err != nil {
		return err
	}
	if err := ferry.ValidateName("token", in.Name); err != nil {
		return invalid("name", err)
	}
	if strings.HasPrefix(in.Name, kindSession+"-") {
		return errf(http.StatusBadRequest, codeInvalid, "name", "names starting with %q are reserved for sign-in tokens", kindSession+"-")
	}
	switch in.Scope {
	case "":
		in.Scope = scopeFull
	case scopeFull, scopeReadOnly:
	default:
		return errf(http.StatusBadRequest, codeInvalid, "scope", "scope %q: accepted values are full, read-only", in.Scope)
	}
	if in.ExpiresIn != "" {
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil || d <= 0 || !in.ExpiresAt.IsZero() {
			return errf(http.StatusBadRequest, codeInvalid, "expires_in", "expires_in %q: a positive Go duration such as 720h, and not together with expires_at", in.ExpiresIn)
		}
		in.ExpiresAt = s.opts.Now().Add(d)
	}
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(s.opts.Now()) {
		return errf(http.StatusBadRequest, codeInvalid, "expires_at", "expires_at must be in the future")
	}
	secret, hash := newSecret()
	t := &Token{Name: in.Name, Admin: p.name(), Kind: kindAPI, Scope: in.Scope, Hash: hash, ExpiresAt: in.ExpiresAt}
	if err := s.opts.Tokens.CreateToken(r.Context(), t); err != nil {
		return err
	}
	s.audit(r, p, "create", "/tokens/"+t.Name)
	v := viewToken(t)
	v.Token = secret
	w.Header().Set("Location", "/api/v1/tokens/"+t.Name)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// deleteToken revokes one of the caller's tokens; a full admin may
// revoke anyone's.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.token.Scope != scopeFull {
		return errf(http.StatusForbidden, codeForbidden, "", "this token is read-only")
	}
	name := r.PathValue("name")
	ts, err := s.opts.Tokens.ListTokens(r.Context(), "", "")
	if err != nil {
		return err
	}
	var found *Token
	for _, t := range ts {
		if t.Name == name {
			found = t
		}
	}
	if found == nil || (found.Admin != p.name() && !p.allows(accessFull)) {
		return errf(http.StatusNotFound, codeNotFound, "", "token %q not found", name)
	}
	if err := s.opts.Tokens.DeleteToken(r.Context(), name); err != nil {
		return err
	}
	s.audit(r, p, "delete", "/tokens/"+name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
