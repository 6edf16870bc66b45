package ftpwire

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrBadList is returned by ParseList for a line in no known LIST format.
var ErrBadList = errors.New("ftpwire: unrecognised LIST line")

// ListEntry is what a client learns from one LIST line.
type ListEntry struct {
	Name    string
	Size    int64
	ModTime time.Time // minute precision at best; the year is guessed for recent files
	Dir     bool
	Link    bool
	Target  string // a symlink's target when the line shows it
}

var months = map[string]time.Month{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
	"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}

// ParseList parses one LIST line in the Unix "ls -l" form (with or without
// a group column) or the DOS/IIS form ("01-02-24  03:04PM  <DIR>  name").
// now resolves ls's year-less recent dates. "total N" lines and blank lines
// give ErrBadList; callers skip them.
func ParseList(line string, now time.Time) (ListEntry, error) {
	line = strings.TrimRight(line, "\r\n")
	if e, ok := parseDOS(line); ok {
		return e, nil
	}
	return parseUnix(line, now)
}

// fieldSpans returns the fields of s with their start offsets.
func fieldSpans(s string) (fields []string, starts []int) {
	i := 0
	for i < len(s) {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		j := i
		for j < len(s) && s[j] != ' ' {
			j++
		}
		fields, starts = append(fields, s[i:j]), append(starts, i)
		i = j
	}
	return fields, starts
}

func parseUnix(line string, now time.Time) (ListEntry, error) {
	f, at := fieldSpans(line)
	if len(f) < 6 || len(f[0]) < 10 || !strings.ContainsRune("-dlcbps", rune(f[0][0])) {
		return ListEntry{}, ErrBadList
	}
	// Find "size month day time-or-year" from the left after the mode.
	for i := 2; i+3 < len(f); i++ {
		mon, ok := months[strings.ToLower(f[i])]
		if !ok {
			continue
		}
		size, err := strconv.ParseInt(f[i-1], 10, 64)
		day, err2 := strconv.Atoi(f[i+1])
		if err != nil || err2 != nil || day < 1 || day > 31 {
			continue
		}
		t, ok := unixTime(mon, day, f[i+2], now)
		if !ok {
			continue
		}
		name := line[at[i+2]+len(f[i+2]):]
		name = strings.TrimPrefix(name, " ")
		e := ListEntry{Size: size, ModTime: t, Dir: f[0][0] == 'd', Link: f[0][0] == 'l'}
		if e.Link {
			if n, target, ok := strings.Cut(name, " -> "); ok {
				name, e.Target = n, target
			}
		}
		if name == "" {
			return ListEntry{}, ErrBadList
		}
		e.Name = name
		return e, nil
	}
	return ListEntry{}, ErrBadList
}

func unixTime(mon time.Month, day int, s string, now time.Time) (time.Time, bool) {
	if h, m, ok := strings.Cut(s, ":"); ok {
		hh, err := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if err != nil || err2 != nil {
			return time.Time{}, false
		}
		t := time.Date(now.Year(), mon, day, hh, mm, 0, 0, time.UTC)
		if t.After(now.Add(24 * time.Hour)) { // ls shows the time only within six months
			t = t.AddDate(-1, 0, 0)
		}
		return t, true
	}
	y, err := strconv.Atoi(s)
	if err != nil || y < 1900 {
		return time.Time{}, false
	}
	return time.Date(y, mon, day, 0, 0, 0, 0, time.UTC), true
}

func parseDOS(line string) (ListEntry, bool) {
	f, at := fieldSpans(line)
	if len(f) < 4 || len(f[0]) < 8 || f[0][2] != '-' && f[0][2] != '/' {
		return ListEntry{}, false
	}
	t, err := time.Parse("01-02-06 03:04PM", strings.ReplaceAll(f[0], "/", "-")+" "+strings.ToUpper(f[1]))
	if err != nil {
		if t, err = time.Parse("01-02-2006 15:04", strings.ReplaceAll(f[0], "/", "-")+" "+f[1]); err != nil {
			return ListEntry{}, false
		}
	}
	e := ListEntry{ModTime: t, Name: line[at[3]:]}
	if f[2] == "<DIR>" {
		e.Dir = true
	} else if e.Size, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return ListEntry{}, false
	}
	return e, true
}
