package remote

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sftpFS is an SFTP client over one SSH connection.
type sftpFS struct {
	ssh   *ssh.Client
	c     *sftp.Client
	home  string
	chunk int // READ/WRITE request length

	mu     sync.Mutex
	fast   *fastChan // an idle channel for fast downloads, nil when none
	noFast bool      // the server refused a second sftp channel
}

func dialSFTP(ctx context.Context, l Location, pass string, o Options) (*sftpFS, error) {
	addr := l.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "22")
	}
	user := l.User
	if user == "" {
		user = os.Getenv("USER")
	}
	cfg := &ssh.ClientConfig{User: user, Timeout: o.Timeout}
	if o.Identity != nil {
		var (
			signer ssh.Signer
			err    error
		)
		if o.IdentityPass != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(o.Identity, o.IdentityPass)
		} else {
			signer, err = ssh.ParsePrivateKey(o.Identity)
		}
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if pass != "" {
		cfg.Auth = append(cfg.Auth, ssh.Password(pass), ssh.KeyboardInteractive(
			func(_, _ string, qs []string, _ []bool) ([]string, error) {
				a := make([]string, len(qs))
				for i := range a {
					a[i] = pass
				}
				return a, nil
			}))
	}
	hk, err := hostKeyCallback(o)
	if err != nil {
		return nil, err
	}
	cfg.HostKeyCallback = hk
	d := net.Dialer{Timeout: o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stop()
	if err != nil {
		conn.Close()
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("login as %s: %w: %v", user, ErrAuth, err)
		}
		return nil, err
	}
	client := ssh.NewClient(sc, chans, reqs)
	// The server's limits@openssh.com answer, asked on a second channel
	// while the main one opens, sizes READ and WRITE requests: pkg/sftp
	// moves 32 KiB per request by default, where OpenSSH's client (and
	// server) use about 255 KiB; each request costs both ends a round of
	// packet handling, so small ones cost CPU on both sides.
	lim := make(chan int, 1)
	go func() { lim <- sftpChunk(client) }()
	c, chunk, err := newSFTPClient(client, lim)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("sftp subsystem: %w", err)
	}
	f := &sftpFS{ssh: client, c: c, home: "/", chunk: chunk}
	if h, err := c.Getwd(); err == nil {
		f.home = h
	}
	return f, nil
}

// newSFTPClient opens the sftp subsystem and starts pkg/sftp's client on
// it with the request size from lim, which it returns.
func newSFTPClient(client *ssh.Client, lim <-chan int) (*sftp.Client, int, error) {
	s, err := client.NewSession()
	if err != nil {
		<-lim
		return nil, 0, err
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		s.Close()
		<-lim
		return nil, 0, err
	}
	w, err := s.StdinPipe()
	if err != nil {
		s.Close()
		<-lim
		return nil, 0, err
	}
	r, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		<-lim
		return nil, 0, err
	}
	chunk := <-lim
	c, err := sftp.NewClientPipe(r, w,
		sftp.UseConcurrentReads(true), sftp.UseConcurrentWrites(true),
		sftp.MaxConcurrentRequestsPerFile(64), sftp.MaxPacketUnchecked(chunk))
	if err != nil {
		s.Close()
		return nil, 0, err
	}
	go func() { c.Wait(); s.Close() }()
	return c, chunk, nil
}

// Request sizes: pkg/sftp's default, and the most a reply may carry
// within pkg/sftp's 256 KiB message limit (OpenSSH's sftp-server
// advertises the same 261120 bytes).
const (
	sftpChunkDefault = 32 << 10
	sftpChunkMax     = 256<<10 - 1024
)

// sftpChunk asks the server's limits (limits@openssh.com) on a channel of
// its own and returns the READ/WRITE length to use: the smaller of the
// server's max-read-length and max-write-length, at most sftpChunkMax;
// 32 KiB when the server does not say. A server that shortened our
// requests would leave holes in pkg/sftp's concurrent reads, so only an
// advertised length is used above 32 KiB.
func sftpChunk(client *ssh.Client) int {
	chunk := sftpChunkDefault
	rep, err := sftpExtended(client, "limits@openssh.com")
	if err != nil || len(rep) < 5+32 || rep[0] != 201 { // SSH_FXP_EXTENDED_REPLY
		return chunk
	}
	rd := binary.BigEndian.Uint64(rep[5+8:])
	wr := binary.BigEndian.Uint64(rep[5+16:])
	if rd == 0 || wr == 0 { // 0: the server does not say
		return chunk
	}
	n := min(rd, wr, sftpChunkMax)
	if n < 1024 {
		return chunk
	}
	return int(n)
}

// sftpExtended sends one SSH_FXP_EXTENDED request (name, then args as
// strings, then raw tail bytes) on a new sftp channel and returns the
// reply packet (type, id, body). pkg/sftp exposes no extended requests.
func sftpExtended(client *ssh.Client, name string, args ...any) ([]byte, error) {
	c, err := dialFast(client, 0)
	if err != nil {
		return nil, err
	}
	defer c.ch.Close()
	c.begin(200) // SSH_FXP_EXTENDED
	c.putString([]byte(name))
	for _, a := range args {
		switch a := a.(type) {
		case string:
			c.putString([]byte(a))
		case []byte:
			c.out = append(c.out, a...)
		}
	}
	c.end()
	if err := c.flush(); err != nil {
		return nil, err
	}
	typ, body, err := c.readCtl()
	if err != nil {
		return nil, err
	}
	return append([]byte{typ}, body...), nil
}

// hostKeyCallback checks the server's key: a pinned fingerprint, else a
// known_hosts file that learns unknown hosts on first use.
func hostKeyCallback(o Options) (ssh.HostKeyCallback, error) {
	if o.HostKey != "" {
		want := o.HostKey
		return func(host string, _ net.Addr, key ssh.PublicKey) error {
			if got := ssh.FingerprintSHA256(key); got != want {
				return fmt.Errorf("%w: %s presented %s, pinned %s", ErrHostKey, host, got, want)
			}
			return nil
		}, nil
	}
	if o.Insecure || o.KnownHosts == "" {
		if o.Insecure {
			return ssh.InsecureIgnoreHostKey(), nil
		}
		return nil, fmt.Errorf("no known_hosts file and no pinned host key (use --known-hosts, --host-key or --insecure)")
	}
	file := o.KnownHosts
	var mu sync.Mutex
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		mu.Lock()
		defer mu.Unlock()
		check, err := knownhosts.New(file)
		if errors.Is(err, fs.ErrNotExist) {
			check = func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }
		} else if err != nil {
			return fmt.Errorf("known_hosts %s: %w", file, err)
		}
		err = check(host, remote, key)
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			return err
		}
		if len(ke.Want) > 0 {
			return fmt.Errorf("%w: %s presented %s %s, %s:%d has %s", ErrHostKey, host, key.Type(),
				ssh.FingerprintSHA256(key), ke.Want[0].Filename, ke.Want[0].Line, ssh.FingerprintSHA256(ke.Want[0].Key))
		}
		// Unknown host: trust on first use and remember it.
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return err
		}
		kf, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("known_hosts %s: %w", file, err)
		}
		_, err = fmt.Fprintln(kf, knownhosts.Line([]string{knownhosts.Normalize(host)}, key))
		if cerr := kf.Close(); err == nil {
			err = cerr
		}
		if err == nil && o.OnNewHostKey != nil {
			o.OnNewHostKey(host, ssh.FingerprintSHA256(key))
		}
		return err
	}, nil
}

func (f *sftpFS) abs(p string) string {
	if p == "/~" || strings.HasPrefix(p, "/~/") {
		return path.Join(f.home, strings.TrimPrefix(p, "/~"))
	}
	return p
}

func sftpErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	var se *sftp.StatusError
	if errors.As(err, &se) {
		switch se.FxCode() {
		case sftp.ErrSSHFxNoSuchFile:
			err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
		case sftp.ErrSSHFxPermissionDenied:
			err = fmt.Errorf("%w: %w", fs.ErrPermission, err)
		case sftp.ErrSSHFxOpUnsupported:
			err = fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
		default:
			if strings.Contains(strings.ToLower(se.Error()), "no space") || strings.Contains(se.Error(), "quota") {
				err = fmt.Errorf("%w: %w", ErrNoSpace, err)
			}
		}
	}
	return fmt.Errorf("%s %s: %w", op, p, err)
}

func (f *sftpFS) Stat(_ context.Context, p string) (Entry, error) {
	fi, err := f.c.Stat(f.abs(p))
	if err != nil {
		return Entry{}, sftpErr("stat", p, err)
	}
	e := entryOf(fi)
	e.Name = path.Base(p)
	return e, nil
}

func (f *sftpFS) List(ctx context.Context, dir string) ([]Entry, error) {
	fis, err := f.c.ReadDirContext(ctx, f.abs(dir))
	if err != nil {
		return nil, sftpErr("list", dir, err)
	}
	out := make([]Entry, 0, len(fis))
	for _, fi := range fis {
		if fi.Mode()&fs.ModeSymlink != 0 {
			if t, err := f.c.Stat(path.Join(f.abs(dir), fi.Name())); err == nil {
				e := entryOf(t)
				e.Name = fi.Name()
				out = append(out, e)
			}
			continue
		}
		out = append(out, entryOf(fi))
	}
	return out, nil
}

// sftpReader keeps *sftp.File's WriteTo (concurrent reads) reachable.
type sftpReader struct{ f *sftp.File }

func (r sftpReader) Read(p []byte) (int, error)         { return r.f.Read(p) }
func (r sftpReader) WriteTo(w io.Writer) (int64, error) { return r.f.WriteTo(w) }
func (r sftpReader) Close() error                       { return r.f.Close() }

func (f *sftpFS) Open(ctx context.Context, p string, off int64) (io.ReadCloser, error) {
	if r := f.openFast(ctx, p, off); r != nil {
		return r, nil
	}
	file, err := f.c.Open(f.abs(p))
	if err != nil {
		return nil, sftpErr("read", p, err)
	}
	if off > 0 {
		if _, err := file.Seek(off, io.SeekStart); err != nil {
			file.Close()
			return nil, sftpErr("read", p, err)
		}
	}
	return sftpReader{file}, nil
}

type sftpWriter struct {
	f *sftp.File
	p string
}

func (w sftpWriter) Write(b []byte) (int, error) { return w.f.Write(b) }

// ReadFrom writes with 64 requests in flight.
func (w sftpWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.f.ReadFromWithConcurrency(r, 64)
	if err != nil {
		err = sftpErr("write", w.p, err)
	}
	return n, err
}
func (w sftpWriter) Close() error { return sftpErr("write", w.p, w.f.Close()) }
func (w sftpWriter) Abort() error { return w.f.Close() }

func (f *sftpFS) Create(_ context.Context, p string, off int64) (Writer, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if off == 0 {
		flags |= os.O_TRUNC
	}
	file, err := f.c.OpenFile(f.abs(p), flags)
	if err != nil {
		return nil, sftpErr("write", p, err)
	}
	if off > 0 {
		if _, err := file.Seek(off, io.SeekStart); err != nil {
			file.Close()
			return nil, sftpErr("write", p, err)
		}
	}
	return sftpWriter{file, p}, nil
}

func (f *sftpFS) Rename(_ context.Context, from, to string) error {
	if _, ok := f.c.HasExtension("posix-rename@openssh.com"); ok {
		return sftpErr("rename", from, f.c.PosixRename(f.abs(from), f.abs(to)))
	}
	f.c.Remove(f.abs(to)) // SFTP v3 rename refuses an existing target
	return sftpErr("rename", from, f.c.Rename(f.abs(from), f.abs(to)))
}

func (f *sftpFS) Remove(_ context.Context, p string) error {
	return sftpErr("remove", p, f.c.Remove(f.abs(p)))
}

func (f *sftpFS) Rmdir(_ context.Context, p string) error {
	return sftpErr("rmdir", p, f.c.RemoveDirectory(f.abs(p)))
}

func (f *sftpFS) Mkdir(_ context.Context, p string) error {
	err := f.c.Mkdir(f.abs(p))
	if err != nil {
		if fi, serr := f.c.Stat(f.abs(p)); serr == nil && fi.IsDir() {
			return fmt.Errorf("mkdir %s: %w", p, fs.ErrExist)
		}
	}
	return sftpErr("mkdir", p, err)
}

func (f *sftpFS) Close() error {
	f.mu.Lock()
	if f.fast != nil {
		f.fast.ch.Close()
		f.fast = nil
	}
	f.mu.Unlock()
	f.c.Close()
	return f.ssh.Close()
}

// Hash uses the check-file-name extension (draft-ietf-secsh-filexfer-
// extensions) on a second SFTP channel when the server offers it, else
// runs "sha256sum" (or sha1sum/md5sum) over an exec channel.
func (f *sftpFS) Hash(ctx context.Context, p, algo string) ([]byte, error) {
	if algos, ok := f.c.HasExtension("check-file"); ok && strings.Contains(algos, algo) {
		return f.checkFile(f.abs(p), algo)
	}
	if _, ok := f.c.HasExtension("check-file-name"); ok {
		return f.checkFile(f.abs(p), algo)
	}
	return f.execSum(f.abs(p), algo)
}

// ConcurrentHash: Hash uses a channel of its own, so it may run while a
// file is being read or written on this connection.
func (f *sftpFS) ConcurrentHash() {}

func (f *sftpFS) execSum(p, algo string) ([]byte, error) {
	prog := map[string]string{"sha256": "sha256sum", "sha1": "sha1sum", "md5": "md5sum"}[algo]
	if prog == "" {
		return nil, fmt.Errorf("hash %s: %w", algo, errors.ErrUnsupported)
	}
	s, err := f.ssh.NewSession()
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w: %v", p, errors.ErrUnsupported, err)
	}
	defer s.Close()
	out, err := s.Output(prog + " -b -- '" + strings.ReplaceAll(p, "'", `'\''`) + "'")
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w: %v", p, errors.ErrUnsupported, err)
	}
	hexSum, _, _ := strings.Cut(string(out), " ")
	sum, err := hexDecode(hexSum)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w: unreadable %s output", p, errors.ErrUnsupported, prog)
	}
	return sum, nil
}

// checkFile asks check-file-name on its own channel (pkg/sftp does not
// expose it). A channel of its own also lets it run while a transfer on
// the main channel is in progress (ConcurrentHash).
func (f *sftpFS) checkFile(p, algo string) ([]byte, error) {
	rep, err := sftpExtended(f.ssh, "check-file-name", p, algo,
		make([]byte, 8+8+4)) // start 0, length 0 (all), block size 0 (one hash)
	if err != nil {
		return nil, err
	}
	switch {
	case len(rep) >= 5 && rep[0] == 201: // SSH_FXP_EXTENDED_REPLY: id, string algo, hash bytes
		// string "check-file", string algorithm, then the hash bytes.
		rest := rep[5:]
		str := func() (string, bool) {
			if len(rest) < 4 {
				return "", false
			}
			n := binary.BigEndian.Uint32(rest)
			if int(n)+4 > len(rest) {
				return "", false
			}
			s := string(rest[4 : 4+n])
			rest = rest[4+n:]
			return s, true
		}
		name, ok := str()
		if ok && name == "check-file" {
			name, ok = str()
		}
		if !ok || name != algo {
			return nil, fmt.Errorf("hash %s: check-file answered %q, not %s", p, name, algo)
		}
		return rest, nil
	case len(rep) >= 9 && rep[0] == 101: // SSH_FXP_STATUS
		code := binary.BigEndian.Uint32(rep[5:])
		switch code {
		case 2:
			return nil, fmt.Errorf("hash %s: %w", p, fs.ErrNotExist)
		case 3:
			return nil, fmt.Errorf("hash %s: %w", p, fs.ErrPermission)
		}
		return nil, fmt.Errorf("hash %s: %w (status %d)", p, errors.ErrUnsupported, code)
	}
	return nil, fmt.Errorf("hash %s: unexpected reply type %d", p, rep[0])
}
