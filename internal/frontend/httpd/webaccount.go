package httpd

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ferrymft/ferry/internal/ferry"
)

// The web client's account pages: the user's API tokens and their own
// password. Everything is decided by core (Session.CreateToken,
// RevokeToken, ChangePassword); these handlers render forms and words.

func (s *Server) accountRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /tokens", s.webAuthed(s.webTokens))
	mux.HandleFunc("POST /tokens", s.webAuthed(s.webTokenAdd))
	mux.HandleFunc("POST /tokens/delete", s.webAuthed(s.webTokenDel))
	mux.HandleFunc("GET /password", s.webAuthed(s.webPasswordPage))
	mux.HandleFunc("POST /password", s.webAuthed(s.webPassword))
}

type tokenRow struct {
	Name, Created, Expires, LastUsed string
	Expired                          bool
}

// tokenExpiries are the choices of the new-token form, in days (0: never).
var tokenExpiries = []int{30, 90, 365, 0}

func fmtWhen(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// webTokens lists the user's tokens with the new-token form; secret, when
// set, is a token just created, shown this once.
func (s *Server) webTokens(w http.ResponseWriter, r *http.Request) {
	s.renderTokens(w, r, http.StatusOK, s.basePage(r, "API tokens"))
}

func (s *Server) renderTokens(w http.ResponseWriter, r *http.Request, status int, p *page) {
	sess := sessionFrom(r.Context())
	p.Nav = "tokens"
	p.Expiries = tokenExpiries
	ts, err := sess.Tokens(r.Context())
	if err != nil {
		s.log.Warn("list tokens", "user", p.User, "err", err)
		p.Err = "Your tokens cannot be shown right now."
	}
	now := time.Now()
	for _, t := range ts {
		p.Tokens = append(p.Tokens, tokenRow{Name: t.Name, Created: fmtWhen(t.CreatedAt, "—"),
			Expires: fmtWhen(t.ExpiresAt, "never"), LastUsed: fmtWhen(t.LastUsedAt, "never"), Expired: t.Expired(now)})
	}
	s.render(w, status, "tokens", p)
}

func (s *Server) webTokenAdd(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	p := s.basePage(r, "API tokens")
	name := strings.TrimSpace(r.PostFormValue("name"))
	var expires time.Time
	days, err := strconv.Atoi(r.PostFormValue("expires"))
	if err != nil || days < 0 || days > 3650 {
		p.Err, p.TokenName = "Choose when the token expires.", name
		s.renderTokens(w, r, http.StatusBadRequest, p)
		return
	}
	if days > 0 {
		expires = time.Now().Add(time.Duration(days) * 24 * time.Hour)
	}
	secret, _, err := sess.CreateToken(r.Context(), name, expires)
	if err != nil {
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, ferry.ErrExists):
			p.Err = "You already have a token named " + strconv.Quote(name) + "; choose another name or revoke that one."
			status = http.StatusConflict
		case errors.Is(err, ferry.ErrInvalid):
			p.Err = "A token name has 1 to 64 letters, digits, dots, dashes, underscores or @, and does not start with a dot or a dash."
		default:
			s.log.Warn("create token", "user", p.User, "err", err)
			p.Err, status = "The token could not be created right now.", http.StatusInternalServerError
		}
		p.TokenName = name
		s.renderTokens(w, r, status, p)
		return
	}
	p.NewToken, p.TokenName, p.Msg = secret, name, "Token created."
	s.renderTokens(w, r, http.StatusCreated, p)
}

func (s *Server) webTokenDel(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	name := r.PostFormValue("name")
	var hash string
	if toks, err := sess.Tokens(r.Context()); err == nil {
		for _, t := range toks {
			if t.Name == name {
				hash = t.Hash
			}
		}
	}
	err := sess.RevokeToken(r.Context(), name)
	switch {
	case err == nil:
		if hash != "" {
			s.auth.forget(func(e *cachedSession) bool { return e.token == hash })
		}
		http.Redirect(w, r, "/tokens?ok=revoked", http.StatusSeeOther)
	case errors.Is(err, ferry.ErrNotFound):
		http.Redirect(w, r, "/tokens?e=not_found", http.StatusSeeOther)
	default:
		s.log.Warn("revoke token", "user", sess.User().Name, "err", err)
		http.Redirect(w, r, "/tokens?e=server", http.StatusSeeOther)
	}
}

func (s *Server) webPasswordPage(w http.ResponseWriter, r *http.Request) {
	p := s.basePage(r, "Change password")
	p.Nav = "password"
	s.render(w, http.StatusOK, "password", p)
}

func (s *Server) webPassword(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	p := s.basePage(r, "Change password")
	p.Nav = "password"
	old, pw, again := r.PostFormValue("old"), r.PostFormValue("new"), r.PostFormValue("repeat")
	fail := func(status int, msg string) {
		p.Err = msg
		s.render(w, status, "password", p)
	}
	switch {
	case old == "" || pw == "":
		fail(http.StatusBadRequest, "Enter your current password and a new one.")
		return
	case pw != again:
		fail(http.StatusBadRequest, "The new password and its repetition differ.")
		return
	}
	err := sess.ChangePassword(r.Context(), old, pw)
	switch {
	case err == nil:
		user := sess.User().Name
		s.auth.forget(func(e *cachedSession) bool { return e.token == "" && e.user == user })
		http.Redirect(w, r, "/password?ok=password", http.StatusSeeOther)
	case errors.Is(err, ferry.ErrAuth):
		fail(http.StatusForbidden, "Your current password is not right.")
	case errors.Is(err, ferry.ErrInvalid):
		fail(http.StatusBadRequest, "The new password was not accepted: "+invalidReason(err))
	case errors.Is(err, ferry.ErrConflict):
		fail(http.StatusConflict, "Your account was changed meanwhile; try again.")
	case errors.Is(err, errors.ErrUnsupported):
		fail(http.StatusNotImplemented, "Passwords cannot be changed here.")
	default:
		s.log.Warn("change password", "user", sess.User().Name, "err", err)
		fail(http.StatusInternalServerError, "Your password could not be changed right now.")
	}
}

// invalidReason is the human part of an ErrInvalid error: the text after
// "invalid argument: ", as a sentence.
func invalidReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ferry.ErrInvalid.Error()+": "); i >= 0 {
		msg = msg[i+len(ferry.ErrInvalid.Error())+2:]
	}
	if r, n := utf8.DecodeRuneInString(msg); n > 0 {
		msg = string(unicode.ToUpper(r)) + msg[n:]
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
