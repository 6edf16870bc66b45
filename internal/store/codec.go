package store

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Columns hold times as unix nanoseconds in UTC, NULL for the zero time;
// lists and maps as JSON text. These helpers are the only code that knows.

// now is the current time as it reads back from the database: whole
// nanoseconds, UTC, no monotonic clock reading.
func now() time.Time { return time.Unix(0, time.Now().UnixNano()).UTC() }

// timeArg encodes t for a nullable BIGINT column.
func timeArg(field string, t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return nil, fmt.Errorf("%s %s is outside the storable range (years 1678 to 2262): %w",
			field, t.UTC().Format(time.RFC3339), ferry.ErrInvalid)
	}
	return t.UnixNano(), nil
}

// timeCol scans a nullable BIGINT column into a UTC time (zero for NULL).
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.Unix(0, v).UTC()
	default:
		return fmt.Errorf("time column holds %T, want an integer", src)
	}
	return nil
}

// jsonArg encodes v for a JSON text column. A nil slice or map is stored as
// null and an empty one as [] or {}, so each reads back as it was.
func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// jsonCol scans a JSON text column into v, a pointer.
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	switch s := src.(type) {
	case string:
		return json.Unmarshal([]byte(s), c.v)
	case []byte:
		return json.Unmarshal(s, c.v)
	}
	return fmt.Errorf("JSON column holds %T, want text", src)
}

// checkText refuses strings that PostgreSQL cannot keep in a TEXT column
// (NUL bytes) or that JSON would alter (invalid UTF-8), so both engines
// accept exactly the same values and return them byte for byte.
func checkText(field string, vals ...string) error {
	for _, v := range vals {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			// The value is not quoted: it may be a password hash.
			return fmt.Errorf("%s must be valid UTF-8 without NUL bytes: %w", field, ferry.ErrInvalid)
		}
	}
	return nil
}

// checkPerms checks the paths' text and that no unknown right is set (it
// would not survive the JSON form, which lists rights by name).
func checkPerms(perms []ferry.PathPerm) error {
	for _, p := range perms {
		if err := checkText("permission path", p.Path); err != nil {
			return err
		}
		if p.Perms&^(ferry.PermAll|ferry.PermSymlink) != 0 {
			return fmt.Errorf("permission on %q has unknown bits %#x: %w", p.Path, uint16(p.Perms), ferry.ErrInvalid)
		}
	}
	return nil
}
