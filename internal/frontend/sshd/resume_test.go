package sshd

import (
	"bytes"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// With upload mode atomic-resumable, an interrupted atomic upload shows its
// partial's size to its user; opening it for write without TRUNC (OpenSSH's
// reput, with or without APPEND) continues the partial, and the file
// appears complete under its name only on close.
func TestSFTPResumeAtomicPartial(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw", ferrytest.Mode(ferry.UploadAtomicResumable)))
	addr := startServer(t, env)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	const cut = 1<<20 + 5

	for _, flags := range []struct {
		name string
		flag int
	}{{"write-at", os.O_WRONLY}, {"append", os.O_WRONLY | os.O_APPEND}} {
		name := "/" + flags.name + ".bin"
		// First attempt: cut off after `cut` bytes, without CLOSE.
		c := dialSFTP(t, addr, "alice", "pw")
		f, err := c.c.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data[:cut]); err != nil {
			t.Fatal(err)
		}
		c.conn.Close()
		deadline := time.Now().Add(10 * time.Second)
		for len(env.Engine.Sessions()) > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // wait for the server to abort the upload
		}
		if _, err := os.Stat(env.Home("alice", name)); err == nil {
			t.Fatalf("%s: the interrupted upload is visible under its name", flags.name)
		}

		c = dialSFTP(t, addr, "alice", "pw")
		fi, err := c.c.Stat(name)
		if err != nil || fi.Size() != cut {
			t.Fatalf("%s: stat of the partial: %v %v", flags.name, fi, err)
		}
		f, err = c.c.OpenFile(name, flags.flag)
		if err != nil {
			t.Fatalf("%s: reopen: %v", flags.name, err)
		}
		if flags.flag&os.O_APPEND == 0 {
			_, err = f.WriteAt(data[cut:], cut)
		} else {
			_, err = f.Write(data[cut:])
		}
		if err != nil {
			t.Fatalf("%s: write the rest: %v", flags.name, err)
		}
		if _, err := os.Stat(env.Home("alice", name)); err == nil {
			t.Errorf("%s: the resumed upload is visible before close", flags.name)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("%s: close: %v", flags.name, err)
		}
		got, err := os.ReadFile(env.Home("alice", name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: resumed file: %d bytes (want %d), %v", flags.name, len(got), len(data), err)
		}
		c.Close()
	}
}
