package ftpd

import (
	"testing"
	"time"
)

// TestNextChunk: download chunks grow for fast clients up to the cap,
// shrink for slow ones down to the floor, and stay put in between.
func TestNextChunk(t *testing.T) {
	const T = time.Minute
	for _, tc := range []struct {
		size int64
		el   time.Duration
		want int64
	}{
		{dataChunk, time.Millisecond, 2 * dataChunk},
		{maxDataChunk, time.Millisecond, maxDataChunk},
		{4 * dataChunk, 5 * time.Second, 4 * dataChunk},
		{4 * dataChunk, 10 * time.Second, 2 * dataChunk},
		{dataChunk, 50 * time.Second, dataChunk},
	} {
		if got := nextChunk(tc.size, tc.el, T); got != tc.want {
			t.Errorf("nextChunk(%d, %v) = %d, want %d", tc.size, tc.el, got, tc.want)
		}
	}
}
