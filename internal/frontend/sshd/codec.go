package sshd

import (
	"encoding/binary"
	"io/fs"
	"math"
	"time"
)

// SFTP v3 packet types.
const (
	fxpInit          = 1
	fxpVersion       = 2
	fxpOpen          = 3
	fxpClose         = 4
	fxpRead          = 5
	fxpWrite         = 6
	fxpLstat         = 7
	fxpFstat         = 8
	fxpSetstat       = 9
	fxpFsetstat      = 10
	fxpOpendir       = 11
	fxpReaddir       = 12
	fxpRemove        = 13
	fxpMkdir         = 14
	fxpRmdir         = 15
	fxpRealpath      = 16
	fxpStat          = 17
	fxpRename        = 18
	fxpReadlink      = 19
	fxpSymlink       = 20
	fxpStatus        = 101
	fxpHandle        = 102
	fxpData          = 103
	fxpName          = 104
	fxpAttrs         = 105
	fxpExtended      = 200
	fxpExtendedReply = 201
)

// Open flags (pflags).
const (
	fxfRead   = 0x01
	fxfWrite  = 0x02
	fxfAppend = 0x04
	fxfCreat  = 0x08
	fxfTrunc  = 0x10
	fxfExcl   = 0x20
)

// Attribute flags.
const (
	attrSize        = 0x00000001
	attrUIDGID      = 0x00000002
	attrPermissions = 0x00000004
	attrACModTime   = 0x00000008
	attrExtended    = 0x80000000
)

// Unix file type bits in the permissions field.
const (
	sIFMT   = 0o170000
	sIFDIR  = 0o040000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	sIFIFO  = 0o010000
	sIFSOCK = 0o140000
	sIFCHR  = 0o020000
	sIFBLK  = 0o060000
)

// decoder reads SFTP fields from a packet. The first failure sticks: check
// err once after reading everything.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) u32() uint32 {
	if len(d.b) < 4 {
		d.bad, d.b = true, nil
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.bad, d.b = true, nil
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.u32()
	if uint64(n) > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) err() error {
	if d.bad {
		return errBadMessage
	}
	return nil
}

// attrs is a decoded ATTRS structure.
type attrs struct {
	flags        uint32
	size         uint64
	uid, gid     uint32
	perm         uint32
	atime, mtime uint32
}

func (d *decoder) attrs() attrs {
	var a attrs
	a.flags = d.u32()
	if a.flags&attrSize != 0 {
		a.size = d.u64()
	}
	if a.flags&attrUIDGID != 0 {
		a.uid, a.gid = d.u32(), d.u32()
	}
	if a.flags&attrPermissions != 0 {
		a.perm = d.u32()
	}
	if a.flags&attrACModTime != 0 {
		a.atime, a.mtime = d.u32(), d.u32()
	}
	if a.flags&attrExtended != 0 {
		n := d.u32()
		for i := uint32(0); i < n && !d.bad; i++ {
			d.bytes()
			d.bytes()
		}
	}
	return a
}

func putU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func putU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func putStr(b []byte, s string) []byte { return append(putU32(b, uint32(len(s))), s...) }

// unixMode turns a Go FileMode into the Unix st_mode SFTP carries.
func unixMode(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	switch {
	case m.IsDir():
		v |= sIFDIR
	case m&fs.ModeSymlink != 0:
		v |= sIFLNK
	case m&fs.ModeNamedPipe != 0:
		v |= sIFIFO
	case m&fs.ModeSocket != 0:
		v |= sIFSOCK
	case m&fs.ModeCharDevice != 0:
		v |= sIFCHR
	case m&fs.ModeDevice != 0:
		v |= sIFBLK
	default:
		v |= sIFREG
	}
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

func unixTime(t time.Time) uint32 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	if s > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s)
}

// putAttrs appends the ATTRS of fi (size, permissions, times).
func putAttrs(b []byte, fi fs.FileInfo) []byte {
	b = putU32(b, attrSize|attrUIDGID|attrPermissions|attrACModTime)
	b = putU64(b, uint64(max(fi.Size(), 0)))
	b = putU32(b, sessionUID)
	b = putU32(b, sessionGID)
	b = putU32(b, unixMode(fi.Mode()))
	t := unixTime(fi.ModTime())
	b = putU32(b, t)
	return putU32(b, t)
}

// longname is the `ls -l` line OpenSSH's client prints for `ls -l`.
func longname(b []byte, fi fs.FileInfo, owner string, now time.Time) []byte {
	m := unixMode(fi.Mode())
	var typ byte = '-'
	switch m & sIFMT {
	case sIFDIR:
		typ = 'd'
	case sIFLNK:
		typ = 'l'
	case sIFIFO:
		typ = 'p'
	case sIFSOCK:
		typ = 's'
	case sIFCHR:
		typ = 'c'
	case sIFBLK:
		typ = 'b'
	}
	b = append(b, typ)
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<(8-i)) != 0 {
			b = append(b, rwx[i])
		} else {
			b = append(b, '-')
		}
	}
	b = append(b, "    1 "...)
	b = appendPadded(b, owner, 8)
	b = append(b, ' ')
	b = appendPadded(b, owner, 8)
	b = append(b, ' ')
	size := itoa(fi.Size())
	for i := len(size); i < 8; i++ {
		b = append(b, ' ')
	}
	b = append(b, size...)
	b = append(b, ' ')
	mt := fi.ModTime()
	if mt.After(now.AddDate(0, -6, 0)) && mt.Before(now.Add(24*time.Hour)) {
		b = mt.AppendFormat(b, "Jan _2 15:04")
	} else {
		b = mt.AppendFormat(b, "Jan _2  2006")
	}
	b = append(b, ' ')
	return append(b, fi.Name()...)
}

func appendPadded(b []byte, s string, w int) []byte {
	b = append(b, s...)
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return b
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	neg := v < 0
	if neg {
		v = -v
	}
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// sessionUID and sessionGID are the owner ids every file is reported with:
// accounts are virtual, so the ids only say "the session's user", whose
// name users-groups-by-id@openssh.com returns for them.
const (
	sessionUID = 1000
	sessionGID = 1000
	maxIDs     = 4096 // ids in one users-groups-by-id request
)
