package httpd

import (
	"context"
	"errors"
	"io/fs"
	"net/http"

	"github.com/ferrymft/ferry/internal/ferry"
)

// httpError maps a core error to an HTTP status, a stable machine code for
// the REST API and a sentence for people. It is the only place that knows
// how domain errors look over HTTP.
func httpError(err error) (status int, code, msg string) {
	if text, ok := ferry.RefusalText(err); ok {
		return http.StatusForbidden, "refused", text + "."
	}
	switch {
	case err == nil:
		return http.StatusOK, "", ""
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound, "not_found", "No such file or folder."
	case errors.Is(err, ferry.ErrAuth):
		return http.StatusUnauthorized, "unauthorized", "Authentication failed."
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden, "forbidden", "You do not have permission to do that here."
	case errors.Is(err, ferry.ErrExists), errors.Is(err, fs.ErrExist):
		return http.StatusConflict, "exists", "Something with that name already exists."
	case errors.Is(err, ferry.ErrNotEmpty):
		return http.StatusConflict, "not_empty", "The folder is not empty."
	case errors.Is(err, ferry.ErrIsDir):
		return http.StatusConflict, "is_directory", "That is a folder, not a file."
	case errors.Is(err, ferry.ErrNotDir):
		return http.StatusConflict, "not_directory", "That is a file, not a folder."
	case errors.Is(err, ferry.ErrInvalid):
		return http.StatusBadRequest, "invalid", "The request is not valid: " + err.Error()
	case errors.Is(err, ferry.ErrQuota):
		return http.StatusInsufficientStorage, "quota_exceeded", "Your storage quota is exhausted."
	case errors.Is(err, ferry.ErrLimit):
		return http.StatusTooManyRequests, "limit", "A limit was reached; try again later."
	case errors.Is(err, ferry.ErrClosed), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "closed", "The session was closed."
	case errors.Is(err, errors.ErrUnsupported):
		return http.StatusNotImplemented, "unsupported", "This server does not support that."
	}
	return http.StatusInternalServerError, "internal", "Something went wrong on the server."
}

// davStatus refines the status x/net/webdav chose for a failed request
// using the core error behind it: the library maps most failures to 404,
// 405 or 409, which hides permission and quota errors from clients.
func davStatus(err error, libStatus int) int {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	case errors.Is(err, ferry.ErrQuota):
		return http.StatusInsufficientStorage
	case errors.Is(err, ferry.ErrLimit):
		return http.StatusServiceUnavailable
	case errors.Is(err, ferry.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, ferry.ErrIsDir) && libStatus == http.StatusNotFound:
		return http.StatusMethodNotAllowed
	}
	return libStatus
}
