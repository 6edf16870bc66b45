package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// AuthorizedKey is one parsed OpenSSH authorized_keys line.
type AuthorizedKey struct {
	// Type is the key type named on the line, e.g. "ssh-ed25519".
	Type string
	// Blob is the decoded key in SSH wire format, as ssh.PublicKey.Marshal
	// returns it; it starts with the SSH string Type.
	Blob []byte
	// Comment is the rest of the line after the key data, trimmed.
	Comment string
	// Options are the leading options as written, quotes kept, e.g.
	// `from="10.0.0.0/8"` and `restrict`.
	Options []string
}

// Fingerprint returns the key's OpenSSH SHA256 fingerprint.
func (k AuthorizedKey) Fingerprint() string { return Fingerprint(k.Blob) }

// keyTypes are the public key types accepted on an authorized_keys line.
var keyTypes = map[string]bool{
	"ssh-ed25519":                        true,
	"ecdsa-sha2-nistp256":                true,
	"ecdsa-sha2-nistp384":                true,
	"ecdsa-sha2-nistp521":                true,
	"ssh-rsa":                            true,
	"sk-ssh-ed25519@openssh.com":         true,
	"sk-ecdsa-sha2-nistp256@openssh.com": true,

	"ssh-ed25519-cert-v01@openssh.com":            true,
	"ecdsa-sha2-nistp256-cert-v01@openssh.com":    true,
	"ecdsa-sha2-nistp384-cert-v01@openssh.com":    true,
	"ecdsa-sha2-nistp521-cert-v01@openssh.com":    true,
	"ssh-rsa-cert-v01@openssh.com":                true,
	"sk-ssh-ed25519-cert-v01@openssh.com":         true,
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": true,
}

// keyOptions are the authorized_keys options OpenSSH knows (names compared
// case-insensitively, as sshd does); true when the option takes a value.
var keyOptions = map[string]bool{
	"agent-forwarding": false, "cert-authority": false, "no-agent-forwarding": false,
	"no-port-forwarding": false, "no-pty": false, "no-user-rc": false, "no-x11-forwarding": false,
	"port-forwarding": false, "pty": false, "no-touch-required": false, "verify-required": false,
	"restrict": false, "user-rc": false, "x11-forwarding": false,
	"command": true, "environment": true, "expiry-time": true, "from": true,
	"permitopen": true, "permitlisten": true, "principals": true, "tunnel": true,
}

// unenforced are the options that limit who may use a key or how it must be
// used (source address, expiry, CA-only, PIN verification). Ferry cannot
// honour them, and ignoring them would grant more than the line says, so a
// line carrying one never matches.
var unenforced = map[string]bool{
	"from": true, "expiry-time": true, "cert-authority": true, "principals": true, "verify-required": true,
}

// ParseAuthorizedKey parses one line in OpenSSH's authorized_keys format:
// optional comma-separated options (quoted values may hold spaces and commas),
// the key type, the base64 key data and an optional comment. The key data
// must decode to a wire-format key of the named type. Errors wrap
// ferry.ErrInvalid and say what was wrong; blank and '#' lines are errors
// here (ParseAuthorizedKeys skips them).
func ParseAuthorizedKey(line string) (AuthorizedKey, error) {
	k, reason := parseKeyLine(line)
	if reason != "" {
		return AuthorizedKey{}, fmt.Errorf("%w: authorized key: %s", ferry.ErrInvalid, reason)
	}
	return k, nil
}

// ParseAuthorizedKeys parses the lines of an authorized_keys file, skipping
// blank lines and '#' comments. The first bad line gives an error wrapping
// ferry.ErrInvalid that names it, e.g. `line 2: unknown key type "ssh-dss"`.
func ParseAuthorizedKeys(lines []string) ([]AuthorizedKey, error) {
	var keys []AuthorizedKey
	for i, line := range lines {
		if skipLine(line) {
			continue
		}
		k, reason := parseKeyLine(line)
		if reason != "" {
			return nil, fmt.Errorf("%w: authorized keys: line %d: %s", ferry.ErrInvalid, i+1, reason)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// MatchKey reports whether the presented key, in SSH wire format (as
// ssh.PublicKey.Marshal returns it), equals the key of one of the
// authorized_keys lines. Unparsable lines are skipped.
//
// Options are not honoured. Those that restrict what a session may do
// (command=, restrict, no-pty, no-port-forwarding, …) change nothing, since
// a key only ever grants file access in Ferry. Those that restrict who may
// use the key — from=, expiry-time=, cert-authority, principals= and
// verify-required — cannot be ignored without granting more than the line
// says, so a line carrying one of them never matches.
func MatchKey(lines []string, wireBlob []byte) bool {
	match := 0
	for _, line := range lines {
		if skipLine(line) {
			continue
		}
		k, reason := parseKeyLine(line)
		if reason != "" || !enforceable(k.Options) {
			continue
		}
		match |= subtle.ConstantTimeCompare(k.Blob, wireBlob)
	}
	return match == 1
}

// Fingerprint returns the OpenSSH SHA256 fingerprint of a wire-format key,
// "SHA256:" and the unpadded base64 of its SHA-256, as ssh-keygen -l shows.
func Fingerprint(blob []byte) string {
	sum := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

func skipLine(line string) bool {
	line = strings.TrimLeft(line, " \t")
	return strings.TrimRight(line, "\r\n") == "" || line[0] == '#'
}

func enforceable(opts []string) bool {
	for _, o := range opts {
		name, _, _ := strings.Cut(o, "=")
		if unenforced[strings.ToLower(name)] {
			return false
		}
	}
	return true
}

// parseKeyLine parses line, returning a reason instead of an error so that
// callers can add the line number.
func parseKeyLine(line string) (AuthorizedKey, string) {
	line = strings.TrimLeft(strings.TrimRight(line, "\r\n"), " \t")
	switch {
	case line == "":
		return AuthorizedKey{}, "empty line"
	case line[0] == '#':
		return AuthorizedKey{}, "comment line"
	case strings.ContainsAny(line, "\r\n\x00"):
		return AuthorizedKey{}, "line holds a line break or NUL"
	}
	first, _ := nextField(line)
	if keyTypes[first] {
		return parseKey(line, nil)
	}
	opts, rest, reason := splitOptions(line)
	if reason != "" {
		return AuthorizedKey{}, reason
	}
	for _, o := range opts {
		name, value, hasValue := strings.Cut(o, "=")
		takesValue, known := keyOptions[strings.ToLower(name)]
		switch {
		case !known && !strings.ContainsAny(first, `=",`):
			// A lone word that is no option: most likely a key type we
			// do not know, such as ssh-dss.
			return AuthorizedKey{}, fmt.Sprintf("unknown key type %q", first)
		case !known:
			return AuthorizedKey{}, fmt.Sprintf("unknown option %q", name)
		case takesValue && (!hasValue || len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"'):
			return AuthorizedKey{}, fmt.Sprintf("option %q needs a quoted value", name)
		case !takesValue && hasValue:
			return AuthorizedKey{}, fmt.Sprintf("option %q takes no value", name)
		}
	}
	if rest == "" {
		return AuthorizedKey{}, "missing key type after options"
	}
	return parseKey(rest, opts)
}

// parseKey parses "type base64 [comment]".
func parseKey(s string, opts []string) (AuthorizedKey, string) {
	typ, rest := nextField(s)
	if !keyTypes[typ] {
		return AuthorizedKey{}, fmt.Sprintf("unknown key type %q", typ)
	}
	data, comment := nextField(rest)
	if data == "" {
		return AuthorizedKey{}, fmt.Sprintf("missing key data after %q", typ)
	}
	blob, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		if blob, err = base64.RawStdEncoding.DecodeString(data); err != nil {
			return AuthorizedKey{}, "bad base64 in key data"
		}
	}
	inner, ok := wireString(blob)
	switch {
	case !ok:
		return AuthorizedKey{}, "key data is not an SSH wire-format key"
	case string(inner) != typ:
		return AuthorizedKey{}, fmt.Sprintf("key data is a %q key, the line says %q", safeName(inner), typ)
	case len(blob) == 4+len(inner):
		return AuthorizedKey{}, "key data holds no key after the type"
	}
	return AuthorizedKey{Type: typ, Blob: blob, Comment: strings.Trim(comment, " \t"), Options: opts}, ""
}

// wireString reads the SSH string (uint32 length, bytes) at the start of b.
func wireString(b []byte) ([]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, false
	}
	return b[4 : 4+n], true
}

// safeName shortens and sanitises a type name taken from key data for an
// error message.
func safeName(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// nextField splits s at its first run of spaces or tabs.
func nextField(s string) (field, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

// splitOptions splits the leading options of an authorized_keys line at
// unquoted commas, up to the first unquoted space or tab. Inside quotes a
// backslash escapes a quote, as sshd reads it.
func splitOptions(s string) (opts []string, rest, reason string) {
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\' && i+1 < len(s) && s[i+1] == '"':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ',':
			if i == start {
				return nil, "", "empty option"
			}
			opts = append(opts, s[start:i])
			start = i + 1
		case c == ' ' || c == '\t':
			if i == start {
				return nil, "", "empty option"
			}
			return append(opts, s[start:i]), strings.TrimLeft(s[i:], " \t"), ""
		}
	}
	if quoted {
		return nil, "", "unterminated quoted string in options"
	}
	if start == len(s) {
		return nil, "", "empty option"
	}
	return append(opts, s[start:]), "", ""
}
