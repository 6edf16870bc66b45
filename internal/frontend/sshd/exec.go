package sshd

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/core"
)

// execRefusal is written for any command other than scp and the checksum
// and free-space commands.
const execRefusal = "This service offers SFTP and SCP only; %q is not available.\n"

// runExec answers an exec request without running anything: scp, the
// checksum commands and df are served from core. It returns the exit
// status.
func runExec(sess *core.Session, ch ssh.Channel, cmd string) uint32 {
	cmd = strings.TrimSpace(cmd)
	name, rest, _ := strings.Cut(cmd, " ")
	switch name {
	case "scp":
		return runSCP(sess, ch, strings.TrimSpace(rest))
	case "md5sum", "sha1sum", "sha256sum", "sha512sum":
		return checksum(sess, ch, strings.TrimSuffix(name, "sum"), rest)
	case "df":
		return df(sess, ch, rest)
	}
	sess.Logger().Info("exec refused", "command", cmd)
	fmt.Fprintf(ch.Stderr(), execRefusal, name)
	return 1
}

// checksum prints "<hex>  <path>" lines like coreutils' md5sum.
func checksum(sess *core.Session, ch ssh.Channel, algo, args string) uint32 {
	words, err := shellWords(args)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "%ssum: %v\n", algo, err)
		return 1
	}
	var paths []string
	opts := true
	for _, w := range words {
		if opts && w == "--" {
			opts = false
			continue
		}
		if opts && strings.HasPrefix(w, "-") && w != "-" {
			continue // -b, -t and the like change nothing for us
		}
		paths = append(paths, w)
	}
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	var code uint32
	for _, p := range paths {
		if p == "-" {
			// Standard input, like coreutils: rclone detects the command by
			// hashing empty input. Nothing is stored.
			h := stdinHash(algo)
			if _, err := io.Copy(h, ch); err != nil {
				fmt.Fprintf(ch.Stderr(), "%ssum: -: %v\n", algo, err)
				code = 1
				continue
			}
			fmt.Fprintf(ch, "%s  -\n", hex.EncodeToString(h.Sum(nil)))
			continue
		}
		sum, err := sess.Hash(sess.Context(), p, algo, 0, -1)
		if err != nil {
			_, msg := status(err)
			fmt.Fprintf(ch.Stderr(), "%ssum: %s: %s\n", algo, p, msg)
			code = 1
			continue
		}
		fmt.Fprintf(ch, "%s  %s\n", hex.EncodeToString(sum), p)
	}
	return code
}

// df prints the free space of a path in 1K blocks, as `df -k` does.
func df(sess *core.Session, ch ssh.Channel, args string) uint32 {
	words, err := shellWords(args)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "df: %v\n", err)
		return 1
	}
	p := "/"
	for _, w := range words {
		if !strings.HasPrefix(w, "-") {
			p = w
		}
	}
	u, err := sess.StatFS(sess.Context(), p)
	if err != nil {
		_, msg := status(err)
		fmt.Fprintf(ch.Stderr(), "df: %s: %s\n", p, msg)
		return 1
	}
	total, avail := u.Total/1024, u.Avail/1024
	used := (u.Total - u.Free) / 1024
	pct := uint64(0)
	if used+avail > 0 {
		pct = (used*100 + used + avail - 1) / (used + avail)
	}
	fmt.Fprintf(ch, "Filesystem     1K-blocks       Used  Available Use%% Mounted on\n")
	fmt.Fprintf(ch, "ferry      %13d %10d %10d %3d%% /\n", total, used, avail, pct)
	return 0
}

// shellWords splits s into words the way a POSIX shell quotes them ('...',
// "...", backslash) — and does nothing else: no expansion, no operators.
// A ';' or '|' is just a character of a word.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\\':
			in = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		case c == '\'':
			in = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			in = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

func stdinHash(algo string) hash.Hash {
	switch algo {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	}
	return sha512.New()
}
