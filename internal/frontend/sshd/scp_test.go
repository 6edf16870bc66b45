package sshd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ferrymft/ferry/internal/ferrytest"
)

// scpClient moves files with the legacy SCP protocol over x/crypto/ssh and
// does the rest (rename, list…) with SFTP on the same connection: both
// share the connection's one session.
type scpClient struct {
	*sftpClient
}

// scpRun starts `scp ARGS` and returns its stdin, stdout and session.
func (c *scpClient) scpRun(args string) (*ssh.Session, io.WriteCloser, *bufio.Reader, error) {
	s, err := c.conn.NewSession()
	if err != nil {
		return nil, nil, nil, err
	}
	in, err := s.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := s.Start("scp " + args); err != nil {
		return nil, nil, nil, err
	}
	return s, in, bufio.NewReader(out), nil
}

func scpAck(r *bufio.Reader) error {
	b, err := r.ReadByte()
	if err != nil {
		return err
	}
	if b != 0 {
		msg, _ := r.ReadString('\n')
		return fmt.Errorf("scp error %d: %s", b, strings.TrimSpace(msg))
	}
	return nil
}

func (c *scpClient) Upload(p string, data []byte) error {
	s, in, out, err := c.scpRun("-t " + p)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := scpAck(out); err != nil {
		return err
	}
	fmt.Fprintf(in, "C0644 %d %s\n", len(data), path.Base(p))
	if err := scpAck(out); err != nil {
		return err
	}
	in.Write(data)
	in.Write([]byte{0})
	if err := scpAck(out); err != nil {
		return err
	}
	in.Close()
	return s.Wait()
}

func (c *scpClient) Download(p string) ([]byte, error) {
	s, in, out, err := c.scpRun("-f " + p)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	in.Write([]byte{0})
	b, err := out.ReadByte()
	if err != nil {
		return nil, err
	}
	line, err := out.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if b != 'C' {
		return nil, fmt.Errorf("scp: %q", line)
	}
	f := strings.SplitN(strings.TrimSpace(line), " ", 3)
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return nil, err
	}
	in.Write([]byte{0})
	data := make([]byte, size)
	if _, err := io.ReadFull(out, data); err != nil {
		return nil, err
	}
	if err := scpAck(out); err != nil {
		return nil, err
	}
	in.Write([]byte{0})
	in.Close()
	return data, s.Wait()
}

func (c *scpClient) DownloadFrom(p string, off int64) ([]byte, error) {
	data, err := c.Download(p)
	if err != nil {
		return nil, err
	}
	if off > int64(len(data)) {
		return nil, errors.New("offset beyond the end")
	}
	return data[off:], nil
}

// UploadInterrupted announces the whole file, sends part of it and drops the
// connection.
func (c *scpClient) UploadInterrupted(p string, data []byte) error {
	s, in, out, err := c.scpRun("-t " + p)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := scpAck(out); err != nil {
		return err
	}
	fmt.Fprintf(in, "C0644 %d %s\n", 2*len(data), path.Base(p))
	if err := scpAck(out); err != nil {
		return err
	}
	in.Write(data)
	return c.conn.Close()
}

func TestScenariosSCP(t *testing.T) {
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer {
		addr := startServer(t, env)
		return func(t *testing.T, user, password string) ferrytest.Client {
			return &scpClient{dialSFTP(t, addr, user, password)}
		}
	})
}

func TestSCPMetacharactersAreNames(t *testing.T) {
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startServer(t, env)
	c := &scpClient{dialSFTP(t, addr, "alice", "pw")}
	defer c.Close()
	for _, name := range []string{"x;echo pwned", "a b.txt", "$(id)", "q'uote"} {
		data := []byte("data of " + name)
		if err := c.Upload("/"+name, data); err != nil {
			t.Fatalf("upload %q: %v", name, err)
		}
		got, err := c.Download("/" + name)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("download %q: %q, %v", name, got, err)
		}
	}
	names, err := c.List("/")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 4 {
		t.Fatalf("names %q", names)
	}
}

func TestSCPRecursiveSink(t *testing.T) {
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startServer(t, env)
	c := &scpClient{dialSFTP(t, addr, "alice", "pw")}
	defer c.Close()
	s, in, out, err := c.scpRun("-r -p -t /newdir")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	steps := []string{"T1700000000 0 1700000000 0\n", "D0755 0 src\n", "C0600 3 a.txt\n"}
	for _, st := range append([]string{""}, steps...) {
		if st != "" {
			io.WriteString(in, st)
		}
		if err := scpAck(out); err != nil {
			t.Fatalf("after %q: %v", st, err)
		}
	}
	in.Write([]byte("abc\x00"))
	if err := scpAck(out); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "E\n")
	if err := scpAck(out); err != nil {
		t.Fatal(err)
	}
	in.Close()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	// Like OpenSSH, the missing target became the directory itself.
	got, err := c.Download("/newdir/a.txt")
	if err != nil || string(got) != "abc" {
		t.Fatalf("got %q, %v", got, err)
	}
	fi, err := c.c.Stat("/newdir/a.txt")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	di, err := c.c.Stat("/newdir")
	if err != nil || di.ModTime().Unix() != 1700000000 {
		t.Fatalf("dir time %v, %v", di.ModTime(), err)
	}
}

// A client that does not wait for acks sends headers and data back to
// back: bytes the line reader already buffered after a header belong to the
// file, and the next header follows the data exactly.
func TestSCPSinkPipelined(t *testing.T) {
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	addr := startServer(t, env)
	c := &scpClient{dialSFTP(t, addr, "alice", "pw")}
	defer c.Close()
	s, in, out, err := c.scpRun("-t /")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := make([]byte, 700_001) // spans several of the upload's buffers
	for i := range big {
		big[i] = byte(i * 7)
	}
	var stream bytes.Buffer
	fmt.Fprintf(&stream, "C0644 %d big.bin\n", len(big))
	stream.Write(big)
	stream.WriteString("\x00C0644 5 small.txt\nhello\x00")
	go func() {
		in.Write(stream.Bytes())
		in.Close()
	}()
	for i := range 5 { // go-ahead, then header and data of each file
		if err := scpAck(out); err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Download("/big.bin"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("big.bin: %d bytes, %v; want the %d sent", len(got), err, len(big))
	}
	if got, err := c.Download("/small.txt"); err != nil || string(got) != "hello" {
		t.Fatalf("small.txt: %q, %v", got, err)
	}
}

func TestParseSCP(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want scpArgs
		err  bool
	}{
		{in: "-t /a", want: scpArgs{sink: true, path: "/a"}},
		{in: "-r -p -d -t -- -weird name", want: scpArgs{sink: true, recursive: true, preserve: true, dir: true, path: "-weird name"}},
		{in: "-v -f 'x;echo pwned'", want: scpArgs{source: true, path: "x;echo pwned"}},
		{in: "-f x;echo pwned", want: scpArgs{source: true, path: "x;echo pwned"}},
		{in: "-t", want: scpArgs{sink: true, path: "."}},
		{in: "-f -t x", err: true},
		{in: "-Z -t x", err: true},
		{in: "/x", err: true},
	} {
		got, err := parseSCP(tc.in)
		if (err != nil) != tc.err || err == nil && got != tc.want {
			t.Errorf("parseSCP(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzSCPHeader(f *testing.F) {
	for _, s := range []string{"C0644 12 a.txt", "D0755 0 dir", "C0644 -1 x", "C999 1 ../x", "C0644 1 a/b", "T1 0 2 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, l string) {
		_, size, name, err := parseSCPHeader(l)
		if err == nil && (size < 0 || name == "" || name == ".." || strings.ContainsAny(name, "/\x00")) {
			t.Fatalf("accepted %q: size %d name %q", l, size, name)
		}
		if len(l) > 0 && l[0] == 'T' {
			_, _, _ = parseSCPTimes(l)
		}
	})
}
