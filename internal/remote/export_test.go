package remote

import "io"

// FastRead reports whether a reader from Open is the SFTP fast path.
func FastRead(r io.ReadCloser) bool {
	_, ok := r.(*fastReader)
	return ok
}
