package core

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// HashAlgorithms lists what Hash accepts, strongest first.
var HashAlgorithms = []string{"sha512", "sha256", "sha1", "md5", "crc32"}

func newHash(algo string) (hash.Hash, error) {
	switch strings.ToLower(algo) {
	case "md5":
		return md5.New(), nil
	case "sha1", "sha-1":
		return sha1.New(), nil
	case "sha256", "sha-256":
		return sha256.New(), nil
	case "sha512", "sha-512":
		return sha512.New(), nil
	case "crc32":
		return crc32.NewIEEE(), nil
	}
	return nil, fmt.Errorf("%w: hash algorithm %q: accepted values are %s", ferry.ErrInvalid, algo, strings.Join(HashAlgorithms, ", "))
}

// Hash returns the digest of length bytes of p from offset (length < 0: to
// the end). Needs the download right: a digest tells about the content.
func (s *Session) Hash(ctx context.Context, p, algo string, offset, length int64) ([]byte, error) {
	h, err := newHash(algo)
	if err != nil {
		return nil, err
	}
	vp, name, err := s.check(ferry.PermDownload, p)
	if err != nil {
		return nil, err
	}
	f, err := s.fs.OpenFile(ctx, name, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("core: hash %q: %w", vp, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("core: hash %q: %w", vp, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("core: hash %q: %w", vp, ferry.ErrIsDir)
	}
	if offset < 0 || offset > fi.Size() {
		return nil, fmt.Errorf("core: hash %q: offset %d outside file of %d bytes: %w", vp, offset, fi.Size(), ferry.ErrInvalid)
	}
	if sum := s.knownSum(ctx, algo, name, offset, length, fi); sum != nil {
		return sum, nil
	}
	if length < 0 || offset+length > fi.Size() {
		length = fi.Size() - offset
	}
	r := io.NewSectionReader(f, offset, length)
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("core: hash %q: %w", vp, err)
		}
	}
	sum := h.Sum(nil)
	s.keepSum(ctx, algo, name, offset, length, fi, f, sum)
	return sum, nil
}

// keepSum records the SHA-256 of a whole file just computed, as an
// upload's is, so the next client asking (a partner verifying each
// download with check-file or XSHA256) gets it without a re-read. Only
// when the file did not change while it was read.
func (s *Session) keepSum(ctx context.Context, algo, name string, offset, length int64, before fs.FileInfo, f interface{ Stat() (fs.FileInfo, error) }, sum []byte) {
	if a := strings.ToLower(algo); (a != "sha256" && a != "sha-256") || offset != 0 || length != before.Size() {
		return
	}
	after, err := f.Stat()
	if err != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return
	}
	s.putSum(context.WithoutCancel(ctx), name, before.Size(), before.ModTime(), sum)
}
