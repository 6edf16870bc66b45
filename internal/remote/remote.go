// Package remote is the client side of every protocol Ferry speaks: one
// client per protocol (FTP and FTPS explicit or implicit, SFTP, WebDAV and
// plain HTTP(S) GET, local folders) behind one small ctx-first interface,
// FS. The transfer engine (internal/transfer) and the CLI use it; nothing
// in the server imports it. Conformance: remotetest.Run.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"time"
)

// Entry describes one remote file or directory.
type Entry struct {
	Name    string // base name
	Size    int64
	ModTime time.Time // zero when the server does not say
	Dir     bool
}

// FS is a connection to one location. Paths are slash-separated and
// absolute ("/" is the location's root as its server presents it). An FS is
// used by one goroutine at a time; a reader or writer it returns must be
// closed before the next call.
type FS interface {
	// Stat describes one path; a missing path wraps fs.ErrNotExist.
	Stat(ctx context.Context, p string) (Entry, error)
	// List returns the entries of a directory, without "." and "..".
	List(ctx context.Context, dir string) ([]Entry, error)
	// Open reads a file from byte offset off.
	Open(ctx context.Context, p string, off int64) (io.ReadCloser, error)
	// Create writes a file from byte offset off: 0 truncates, a positive
	// offset continues a partial file of exactly off bytes. A server that
	// cannot continue returns an error wrapping errors.ErrUnsupported.
	Create(ctx context.Context, p string, off int64) (Writer, error)
	// Rename moves from to to, replacing an existing file at to.
	Rename(ctx context.Context, from, to string) error
	// Remove deletes a file; Rmdir an empty directory; Mkdir creates one
	// directory (an existing one wraps fs.ErrExist).
	Remove(ctx context.Context, p string) error
	Rmdir(ctx context.Context, p string) error
	Mkdir(ctx context.Context, p string) error
	// Close ends the connection.
	Close() error
}

// Writer is an upload in progress. Close completes it and reports whether
// the server stored every byte; Abort gives up (the partial is left for a
// later resume where the server keeps one).
type Writer interface {
	io.Writer
	Close() error
	Abort() error
}

// Hasher is an FS whose server computes file hashes (FTP HASH/XSHA256, SFTP
// check-file, HTTP Digest, or locally). Algo is "sha256", "sha1" or "md5".
// A server without the capability returns an error wrapping
// errors.ErrUnsupported.
type Hasher interface {
	Hash(ctx context.Context, p, algo string) ([]byte, error)
}

// ConcurrentHasher is a Hasher whose Hash may run on another goroutine
// while the same FS reads or writes a file (SFTP: a channel of its own).
type ConcurrentHasher interface {
	Hasher
	ConcurrentHash()
}

// ErrHostKey is wrapped by an SFTP dial whose host key does not match the
// pinned or known one.
var ErrHostKey = errors.New("remote: host key mismatch")

// Options are how to connect, besides what the URL says.
type Options struct {
	// Password, when set, overrides the URL's password.
	Password string
	// Identity is an SSH private key (OpenSSH PEM) for SFTP; IdentityPass
	// decrypts it when encrypted.
	Identity     []byte
	IdentityPass []byte
	// Insecure skips TLS certificate verification and SSH host key checks.
	Insecure bool
	// KnownHosts is an OpenSSH known_hosts file. A host not in it is added
	// on first use (and reported through OnNewHostKey); a different key is
	// refused with ErrHostKey.
	KnownHosts string
	// HostKey pins the SSH host key by its SHA256 fingerprint
	// ("SHA256:…", as ssh-keygen -l prints it); it takes precedence.
	HostKey string
	// OnNewHostKey is told about a host key learnt on first use.
	OnNewHostKey func(host, fingerprint string)
	// Active uses FTP active mode (PORT/EPRT) instead of passive.
	Active bool
	// Timeout bounds dialling and each reply wait (default 30s).
	Timeout time.Duration
	// Logger receives debug lines (commands, never passwords).
	Logger *slog.Logger
}

// Location is a parsed location URL.
type Location struct {
	Scheme  string // "file", "ftp", "ftps", "ftps-implicit", "sftp", "webdav", "webdavs", "http", "https"
	User    string
	Pass    string
	HasPass bool
	Host    string // host[:port], empty for file
	Path    string // absolute, cleaned; for file a local OS path
	Dir     bool   // the text ended in "/"
	Raw     string // as given, with the password removed
	// Name is the stored location this one was resolved from
	// (transfer.Resolver), "" for a plain URL; dialling looks up the
	// location's credentials by it.
	Name string
}

// String is the location without its password.
func (l Location) String() string { return l.Raw }

// Join returns the location of a path under this one (remote path syntax).
func (l Location) Join(elem ...string) Location {
	c := l
	c.Path = path.Join(append([]string{l.Path}, elem...)...)
	c.Dir = false
	if l.Scheme == "file" {
		c.Path = joinLocal(l.Path, elem...)
	}
	c.Raw = c.display()
	return c
}

func (l Location) display() string {
	if l.Scheme == "file" {
		return l.Path
	}
	u := url.URL{Scheme: l.Scheme, Host: l.Host, Path: l.Path}
	if l.User != "" {
		u.User = url.User(l.User)
	}
	return u.String()
}

var schemes = map[string]bool{"ftp": true, "ftps": true, "ftpes": true, "ftps-implicit": true, "sftp": true,
	"webdav": true, "webdavs": true, "http": true, "https": true, "file": true}

// Parse reads a location: a URL with one of the supported schemes, or a
// local path. A URL's path is absolute from the server's root; "/~/" at its
// start means the login's home (SFTP).
func Parse(s string) (Location, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || strings.ContainsAny(scheme, "/\\.") {
		return Location{Scheme: "file", Path: s, Dir: strings.HasSuffix(s, "/"), Raw: s}, nil
	}
	scheme = strings.ToLower(scheme)
	if !schemes[scheme] {
		return Location{}, fmt.Errorf("location %q: unknown scheme %q (accepted: ftp, ftps, ftps-implicit, sftp, webdav, webdavs, http, https, file, or a local path)", redact(s), scheme)
	}
	if scheme == "ftpes" {
		scheme = "ftps"
	}
	if scheme == "file" {
		return Location{Scheme: "file", Path: rest, Dir: strings.HasSuffix(rest, "/"), Raw: rest}, nil
	}
	_ = rest
	u, err := url.Parse(strings.Replace(s, scheme+"://", "x://", 1))
	if err != nil {
		return Location{}, fmt.Errorf("location %q: %v", redact(s), err)
	}
	if u.Host == "" {
		return Location{}, fmt.Errorf("location %q: no host", redact(s))
	}
	l := Location{Scheme: scheme, Host: u.Host, Dir: strings.HasSuffix(u.Path, "/") || u.Path == ""}
	if u.User != nil {
		l.User = u.User.Username()
		l.Pass, l.HasPass = u.User.Password()
	}
	l.Path = path.Clean("/" + u.Path)
	l.Raw = l.display()
	if l.Dir && l.Path != "/" {
		l.Raw += "/"
	}
	return l, nil
}

// redact removes a password from a URL-looking string for messages.
func redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	slash := strings.Index(rest, "/")
	if at < 0 || (slash >= 0 && slash < at) {
		return s
	}
	if user, _, ok := strings.Cut(rest[:at], ":"); ok {
		return scheme + "://" + user + ":***" + rest[at:]
	}
	return s
}

// Dial connects to a location's server (or opens the local root).
func Dial(ctx context.Context, l Location, o Options) (FS, error) {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	pass := l.Pass
	if o.Password != "" {
		pass = o.Password
	}
	var (
		f   FS
		err error
	)
	switch l.Scheme {
	case "file":
		return Local(), nil
	case "ftp", "ftps", "ftps-implicit":
		f, err = dialFTP(ctx, l, pass, o)
	case "sftp":
		f, err = dialSFTP(ctx, l, pass, o)
	case "webdav", "webdavs", "http", "https":
		f, err = dialDAV(ctx, l, pass, o)
	default:
		err = fmt.Errorf("unknown scheme %q", l.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.Host, err)
	}
	return f, nil
}

// MkdirAll creates p and its missing parents.
func MkdirAll(ctx context.Context, f FS, p string) error {
	p = path.Clean(p)
	if p == "/" || p == "." {
		return nil
	}
	if e, err := f.Stat(ctx, p); err == nil {
		if !e.Dir {
			return fmt.Errorf("mkdir %s: %w", p, errNotDir)
		}
		return nil
	}
	if err := MkdirAll(ctx, f, path.Dir(p)); err != nil {
		return err
	}
	if err := f.Mkdir(ctx, p); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

var errNotDir = errors.New("not a directory")

// Transient reports whether an error is worth a retry on a new
// connection: anything but a missing file, a refused permission, a bad
// login, a host key mismatch or an unsupported operation.
func Transient(err error) bool {
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission),
		errors.Is(err, ErrAuth), errors.Is(err, ErrHostKey), errors.Is(err, errors.ErrUnsupported),
		errors.Is(err, context.Canceled), errors.Is(err, ErrNoSpace):
		return false
	}
	return true
}

// ErrAuth is wrapped by a refused login; ErrNoSpace by a full destination.
var (
	ErrAuth    = errors.New("login refused")
	ErrNoSpace = errors.New("no space left")
)
