//go:build !linux

package transfer

import (
	"context"
	"errors"
)

// watchDir is not available here: the scheduler polls.
func watchDir(ctx context.Context, dir string, recursive bool, skip func(rel string) bool, ready, changed func()) error {
	return errors.ErrUnsupported
}
