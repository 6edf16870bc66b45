package ftpwire

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// TimeLayout is RFC 3659's time-val without fraction, always UTC.
const TimeLayout = "20060102150405"

// ErrBadTime is returned for a malformed time-val.
var ErrBadTime = errors.New("ftpwire: malformed time")

// FormatTime returns t as an RFC 3659 time-val in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime parses an RFC 3659 time-val "YYYYMMDDHHMMSS[.sss]" in UTC.
func ParseTime(s string) (time.Time, error) {
	if len(s) < 14 {
		return time.Time{}, fmt.Errorf("%w: %q: want YYYYMMDDHHMMSS", ErrBadTime, truncate(s, 30))
	}
	for i := 0; i < 14; i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, fmt.Errorf("%w: %q: want YYYYMMDDHHMMSS", ErrBadTime, truncate(s, 30))
		}
	}
	t, err := time.ParseInLocation(TimeLayout, s[:14], time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q: %v", ErrBadTime, truncate(s, 30), err)
	}
	if rest := s[14:]; rest != "" {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, fmt.Errorf("%w: %q: bad fraction", ErrBadTime, truncate(s, 30))
		}
		frac := rest[1:]
		n, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %q: bad fraction", ErrBadTime, truncate(s, 30))
		}
		for i := len(frac); i < 9; i++ {
			n *= 10
		}
		t = t.Add(time.Duration(n))
	}
	return t, nil
}
