package core_test

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"testing"

	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// coreClient drives a Session directly: the scenario suite's reference
// client, proving the suite itself against the core.
type coreClient struct {
	s   *core.Session
	ctx context.Context
}

func dialCore(env *ferrytest.Env) ferrytest.Dialer {
	return func(t *testing.T, user, pw string) ferrytest.Client {
		t.Helper()
		s, err := env.Engine.Login(context.Background(), core.LoginRequest{Protocol: ferry.FTP, User: user, Password: pw,
			Remote: netip.MustParseAddrPort("127.0.0.1:40000")})
		if err != nil {
			t.Fatalf("login %s: %v", user, err)
		}
		return &coreClient{s: s, ctx: context.Background()}
	}
}

func (c *coreClient) Upload(p string, data []byte) error { return c.UploadFrom(p, 0, data) }

func (c *coreClient) UploadFrom(p string, off int64, data []byte) error {
	up, err := c.s.OpenWrite(c.ctx, p, core.WriteOptions{Offset: off})
	if err != nil {
		return err
	}
	if _, err := up.ReadFrom(bytes.NewReader(data)); err != nil {
		up.Abort(err)
		return err
	}
	return up.Commit()
}

func (c *coreClient) UploadInterrupted(p string, data []byte) error {
	up, err := c.s.OpenWrite(c.ctx, p, core.WriteOptions{})
	if err != nil {
		return err
	}
	if _, err := up.Write(data); err != nil {
		return err
	}
	return up.Abort(io.ErrUnexpectedEOF)
}

func (c *coreClient) Download(p string) ([]byte, error) { return c.DownloadFrom(p, 0) }

func (c *coreClient) DownloadFrom(p string, off int64) ([]byte, error) {
	dl, err := c.s.OpenRead(c.ctx, p, off)
	if err != nil {
		return nil, err
	}
	defer dl.Close()
	var buf bytes.Buffer
	_, err = dl.WriteTo(&buf)
	return buf.Bytes(), err
}

func (c *coreClient) Rename(from, to string) error { return c.s.Rename(c.ctx, from, to) }
func (c *coreClient) Remove(p string) error        { return c.s.Remove(c.ctx, p) }
func (c *coreClient) Mkdir(p string) error         { return c.s.Mkdir(c.ctx, p) }
func (c *coreClient) Rmdir(p string) error         { return c.s.Rmdir(c.ctx, p) }
func (c *coreClient) Close() error                 { return c.s.Close() }

func (c *coreClient) List(p string) ([]string, error) {
	var names []string
	for fi, err := range c.s.List(c.ctx, p) {
		if err != nil {
			return nil, err
		}
		names = append(names, fi.Name())
	}
	return names, nil
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer { return dialCore(env) })
}
