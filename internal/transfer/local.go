package transfer

import "path/filepath"

func parentLocal(p string) string { return filepath.Dir(p) }
