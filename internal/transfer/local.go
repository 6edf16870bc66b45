package transfer

import (
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

func parentLocal(p string) string { return filepath.Dir(p) }

// specialLocal reports whether p exists and is neither a regular file nor
// a directory (/dev/null, a named pipe, a terminal): it is written as it
// is, with no temporary name, resume or size check.
func specialLocal(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.Mode().IsRegular() && !fi.IsDir()
}

// hashLocalPrefix adds the first n bytes of the local file p to h.
func hashLocalPrefix(h hash.Hash, p string, n int64) error {
	if n <= 0 {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(h, f, n); err != nil {
		return fmt.Errorf("hash %s: %w", p, err)
	}
	return nil
}
