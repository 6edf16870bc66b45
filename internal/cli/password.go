package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ferrymft/ferry/internal/app"
)

// readPassword reads a password from stdin (one line) when fromStdin, or
// from the terminal without echo, asking twice. A password never comes from
// argv.
func (e *env) readPassword(fromStdin bool, what string) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", usagef("empty password on stdin")
		}
		return pw, nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return "", usagef("no terminal to read the password of %s from: use --password-stdin", what)
	}
	pw, err := promptNoEcho(f, e.stderr, "Password for "+what+": ")
	if err != nil {
		return "", err
	}
	again, err := promptNoEcho(f, e.stderr, "Repeat password: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", usagef("passwords do not match")
	}
	if pw == "" {
		return "", usagef("empty password")
	}
	return pw, nil
}

// newPassword reads a password and checks it against the password policy.
func (e *env) newPassword(fromStdin bool, what string) (string, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return "", err
	}
	pol, err := app.PasswordPolicy(cfg)
	if err != nil {
		return "", err
	}
	pw, err := e.readPassword(fromStdin, what)
	if err != nil {
		return "", err
	}
	if err := pol.Check(pw); err != nil {
		return "", err
	}
	return pw, nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func promptNoEcho(f *os.File, w io.Writer, prompt string) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(w, prompt)
	line, err := bufio.NewReader(f).ReadString('\n')
	fmt.Fprintln(w)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
