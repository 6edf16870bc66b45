package store_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/store"
)

func TestSumsSQLite(t *testing.T) {
	t.Parallel()
	testSums(t, open(t, filepath.Join(t.TempDir(), "ferry.db")))
}

func TestSumsPostgres(t *testing.T) {
	t.Parallel()
	testSums(t, open(t, pgSchema(t)))
}

func testSums(t *testing.T, s *store.Store) {
	ctx := t.Context()
	mt := time.Unix(1700000000, 123456789).UTC()
	sum := bytes.Repeat([]byte{0xab}, 32)
	put := func(root, name string) {
		t.Helper()
		if err := s.PutSum(ctx, root, name, 7, mt, sum); err != nil {
			t.Fatal(err)
		}
	}
	has := func(root, name string, want bool) {
		t.Helper()
		size, m, got, err := s.GetSum(ctx, root, name)
		if err != nil {
			t.Fatal(err)
		}
		if want && (size != 7 || !m.Equal(mt) || !bytes.Equal(got, sum)) {
			t.Errorf("GetSum(%q, %q) = %d, %v, %x; want 7, %v, %x", root, name, size, m, got, mt, sum)
		}
		if !want && got != nil {
			t.Errorf("GetSum(%q, %q) = %x; want none", root, name, got)
		}
	}
	put("/h/a", "d/x.txt")
	put("/h/a", "d/sub/y.txt")
	put("/h/a", "d2/z.txt") // shares the prefix "d" but is not below d
	put("/h/b", "d/x.txt")
	put("/h/a", "e/x.txt") // replaced when d moves over e
	has("/h/a", "d/x.txt", true)

	// Rename a directory: everything below follows, a sibling with the
	// same prefix and another root stay.
	if err := s.MoveSums(ctx, "/h/a", "d", "e"); err != nil {
		t.Fatal(err)
	}
	has("/h/a", "d/x.txt", false)
	has("/h/a", "e/x.txt", true)
	has("/h/a", "e/sub/y.txt", true)
	has("/h/a", "d2/z.txt", true)
	has("/h/b", "d/x.txt", true)

	// Rename a file over another: the target's digest is replaced.
	if err := s.PutSum(ctx, "/h/a", "other.txt", 9, mt, sum); err != nil {
		t.Fatal(err)
	}
	if err := s.MoveSums(ctx, "/h/a", "e/x.txt", "other.txt"); err != nil {
		t.Fatal(err)
	}
	has("/h/a", "other.txt", true) // size 7: moved, not the old 9
	has("/h/a", "e/x.txt", false)

	if err := s.DropSums(ctx, "/h/a", "e"); err != nil {
		t.Fatal(err)
	}
	has("/h/a", "e/sub/y.txt", false)
	has("/h/a", "d2/z.txt", true)
	if err := s.DropSums(ctx, "/h/a", "missing"); err != nil {
		t.Fatal(err)
	}
}
