package auth_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/ferry"
)

// Made by ssh-keygen -t ed25519 / -t ecdsa; fingerprints from ssh-keygen -l.
const (
	aliceLine = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICW/Aso1YRhL/cnn4k31XhjUNpoeRGc6DTmsfVBBLsqI alice@example"
	aliceFP   = "SHA256:WdqhogRdkp+yyH6OuiHpFaNZZVk8piv4pRDm8qG5/9E"
	bobLine   = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFc06tghYIdcbXZs86l0Bs/oBJGJd8Nzq1Uth0Kfdo4OB4pigE6RJ/RAcR1sxeOy3lSPBSo+qf0uy4trMJ1Dtp8= bob"
	bobFP     = "SHA256:X2a4dApuPxXWr66ZdNc+1KfaNL1aW/nu63Vev/kov6M"
)

// wireString appends the SSH wire encoding of s: uint32 length, bytes.
func wireString(b []byte, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// newEd25519 returns the wire blob of a fresh ed25519 public key and its
// base64 as an authorized_keys line carries it.
func newEd25519(t *testing.T) ([]byte, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	blob := wireString(wireString(nil, []byte("ssh-ed25519")), pub)
	return blob, base64.StdEncoding.EncodeToString(blob)
}

func TestParseAuthorizedKey(t *testing.T) {
	t.Parallel()
	blob, b64 := newEd25519(t)
	for _, tt := range []struct {
		name, line  string
		wantType    string
		wantComment string
		wantOpts    []string
	}{
		{name: "plain", line: "ssh-ed25519 " + b64, wantType: "ssh-ed25519"},
		{name: "comment", line: "ssh-ed25519 " + b64 + " alice@laptop", wantType: "ssh-ed25519", wantComment: "alice@laptop"},
		{name: "comment with spaces", line: "ssh-ed25519 " + b64 + "  my  laptop key \r\n", wantType: "ssh-ed25519", wantComment: "my  laptop key"},
		{name: "tabs and leading space", line: " \tssh-ed25519\t" + b64 + "\tc", wantType: "ssh-ed25519", wantComment: "c"},
		{
			name:     "options with quoted commas and spaces",
			line:     `from="1.2.3.4",command="echo a b" ssh-ed25519 ` + b64 + " comment",
			wantType: "ssh-ed25519", wantComment: "comment",
			wantOpts: []string{`from="1.2.3.4"`, `command="echo a b"`},
		},
		{
			name:     "escaped quote in option",
			line:     `command="echo \"x, y\" z",no-pty ssh-ed25519 ` + b64,
			wantType: "ssh-ed25519",
			wantOpts: []string{`command="echo \"x, y\" z"`, "no-pty"},
		},
		{name: "single flag option", line: "restrict ssh-ed25519 " + b64 + " r", wantType: "ssh-ed25519", wantComment: "r", wantOpts: []string{"restrict"}},
		{name: "option names any case", line: "No-PTY,RESTRICT ssh-ed25519 " + b64, wantType: "ssh-ed25519", wantOpts: []string{"No-PTY", "RESTRICT"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := auth.ParseAuthorizedKey(tt.line)
			if err != nil {
				t.Fatalf("ParseAuthorizedKey: %v", err)
			}
			if k.Type != tt.wantType || !bytes.Equal(k.Blob, blob) || k.Comment != tt.wantComment || !slices.Equal(k.Options, tt.wantOpts) {
				t.Errorf("ParseAuthorizedKey = %+v; want type %q, comment %q, options %q", k, tt.wantType, tt.wantComment, tt.wantOpts)
			}
		})
	}
}

func TestParseRealKeys(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ line, typ, comment, fp string }{
		{aliceLine, "ssh-ed25519", "alice@example", aliceFP},
		{bobLine, "ecdsa-sha2-nistp256", "bob", bobFP},
	} {
		k, err := auth.ParseAuthorizedKey(tt.line)
		if err != nil {
			t.Fatalf("ParseAuthorizedKey(%.20s…): %v", tt.line, err)
		}
		if k.Type != tt.typ || k.Comment != tt.comment {
			t.Errorf("ParseAuthorizedKey(%.20s…) = %q, %q; want %q, %q", tt.line, k.Type, k.Comment, tt.typ, tt.comment)
		}
		if got := k.Fingerprint(); got != tt.fp {
			t.Errorf("Fingerprint = %q, want %q (ssh-keygen -l)", got, tt.fp)
		}
	}
}

func TestParseAuthorizedKeyErrors(t *testing.T) {
	t.Parallel()
	blob, b64 := newEd25519(t)
	rsaBlob := base64.StdEncoding.EncodeToString(wireString(wireString(nil, []byte("ssh-rsa")), []byte{1, 0, 1}))
	for _, tt := range []struct{ name, line, want string }{
		{"empty", "", "empty line"},
		{"blank", "  \t\r\n", "empty line"},
		{"comment", "# ssh-ed25519 " + b64, "comment line"},
		{"unknown type", "ssh-foo " + b64, `unknown key type "ssh-foo"`},
		{"dsa is not accepted", "ssh-dss " + b64, `unknown key type "ssh-dss"`},
		{"unknown type after options", "restrict ssh-foo " + b64, `unknown key type "ssh-foo"`},
		{"unknown option", `nope="x" ssh-ed25519 ` + b64, `unknown option "nope"`},
		{"option needs value", "from ssh-ed25519 " + b64, `option "from" needs a quoted value`},
		{"option value unquoted", "from=1.2.3.4 ssh-ed25519 " + b64, `option "from" needs a quoted value`},
		{"flag with value", `no-pty="x" ssh-ed25519 ` + b64, `option "no-pty" takes no value`},
		{"unterminated quote", `command="echo a b ssh-ed25519 ` + b64, "unterminated quoted string"},
		{"empty option", "no-pty,,restrict ssh-ed25519 " + b64, "empty option"},
		{"options only", `command="x"`, "missing key type after options"},
		{"no key data", "ssh-ed25519", `missing key data after "ssh-ed25519"`},
		{"bad base64", "ssh-ed25519 AAAA!!!! c", "bad base64"},
		{"too short for a string", "ssh-ed25519 AAA=", "not an SSH wire-format key"},
		{"string overruns", "ssh-ed25519 " + base64.StdEncoding.EncodeToString([]byte{0, 0, 1, 0, 'a'}), "not an SSH wire-format key"},
		{"type mismatch", "ssh-ed25519 " + rsaBlob, `key data is a "ssh-rsa" key, the line says "ssh-ed25519"`},
		{"type only", "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob[:15]), "holds no key after the type"},
		{"embedded newline", "ssh-ed25519 " + b64 + " a\nssh-ed25519 " + b64, "line break"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := auth.ParseAuthorizedKey(tt.line)
			if !errors.Is(err, ferry.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseAuthorizedKey = %+v, %v; want an error wrapping ferry.ErrInvalid containing %q", k, err, tt.want)
			}
		})
	}
}

func TestParseAuthorizedKeys(t *testing.T) {
	t.Parallel()
	keys, err := auth.ParseAuthorizedKeys([]string{"# keys", aliceLine, "", "restrict " + bobLine})
	if err != nil || len(keys) != 2 || keys[0].Comment != "alice@example" || keys[1].Options[0] != "restrict" {
		t.Fatalf("ParseAuthorizedKeys = %+v, %v", keys, err)
	}
	_, err = auth.ParseAuthorizedKeys([]string{aliceLine, "", "ssh-foo AAAA"})
	if !errors.Is(err, ferry.ErrInvalid) || !strings.Contains(err.Error(), `line 3: unknown key type "ssh-foo"`) {
		t.Errorf("ParseAuthorizedKeys(bad line 3) error = %v", err)
	}
	if keys, err := auth.ParseAuthorizedKeys(nil); keys != nil || err != nil {
		t.Errorf("ParseAuthorizedKeys(nil) = %v, %v", keys, err)
	}
}

func TestMatchKey(t *testing.T) {
	t.Parallel()
	blob, b64 := newEd25519(t)
	other, otherB64 := newEd25519(t)
	line := "ssh-ed25519 " + b64 + " me"
	for _, tt := range []struct {
		name  string
		lines []string
		want  bool
	}{
		{name: "no lines", want: false},
		{name: "plain line", lines: []string{line}, want: true},
		{name: "among others, bad lines skipped", lines: []string{"# c", "garbage", "ssh-ed25519 " + otherB64, line}, want: true},
		{name: "only other keys", lines: []string{"ssh-ed25519 " + otherB64, aliceLine}, want: false},
		{name: "session options ignored", lines: []string{`restrict,command="echo a b",no-pty ` + line}, want: true},
		{name: "from= cannot be honoured: no match", lines: []string{`from="1.2.3.4",command="echo a b" ` + line}, want: false},
		{name: "expiry-time= cannot be honoured: no match", lines: []string{`expiry-time="20300101" ` + line}, want: false},
		{name: "cert-authority key is not a user key", lines: []string{"cert-authority " + line}, want: false},
		{name: "verify-required cannot be honoured: no match", lines: []string{"Verify-Required " + line}, want: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.MatchKey(tt.lines, blob); got != tt.want {
				t.Errorf("MatchKey = %v, want %v", got, tt.want)
			}
		})
	}
	if auth.MatchKey([]string{line}, other) {
		t.Error("MatchKey matched a different key")
	}
	if auth.MatchKey([]string{line}, blob[:len(blob)-1]) || auth.MatchKey([]string{line}, nil) {
		t.Error("MatchKey matched a truncated or empty blob")
	}
}

func FuzzParseAuthorizedKey(f *testing.F) {
	for _, s := range []string{
		aliceLine, bobLine, "restrict " + aliceLine, `from="1.2.3.4",command="echo \"a, b\"" ` + bobLine,
		`command="`, "ssh-ed25519 AAAA", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "#", ",", `"`, "a=b c d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		k, err := auth.ParseAuthorizedKey(line)
		if err != nil {
			if !errors.Is(err, ferry.ErrInvalid) {
				t.Fatalf("ParseAuthorizedKey(%q) error %v does not wrap ferry.ErrInvalid", line, err)
			}
			if auth.MatchKey([]string{line}, nil) {
				t.Fatalf("MatchKey matched a line ParseAuthorizedKey rejects: %q", line)
			}
			return
		}
		if len(k.Blob) < 4+len(k.Type) || binary.BigEndian.Uint32(k.Blob) != uint32(len(k.Type)) || string(k.Blob[4:4+len(k.Type)]) != k.Type {
			t.Fatalf("ParseAuthorizedKey(%q) = %+v: blob does not start with the type", line, k)
		}
		if !strings.HasPrefix(auth.Fingerprint(k.Blob), "SHA256:") {
			t.Fatal("bad fingerprint")
		}
		for _, o := range k.Options {
			if o == "" {
				t.Fatalf("ParseAuthorizedKey(%q) gave an empty option", line)
			}
		}
		// Re-serialising the parsed key must parse to the same key.
		again := k.Type + " " + base64.StdEncoding.EncodeToString(k.Blob)
		if len(k.Options) > 0 {
			again = strings.Join(k.Options, ",") + " " + again
		}
		k2, err := auth.ParseAuthorizedKey(again)
		if err != nil || !bytes.Equal(k2.Blob, k.Blob) || !slices.Equal(k2.Options, k.Options) {
			t.Fatalf("reparse of %q as %q = %+v, %v", line, again, k2, err)
		}
	})
}
