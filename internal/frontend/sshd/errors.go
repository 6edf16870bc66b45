package sshd

import (
	"errors"
	"io"
	"io/fs"

	"github.com/ferrymft/ferry/internal/ferry"
)

// SFTP v3 status codes (draft-ietf-secsh-filexfer-02 section 7).
const (
	fxOK               = 0
	fxEOF              = 1
	fxNoSuchFile       = 2
	fxPermissionDenied = 3
	fxFailure          = 4
	fxBadMessage       = 5
	fxNoConnection     = 6
	fxConnectionLost   = 7
	fxOpUnsupported    = 8
)

// errBadMessage marks a request that does not decode.
var errBadMessage = errors.New("bad message")

// errBadHandle is a request naming a handle that is not open (or of the
// wrong kind).
var errBadHandle = errors.New("invalid handle")

// status maps an error to an SFTP status code and an English message. It is
// the one place where Ferry's errors become SFTP's.
func status(err error) (uint32, string) {
	if text, ok := ferry.RefusalText(err); ok {
		return fxPermissionDenied, text
	}
	switch {
	case err == nil:
		return fxOK, "Success"
	case errors.Is(err, io.EOF):
		return fxEOF, "End of file"
	case errors.Is(err, errBadMessage):
		return fxBadMessage, "Bad message"
	case errors.Is(err, errBadHandle):
		return fxFailure, "Invalid handle"
	case errors.Is(err, errors.ErrUnsupported):
		return fxOpUnsupported, "Operation unsupported"
	case errors.Is(err, ferry.ErrQuota):
		return fxFailure, "Quota exceeded"
	case errors.Is(err, ferry.ErrLimit):
		return fxFailure, "Limit reached"
	case errors.Is(err, ferry.ErrClosed):
		return fxConnectionLost, "Session closed"
	case errors.Is(err, ferry.ErrExists), errors.Is(err, fs.ErrExist):
		return fxFailure, "File exists"
	case errors.Is(err, ferry.ErrNotEmpty):
		return fxFailure, "Directory not empty"
	case errors.Is(err, ferry.ErrIsDir):
		return fxFailure, "Is a directory"
	case errors.Is(err, ferry.ErrNotDir):
		return fxNoSuchFile, "Not a directory"
	case errors.Is(err, fs.ErrPermission), errors.Is(err, ferry.ErrAuth):
		return fxPermissionDenied, "Permission denied"
	case errors.Is(err, fs.ErrNotExist):
		return fxNoSuchFile, "No such file"
	case errors.Is(err, ferry.ErrInvalid):
		return fxFailure, "Invalid argument"
	}
	return fxFailure, "Failure"
}
