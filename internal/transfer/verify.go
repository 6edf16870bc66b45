package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"

	"github.com/ferrymft/ferry/internal/remote"
)

var errMismatch = errors.New("verification failed")

// sumResult is a digest computed on another goroutine.
type sumResult struct {
	sum []byte
	err error
}

// sumVerify reports whether verify compares SHA-256 digests for j (else
// it checks sizes at most).
func (c *Copier) sumVerify(sfs, dfs remote.FS, j job) bool {
	if c.o.Verify != VerifyAuto && c.o.Verify != VerifyHash {
		return false
	}
	_, sok := sfs.(remote.Hasher)
	_, dok := dfs.(remote.Hasher)
	bothLocal := j.src.Scheme == "file" && j.dst.Scheme == "file"
	return sok && dok && !(c.o.Verify == VerifyAuto && bothLocal)
}

// verify checks the written file's size and, when asked and possible, its
// SHA-256 against the source's. streamed, when set, is the destination's
// digest taken while writing it (a local file); srcSum, when set, delivers
// the source's digest computed meanwhile. A special destination (not a
// regular local file) has no size to check.
func (c *Copier) verify(ctx context.Context, sfs, dfs remote.FS, j job, tmp string, special bool, streamed []byte, srcSum <-chan sumResult) (string, error) {
	if c.o.Verify == VerifyNone {
		return "", nil
	}
	if !special {
		de, err := dfs.Stat(ctx, tmp)
		if err != nil {
			return "", fmt.Errorf("%s: verify: %w", j.dst, err)
		}
		if de.Size != j.size {
			return "", fmt.Errorf("%s: %w: size %d, source %d", j.dst, errMismatch, de.Size, j.size)
		}
	}
	if c.o.Verify == VerifySize {
		return "", nil
	}
	if !c.sumVerify(sfs, dfs, j) || (special && streamed == nil) {
		if c.o.Verify == VerifyHash {
			return "", fmt.Errorf("%s: verify: no hash on one side: %w", j.dst, errors.ErrUnsupported)
		}
		return "", nil
	}
	sh, dh := sfs.(remote.Hasher), dfs.(remote.Hasher)
	ds, err := streamed, error(nil)
	if ds == nil {
		ds, err = dh.Hash(ctx, tmp, "sha256")
	}
	if err == nil {
		var ss []byte
		if srcSum != nil {
			select {
			case r := <-srcSum:
				ss, err = r.sum, r.err
			case <-ctx.Done():
				err = ctx.Err()
			}
			if err != nil {
				err = fmt.Errorf("%s: %w", j.src, err)
			}
		} else {
			ss, err = sh.Hash(ctx, j.src.Path, "sha256")
		}
		if err == nil {
			if !bytes.Equal(ss, ds) {
				return "", fmt.Errorf("%s: %w: sha256 %x, source %x", j.dst, errMismatch, ds, ss)
			}
			return fmt.Sprintf("sha256:%x", ds), nil
		}
	}
	if c.o.Verify == VerifyHash || !errors.Is(err, errors.ErrUnsupported) {
		return "", fmt.Errorf("%s: verify: %w", j.dst, err)
	}
	return "", nil
}

// hashWriter hashes what its Writer accepted.
type hashWriter struct {
	remote.Writer
	h hash.Hash
}

func (w hashWriter) Write(b []byte) (int, error) {
	n, err := w.Writer.Write(b)
	w.h.Write(b[:n])
	return n, err
}
