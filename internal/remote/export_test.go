package remote

import "io"

// FastRead reports whether a reader from Open is the SFTP fast path.
func FastRead(r io.ReadCloser) bool {
	_, ok := r.(*fastReader)
	return ok
}

// FastReadLen is the READ length of an SFTP fast-path reader.
func FastReadLen(r io.ReadCloser) int {
	if fr, ok := r.(*fastReader); ok {
		return fr.c.chunk
	}
	return 0
}
