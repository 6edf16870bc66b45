package remote_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/remote"
	"github.com/ferrymft/ferry/internal/remote/remotetest"
)

// get reads p from off through Open, by WriteTo (as copies do) or by Read.
func get(t *testing.T, f remote.FS, p string, off int64, byRead bool) ([]byte, error) {
	t.Helper()
	r, err := f.Open(context.Background(), p, off)
	if err != nil {
		t.Fatalf("Open(%s, %d): %v", p, off, err)
	}
	defer r.Close()
	if !remote.FastRead(r) {
		t.Errorf("Open(%s) did not take the fast path", p)
	}
	var buf bytes.Buffer
	if byRead {
		_, err = io.Copy(&buf, struct{ io.Reader }{r})
	} else {
		_, err = r.(io.WriterTo).WriteTo(&buf)
	}
	return buf.Bytes(), err
}

func checkGet(t *testing.T, f remote.FS, p string, data []byte, off int64, byRead bool) {
	t.Helper()
	got, err := get(t, f, p, off, byRead)
	if err != nil {
		t.Fatalf("read %s from %d: %v", p, off, err)
	}
	if !bytes.Equal(got, data[off:]) {
		t.Fatalf("read %s from %d: %d bytes, want %d (or they differ)", p, off, len(got), len(data)-int(off))
	}
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestSFTPFastReadFerry(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr, key := startSSHD(t, env)
	loc, _ := remote.Parse("sftp://alice@" + addr + "/")
	f, err := remote.Dial(context.Background(), loc, remote.Options{Password: "pw", HostKey: ssh.FingerprintSHA256(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const chunk = 256<<10 - 1024
	files := map[string][]byte{
		"/big.bin":   random(t, 9<<20+12345),
		"/exact.bin": random(t, 8*chunk),
		"/empty":     nil,
		"/small":     random(t, 100),
	}
	for p, d := range files {
		remotetest.Put(t, f, p, d)
	}
	for _, tt := range []struct {
		name, p string
		off     int64
		byRead  bool
	}{
		{"multi MiB by WriteTo", "/big.bin", 0, false},
		{"multi MiB by Read", "/big.bin", 0, true},
		{"from an offset", "/big.bin", 3<<20 + 7, false},
		{"offset at the end", "/big.bin", 9<<20 + 12345, false},
		{"multiple of the read size", "/exact.bin", 0, false},
		{"zero bytes", "/empty", 0, false},
		{"smaller than one read", "/small", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) { // sequential: one FS, its channel reused
			checkGet(t, f, tt.p, files[tt.p], tt.off, tt.byRead)
		})
	}
	t.Run("reads sized by limits@openssh.com", func(t *testing.T) {
		r, err := f.Open(context.Background(), "/small", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if n := remote.FastReadLen(r); n != chunk {
			t.Fatalf("READ length %d, want %d", n, chunk)
		}
	})
	t.Run("close midway then read again", func(t *testing.T) {
		r, err := f.Open(context.Background(), "/big.bin", 0)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(r, make([]byte, 1<<20))
		r.Close()
		checkGet(t, f, "/exact.bin", files["/exact.bin"], 0, false)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		r, err := f.Open(ctx, "/big.bin", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cancel()
		if _, err := io.Copy(io.Discard, r); !errors.Is(err, context.Canceled) {
			t.Fatalf("read after cancel = %v, want context.Canceled", err)
		}
	})
}

// fakeSSH is an SSH server on 127.0.0.1:0 whose "sftp" subsystem serves
// one in-memory tree with pkg/sftp's request server, or runs serve.
// Subsystem requests after the first two (pkg/sftp's channel and the
// limits question, both at dial) go to fast, or are refused when fast is
// nil.
type fakeSSH struct {
	files   sftp.Handlers
	serve   func(ch ssh.Channel) // instead of files
	fast    func(ch ssh.Channel)
	refused atomic.Int32
	subs    atomic.Int32
}

func (s *fakeSSH) start(t *testing.T) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	cfg := &ssh.ServerConfig{PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
		if string(pw) != "pw" {
			return nil, errors.New("no")
		}
		return nil, nil
	}}
	cfg.AddHostKey(signer)
	ln := ferrytest.Listen(t)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.conn(nc, cfg) }()
		}
	}()
	return ln.Addr().String()
}

func (s *fakeSSH) conn(nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	_, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		ch, creqs, err := nch.Accept()
		if err != nil {
			return
		}
		go func() {
			for req := range creqs {
				if req.Type != "subsystem" || !bytes.HasSuffix(req.Payload, []byte("sftp")) {
					req.Reply(false, nil)
					continue
				}
				n := s.subs.Add(1)
				switch {
				case n <= 2 || (s.serve != nil && s.fast == nil):
					req.Reply(true, nil)
					serve := s.serve
					if serve == nil {
						serve = func(ch ssh.Channel) { sftp.NewRequestServer(ch, s.files).Serve() }
					}
					go func() { serve(ch); ch.Close() }()
				case s.fast == nil:
					s.refused.Add(1)
					req.Reply(false, nil)
				default:
					req.Reply(true, nil)
					go func() { s.fast(ch); ch.Close() }()
				}
			}
		}()
	}
}

func dialFake(t *testing.T, addr string) remote.FS {
	t.Helper()
	loc, _ := remote.Parse("sftp://alice@" + addr + "/")
	f, err := remote.Dial(context.Background(), loc, remote.Options{Password: "pw", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// shortReads answers every READ with at most a few KiB of varying length.
type shortReads struct{ sftp.FileReader }

func (s shortReads) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	ra, err := s.FileReader.Fileread(r)
	return shortReaderAt{ra}, err
}

type shortReaderAt struct{ io.ReaderAt }

func (s shortReaderAt) ReadAt(b []byte, off int64) (int, error) {
	return s.ReaderAt.ReadAt(b[:min(len(b), 1000+int(off%7919))], off)
}

func TestSFTPFastReadShortReads(t *testing.T) {
	t.Parallel()
	srv := &fakeSSH{files: sftp.InMemHandler()}
	short := srv.files
	short.FileGet = shortReads{srv.files.FileGet}
	srv.fast = func(ch ssh.Channel) { sftp.NewRequestServer(ch, short).Serve() }
	f := dialFake(t, srv.start(t))
	data := random(t, 3<<20+777)
	remotetest.Put(t, f, "/f.bin", data)
	checkGet(t, f, "/f.bin", data, 0, false)
	checkGet(t, f, "/f.bin", data, 123457, true)
}

func TestSFTPFastReadFallback(t *testing.T) {
	t.Parallel()
	srv := &fakeSSH{files: sftp.InMemHandler()} // no third sftp channel
	f := dialFake(t, srv.start(t))
	data := random(t, 1<<20+5)
	remotetest.Put(t, f, "/f.bin", data)
	for range 2 {
		r, err := f.Open(context.Background(), "/f.bin", 0)
		if err != nil {
			t.Fatal(err)
		}
		if remote.FastRead(r) {
			t.Fatal("fast path used though the subsystem was refused")
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("fallback read: %d bytes, %v", len(got), err)
		}
	}
	if n := srv.refused.Load(); n != 1 {
		t.Errorf("refused %d subsystem requests, want 1 (the failure is remembered)", n)
	}
}

// garbage is a fast channel server that answers INIT and OPEN, then
// replies to the first READ with reply and hangs up.
func garbage(reply []byte) func(ssh.Channel) {
	return func(ch ssh.Channel) {
		pkt := func() (byte, uint32) {
			var hdr [9]byte
			if _, err := io.ReadFull(ch, hdr[:]); err != nil {
				return 0, 0
			}
			io.CopyN(io.Discard, ch, int64(binary.BigEndian.Uint32(hdr[:]))-5)
			return hdr[4], binary.BigEndian.Uint32(hdr[5:])
		}
		send := func(b ...byte) { ch.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)) }
		pkt() // INIT: the 9 bytes hold it whole
		send(2, 0, 0, 0, 3)
		_, id := pkt() // OPEN
		send(append(append([]byte{102}, binary.BigEndian.AppendUint32(nil, id)...), 0, 0, 0, 1, 'h')...)
		_, id = pkt() // READ
		ch.Write(bytes.ReplaceAll(reply, []byte("ID!!"), binary.BigEndian.AppendUint32(nil, id)))
	}
}

func TestSFTPFastReadGarbage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		reply []byte
		want  string
		is    error // and errors.Is(err, is), when set
	}{
		{"DATA longer than asked", []byte("\x7f\xff\xff\xff\x67ID!!\x7f\xff\xff\xf0"), "refused", nil},
		{"unknown id", []byte("\x00\x00\x00\x0d\x67\x00\x00\x99\x99\x00\x00\x00\x01x"), "unknown id", nil},
		{"unknown type", []byte("\x00\x00\x00\x05\x70ID!!"), "unexpected reply type", nil},
		{"huge STATUS", []byte("\x7f\xff\xff\xff\x65ID!!"), "refused", nil},
		{"cut short", []byte("\x00\x00\x40\x09\x67ID!!\x00\x00\x40\x00abc"), "unexpected EOF", nil},
		{"failure status", []byte("\x00\x00\x00\x15\x65ID!!\x00\x00\x00\x04\x00\x00\x00\x04boom\x00\x00\x00\x00"),
			`sftp: "boom" (SSH_FX_FAILURE)`, nil},
		{"no such file status", []byte("\x00\x00\x00\x15\x65ID!!\x00\x00\x00\x02\x00\x00\x00\x04gone\x00\x00\x00\x00"),
			"file does not exist", fs.ErrNotExist},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &fakeSSH{files: sftp.InMemHandler(), fast: garbage(tt.reply)}
			f := dialFake(t, srv.start(t))
			_, err := get(t, f, "/x", 0, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("read = %v, want an error with %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("read = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

// openSSHServer runs OpenSSH's sftp-server on a channel.
func openSSHServer(t *testing.T) func(ssh.Channel) {
	bin := "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("OpenSSH sftp-server not installed")
	}
	return func(ch ssh.Channel) {
		cmd := exec.Command(bin, "-e", "-l", "ERROR")
		cmd.Stdin, cmd.Stdout = ch, ch
		cmd.Run()
	}
}

// TestSFTPConformanceOpenSSH runs the suite, and so the fast path,
// against OpenSSH's sftp-server (limits@openssh.com: 255 KiB reads).
func TestSFTPConformanceOpenSSH(t *testing.T) {
	t.Parallel()
	srv := &fakeSSH{serve: openSSHServer(t)}
	addr := srv.start(t)
	base := t.TempDir()
	remotetest.Run(t, func(t *testing.T) remotetest.Target {
		f := dialFake(t, addr)
		return remotetest.Target{FS: f, Root: freshDirUnder(t, f, base+"/")}
	})
	t.Run("fast path", func(t *testing.T) {
		f := dialFake(t, addr)
		data := random(t, 5<<20+3)
		remotetest.Put(t, f, base+"/big", data)
		checkGet(t, f, base+"/big", data, 0, false)
		checkGet(t, f, base+"/big", data, 1<<20+1, true)
	})
}
