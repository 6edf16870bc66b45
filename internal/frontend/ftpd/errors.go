package ftpd

import (
	"errors"
	"io/fs"

	"github.com/ferrymft/ferry/internal/ferry"
)

// replyFor maps a core error to an FTP reply code and a text that tells
// the class of failure without server paths. It is the only code in ftpd
// that knows which reply a domain error gets.
func replyFor(err error) (int, string) {
	if text, ok := ferry.RefusalText(err); ok {
		return 550, text + "."
	}
	switch {
	case errors.Is(err, ferry.ErrQuota):
		return 552, "Quota exceeded."
	case errors.Is(err, ferry.ErrClosed):
		return 421, "Session closed."
	case errors.Is(err, ferry.ErrAuth):
		return 530, "Login incorrect."
	case errors.Is(err, fs.ErrPermission):
		return 550, "Permission denied."
	case errors.Is(err, ferry.ErrExists), errors.Is(err, fs.ErrExist):
		return 550, "File exists."
	case errors.Is(err, ferry.ErrNotEmpty):
		return 550, "Directory not empty."
	case errors.Is(err, ferry.ErrIsDir):
		return 550, "Is a directory."
	case errors.Is(err, ferry.ErrNotDir):
		return 550, "Not a directory."
	case errors.Is(err, fs.ErrNotExist):
		return 550, "No such file or directory."
	case errors.Is(err, ferry.ErrInvalid):
		return 501, "Invalid argument."
	case errors.Is(err, ferry.ErrLimit):
		return 450, "Limit reached, try again later."
	case errors.Is(err, errors.ErrUnsupported):
		return 502, "Not supported by this server's storage."
	}
	return 451, "Local error in processing."
}

// transferReply is replyFor for a transfer that failed after 150: the
// data connection's own failures are 426.
func transferReply(err error) (int, string) {
	code, text := replyFor(err)
	if code == 451 {
		return 426, "Connection closed; transfer aborted."
	}
	return code, text
}
