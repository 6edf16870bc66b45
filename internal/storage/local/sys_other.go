//go:build !linux

package local

import (
	"errors"
	"os"

	"github.com/ferrymft/ferry/internal/storage"
)

// oDirectory is not portable; OpenDir checks the opened file instead.
const oDirectory = 0

// statFS is implemented on Linux only.
func statFS(*os.Root, string) (storage.Usage, error) {
	return storage.Usage{}, errors.ErrUnsupported
}
