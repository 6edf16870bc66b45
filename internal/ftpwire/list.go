package ftpwire

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// ListOptions are what an ls -l line shows besides the file's own info.
type ListOptions struct {
	Owner, Group string    // default "ftp"
	Now          time.Time // entries older than six months (or in the future) show the year
	LinkTarget   string    // for a symlink: shown as "name -> target"
}

// AppendList appends one LIST line in the ls -l form nearly every client
// parses: "-rw-r--r-- 1 ftp ftp 1234 Jan 02 15:04 name\r\n".
func AppendList(b []byte, fi fs.FileInfo, o ListOptions) []byte {
	owner, group := o.Owner, o.Group
	if owner == "" {
		owner = "ftp"
	}
	if group == "" {
		group = "ftp"
	}
	b = append(b, ModeString(fi.Mode())...)
	b = append(b, " 1 "...)
	b = appendPadRight(b, owner, 8)
	b = append(b, ' ')
	b = appendPadRight(b, group, 8)
	b = append(b, ' ')
	b = appendPadLeft(b, strconv.FormatInt(fi.Size(), 10), 12)
	b = append(b, ' ')
	mt := fi.ModTime()
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if mt.After(now.Add(time.Hour)) || now.Sub(mt) > 182*24*time.Hour {
		b = mt.AppendFormat(b, "Jan _2  2006")
	} else {
		b = mt.AppendFormat(b, "Jan _2 15:04")
	}
	b = append(b, ' ')
	b = append(b, sanitize(fi.Name())...)
	if o.LinkTarget != "" && fi.Mode()&fs.ModeSymlink != 0 {
		b = append(b, " -> "...)
		b = append(b, sanitize(o.LinkTarget)...)
	}
	return append(b, '\r', '\n')
}

func appendPadRight(b []byte, s string, n int) []byte {
	b = append(b, s...)
	for i := len(s); i < n; i++ {
		b = append(b, ' ')
	}
	return b
}

func appendPadLeft(b []byte, s string, n int) []byte {
	for i := len(s); i < n; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

// ModeString is the ten-character ls mode: type then rwx for user, group
// and other, with s/t for setuid, setgid and sticky.
func ModeString(m fs.FileMode) string {
	var b [10]byte
	switch {
	case m&fs.ModeDir != 0:
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		} else {
			b[i+1] = '-'
		}
	}
	special := func(i int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if b[i] == 'x' {
			b[i] = lower
		} else {
			b[i] = upper
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b[:])
}

// Facts is a set of MLST facts (RFC 3659 section 7).
type Facts uint8

// The facts Ferry can give.
const (
	FactType Facts = 1 << iota
	FactSize
	FactModify
	FactPerm
	FactUnixMode
	FactUnique
)

// AllFacts is every fact; DefaultFacts what is on until OPTS MLST.
const (
	AllFacts     = FactType | FactSize | FactModify | FactPerm | FactUnixMode | FactUnique
	DefaultFacts = FactType | FactSize | FactModify | FactPerm | FactUnixMode
)

var factNames = []struct {
	f    Facts
	name string
}{
	{FactType, "type"}, {FactSize, "size"}, {FactModify, "modify"}, {FactPerm, "perm"},
	{FactUnixMode, "UNIX.mode"}, {FactUnique, "unique"},
}

// FeatMLST is the FEAT line for MLST: every supported fact, those enabled
// marked with '*' ("MLST type*;size*;…").
func FeatMLST(enabled Facts) string {
	var b strings.Builder
	b.WriteString("MLST ")
	for _, fn := range factNames {
		b.WriteString(fn.name)
		if enabled&fn.f != 0 {
			b.WriteByte('*')
		}
		b.WriteByte(';')
	}
	return b.String()
}

// ParseOptsMLST parses "OPTS MLST type;size;" facts; unknown facts are
// ignored, as RFC 3659 asks. It returns the enabled set and its reply
// text "MLST OPTS type;size;".
func ParseOptsMLST(arg string) (Facts, string) {
	var f Facts
	var b strings.Builder
	b.WriteString("MLST OPTS ")
	for _, name := range strings.Split(arg, ";") {
		for _, fn := range factNames {
			if strings.EqualFold(strings.TrimSpace(name), fn.name) && f&fn.f == 0 {
				f |= fn.f
				b.WriteString(fn.name)
				b.WriteByte(';')
			}
		}
	}
	return f, b.String()
}

// MLSxEntry is what one MLST/MLSD line says about a file.
type MLSxEntry struct {
	Name   string
	Info   fs.FileInfo
	Type   string // "file", "dir", "cdir", "pdir", or "OS.unix=symlink"; "" derives it from Info
	Perm   string // RFC 3659 perm fact letters (the caller's policy decides them)
	Unique string // the unique fact when known
}

// AppendMLSx appends "fact=value;…; name\r\n" with the facts in f. MLST's
// reply puts a space before it; MLSD lines have none: pass lead.
func AppendMLSx(b []byte, e MLSxEntry, f Facts, lead bool) []byte {
	if lead {
		b = append(b, ' ')
	}
	typ := e.Type
	if typ == "" {
		switch {
		case e.Info.IsDir():
			typ = "dir"
		case e.Info.Mode()&fs.ModeSymlink != 0:
			typ = "OS.unix=symlink"
		default:
			typ = "file"
		}
	}
	if f&FactType != 0 {
		b = append(b, "type="...)
		b = append(b, typ...)
		b = append(b, ';')
	}
	if f&FactSize != 0 && e.Info.Mode().IsRegular() {
		b = append(b, "size="...)
		b = strconv.AppendInt(b, e.Info.Size(), 10)
		b = append(b, ';')
	}
	if f&FactModify != 0 {
		b = append(b, "modify="...)
		b = e.Info.ModTime().UTC().AppendFormat(b, TimeLayout)
		b = append(b, ';')
	}
	if f&FactPerm != 0 && e.Perm != "" {
		b = append(b, "perm="...)
		b = append(b, e.Perm...)
		b = append(b, ';')
	}
	if f&FactUnixMode != 0 {
		b = append(b, "UNIX.mode="...)
		b = fmt.Appendf(b, "%04o", e.Info.Mode().Perm()|unixSpecial(e.Info.Mode()))
		b = append(b, ';')
	}
	if f&FactUnique != 0 && e.Unique != "" {
		b = append(b, "unique="...)
		b = append(b, e.Unique...)
		b = append(b, ';')
	}
	b = append(b, ' ')
	b = append(b, sanitize(e.Name)...)
	return append(b, '\r', '\n')
}

func unixSpecial(m fs.FileMode) fs.FileMode {
	var s fs.FileMode
	if m&fs.ModeSetuid != 0 {
		s |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		s |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		s |= 0o1000
	}
	return s
}

// ErrBadFacts is returned by ParseMLSx for a line that is not facts.
var ErrBadFacts = errors.New("ftpwire: malformed MLSx line")

// ParseMLSx parses one MLSD line or MLST reply line (leading space allowed)
// into its facts, with lower-case names, and the file name.
func ParseMLSx(line string) (facts map[string]string, name string, err error) {
	line = strings.TrimRight(strings.TrimPrefix(line, " "), "\r\n")
	factStr, name, ok := strings.Cut(line, " ")
	if !ok || name == "" {
		return nil, "", fmt.Errorf("%w: %q", ErrBadFacts, truncate(line, 60))
	}
	facts = map[string]string{}
	for _, kv := range strings.Split(factStr, ";") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, "", fmt.Errorf("%w: fact %q", ErrBadFacts, truncate(kv, 40))
		}
		facts[strings.ToLower(k)] = v
	}
	return facts, name, nil
}
