package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Error codes in {"error": {"code": …}}. The HTTP status goes with each.
const (
	codeBadRequest   = "bad_request"         // 400: malformed JSON, query or header
	codeInvalid      = "invalid"             // 400: a field's value is refused; field names it
	codeUnauthorized = "unauthorized"        // 401
	codeForbidden    = "forbidden"           // 403: role or token scope
	codeNotFound     = "not_found"           // 404
	codeMethod       = "method_not_allowed"  // 405
	codeExists       = "exists"              // 409: the name is taken
	codeConflict     = "conflict"            // 409: the record changed since it was read
	codePrecondition = "precondition_failed" // 412: If-Match does not match
	codeTooLarge     = "too_large"           // 413
	codeBanned       = "banned"              // 403: the client address is banned
	codeInternal     = "internal"            // 500
)

// apiError is the one error shape the API returns.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func errf(status int, code, field, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// invalid is a 400 naming field.
func invalid(field string, err error) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeInvalid, Field: field, Message: cleanMessage(err)}
}

// cleanMessage drops the package prefixes ("store: ") and the sentinel
// text an error carries for errors.Is, which mean nothing to an API user.
func cleanMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "store: ")
	msg = strings.ReplaceAll(msg, ferry.ErrInvalid.Error()+": ", "")
	msg = strings.TrimSuffix(msg, ": "+ferry.ErrInvalid.Error())
	return msg
}

// apiErr classifies err once: the only code that picks a status.
func apiErr(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, ferry.ErrNotFound):
		return errf(http.StatusNotFound, codeNotFound, "", "%s", cleanMessage(err))
	case errors.Is(err, ferry.ErrExists):
		return errf(http.StatusConflict, codeExists, "name", "%s", cleanMessage(err))
	case errors.Is(err, ferry.ErrConflict):
		return errf(http.StatusConflict, codeConflict, "version", "%s; read it again and retry", cleanMessage(err))
	case errors.Is(err, ferry.ErrInvalid):
		return invalid(fieldOf(err), err)
	}
	return errf(http.StatusInternalServerError, codeInternal, "", "internal error")
}

// optionRe finds the option key in a factory's error ("option "x": …",
// "option x: …").
var optionRe = regexp.MustCompile(`option "?([a-z0-9_]+)"?`)

// fieldOf guesses the field of a domain validation error from the words
// the domain uses; handlers that know the field better pass it to invalid.
func fieldOf(err error) string {
	msg := err.Error()
	for _, f := range []struct{ word, field string }{
		{"listen address", "listen"}, {"protocol ", "protocol"}, {"home ", "home"}, {"status ", "status"},
		{"upload mode", "upload_mode"}, {"permission", "perms"}, {"role ", "role"}, {"network", "network"},
		{"expiry", "expires_at"}, {"description", "description"},
	} {
		if strings.Contains(msg, f.word) {
			return f.field
		}
	}
	if m := optionRe.FindStringSubmatch(msg); m != nil {
		return "options." + m[1]
	}
	if strings.Contains(msg, " name ") || strings.HasPrefix(msg, "name") {
		return "name"
	}
	return ""
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away
}

// writeErr writes err as {"error": {…}} and logs internal errors.
func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	ae := apiErr(err)
	if ae.Status >= 500 {
		s.log.Error("admin api", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry"`)
	}
	writeJSON(w, ae.Status, map[string]*apiError{"error": ae})
}
