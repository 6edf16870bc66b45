package httpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/studio-b12/gowebdav"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
)

// startServer runs a Server with all three faces on env's engine and
// returns its base URL.
func startServer(t *testing.T, env *ferrytest.Env, mods ...func(*Options)) string {
	t.Helper()
	opts := Options{Engine: env.Engine, Logger: ferrytest.Logger(t), Service: "http-test", DAV: true, API: true, Web: true}
	for _, m := range mods {
		m(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln := ferrytest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// davClient adapts gowebdav to ferrytest.Client.
type davClient struct {
	c              *gowebdav.Client
	base, user, pw string
}

func newDavClient(t *testing.T, base, user, pw string) *davClient {
	c := gowebdav.NewClient(base+"/dav/", user, pw)
	return &davClient{c: c, base: base, user: user, pw: pw}
}

func (d *davClient) Upload(p string, data []byte) error {
	return d.c.WriteStreamWithLength(p, bytes.NewReader(data), int64(len(data)), 0o644)
}

func (d *davClient) Download(p string) ([]byte, error) { return d.c.Read(p) }

func (d *davClient) DownloadFrom(p string, off int64) ([]byte, error) {
	rc, err := d.c.ReadStreamRange(p, off, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// UploadFrom resumes with a PUT carrying Content-Range (gowebdav has no
// call for it).
func (d *davClient) UploadFrom(p string, off int64, data []byte) error {
	req, err := http.NewRequest(http.MethodPut, d.base+"/dav"+p, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.SetBasicAuth(d.user, d.pw)
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/*", off, off+int64(len(data))-1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("PUT with Content-Range: %s", resp.Status)
	}
	return nil
}

func (d *davClient) Rename(from, to string) error { return d.c.Rename(from, to, false) }

// Remove deletes a file; WebDAV DELETE is recursive, so a folder is
// refused here as a file protocol would.
func (d *davClient) Remove(p string) error {
	fi, err := d.c.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	return d.c.Remove(p)
}

func (d *davClient) Mkdir(p string) error { return d.c.Mkdir(p, 0o755) }

// Rmdir removes an empty folder (WebDAV has no rmdir: DELETE after a
// listing shows it empty).
func (d *davClient) Rmdir(p string) error {
	names, err := d.List(p)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return errors.New("directory not empty")
	}
	return d.c.Remove(p)
}

func (d *davClient) List(dir string) ([]string, error) {
	fis, err := d.c.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, fi := range fis {
		names = append(names, fi.Name())
	}
	return names, nil
}

func (d *davClient) Close() error { return nil }

// UploadInterrupted sends a PUT announcing twice the bytes it sends and
// drops the connection.
func (d *davClient) UploadInterrupted(p string, data []byte) error {
	return interruptedPut(d.base, "/dav"+p, d.user, d.pw, data)
}

func interruptedPut(base, urlPath, user, pw string, data []byte) error {
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPut, base+urlPath, nil)
	req.SetBasicAuth(user, pw)
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n",
		urlPath, req.Host, req.Header.Get("Authorization"), 2*len(data))
	if _, err := conn.Write(data); err != nil {
		return err
	}
	// Let the server read what was sent before the connection goes.
	conn.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, conn)
	return conn.Close()
}

func TestScenariosWebDAV(t *testing.T) {
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer {
		base := startServer(t, env)
		return func(t *testing.T, user, pw string) ferrytest.Client {
			c := newDavClient(t, base, user, pw)
			if err := c.c.Connect(); err != nil {
				t.Fatalf("connect: %v", err)
			}
			return c
		}
	})
}

// do sends a request with Basic auth and returns the status and body.
func do(t *testing.T, method, url, user, pw string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func wantStatus(t *testing.T, what string, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d; body %q", what, resp.StatusCode, want, body)
	}
}

func davEnv(t *testing.T) (*ferrytest.Env, string) {
	env := ferrytest.NewEngine(t,
		ferrytest.User("alice", "pw"),
		ferrytest.User("bob", "pw"),
		ferrytest.User("reader", "pw", ferrytest.Perm("/=list,download")))
	return env, startServer(t, env)
}

func TestDAVPutMkcolStatuses(t *testing.T) {
	t.Parallel()
	_, base := davEnv(t)
	u := base + "/dav/f.txt"
	resp, body := do(t, "PUT", u, "alice", "pw", strings.NewReader("one"))
	wantStatus(t, "PUT new", resp, body, http.StatusCreated)
	tag := resp.Header.Get("ETag")
	resp, body = do(t, "GET", u, "alice", "pw", nil)
	wantStatus(t, "GET", resp, body, http.StatusOK)
	if resp.Header.Get("ETag") != tag || tag == "" {
		t.Errorf("ETag after PUT %q, on GET %q", tag, resp.Header.Get("ETag"))
	}
	if resp.Header.Get("Last-Modified") == "" {
		t.Error("GET without Last-Modified")
	}
	resp, body = do(t, "PUT", u, "alice", "pw", strings.NewReader("two"))
	wantStatus(t, "PUT over existing", resp, body, http.StatusNoContent)
	resp, body = do(t, "GET", u, "alice", "pw", nil, "If-None-Match", resp.Header.Get("ETag"))
	wantStatus(t, "conditional GET", resp, body, http.StatusNotModified)
	resp, body = do(t, "MKCOL", base+"/dav/d", "alice", "pw", nil)
	wantStatus(t, "MKCOL", resp, body, http.StatusCreated)
	resp, body = do(t, "MKCOL", base+"/dav/d", "alice", "pw", nil)
	wantStatus(t, "MKCOL existing", resp, body, http.StatusMethodNotAllowed)
	resp, body = do(t, "MKCOL", base+"/dav/x/y", "alice", "pw", nil)
	wantStatus(t, "MKCOL without parent", resp, body, http.StatusConflict)
	resp, body = do(t, "PUT", base+"/dav/none/f", "alice", "pw", strings.NewReader("x"))
	wantStatus(t, "PUT without parent", resp, body, http.StatusConflict)
}

func TestDAVRange(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	env.WriteFile(t, "alice", "r.bin", []byte("0123456789"))
	for _, tt := range []struct {
		rng, want string
		status    int
	}{
		{"bytes=2-4", "234", http.StatusPartialContent},
		{"bytes=7-", "789", http.StatusPartialContent},
		{"bytes=-2", "89", http.StatusPartialContent},
		{"bytes=20-", "", http.StatusRequestedRangeNotSatisfiable},
		{"bytes=0-1,4-5", "0123456789", http.StatusOK},
	} {
		resp, body := do(t, "GET", base+"/dav/r.bin", "alice", "pw", nil, "Range", tt.rng)
		if resp.StatusCode != tt.status || (tt.want != "" && body != tt.want) {
			t.Errorf("Range %s: %d %q, want %d %q", tt.rng, resp.StatusCode, body, tt.status, tt.want)
		}
	}
}

func TestDAVPropfindDepth(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	env.WriteFile(t, "alice", "a/b.txt", []byte("b"))
	resp, body := do(t, "PROPFIND", base+"/dav/", "alice", "pw", nil, "Depth", "infinity")
	wantStatus(t, "PROPFIND infinity", resp, body, http.StatusForbidden)
	if !strings.Contains(body, "propfind-finite-depth") {
		t.Errorf("PROPFIND infinity body lacks the precondition: %q", body)
	}
	resp, body = do(t, "PROPFIND", base+"/dav/", "alice", "pw", nil)
	wantStatus(t, "PROPFIND without Depth", resp, body, http.StatusForbidden)
	resp, body = do(t, "PROPFIND", base+"/dav/", "alice", "pw", nil, "Depth", "1")
	wantStatus(t, "PROPFIND 1", resp, body, http.StatusMultiStatus)
	if !strings.Contains(body, "/dav/a/") {
		t.Errorf("PROPFIND 1 does not list a/: %q", body)
	}
	// Allowed by option.
	base2 := startServer(t, env, func(o *Options) { o.PropfindInfinity = true })
	resp, body = do(t, "PROPFIND", base2+"/dav/", "alice", "pw", nil, "Depth", "infinity")
	wantStatus(t, "PROPFIND infinity allowed", resp, body, http.StatusMultiStatus)
	if !strings.Contains(body, "/dav/a/b.txt") {
		t.Errorf("PROPFIND infinity does not reach a/b.txt: %q", body)
	}
}

func TestDAVDeadProperties(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	dir := t.TempDir()
	base := startServer(t, env, func(o *Options) { o.PropsDir = dir })
	env.WriteFile(t, "alice", "p.txt", []byte("p"))
	patch := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:ferry-test">` +
		`<D:set><D:prop><Z:color>blue</Z:color></D:prop></D:set></D:propertyupdate>`
	resp, body := do(t, "PROPPATCH", base+"/dav/p.txt", "alice", "pw", strings.NewReader(patch))
	wantStatus(t, "PROPPATCH", resp, body, http.StatusMultiStatus)
	if !strings.Contains(body, "200 OK") {
		t.Fatalf("PROPPATCH not applied: %q", body)
	}
	find := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><color xmlns="urn:ferry-test"/></D:prop></D:propfind>`
	resp, body = do(t, "PROPFIND", base+"/dav/p.txt", "alice", "pw", strings.NewReader(find), "Depth", "0")
	wantStatus(t, "PROPFIND", resp, body, http.StatusMultiStatus)
	if !strings.Contains(body, "blue") {
		t.Fatalf("dead property not returned: %q", body)
	}
	// It follows a MOVE, and survives a restart of the service.
	resp, body = do(t, "MOVE", base+"/dav/p.txt", "alice", "pw", nil, "Destination", base+"/dav/q.txt")
	wantStatus(t, "MOVE", resp, body, http.StatusCreated)
	base3 := startServer(t, env, func(o *Options) { o.PropsDir = dir })
	resp, body = do(t, "PROPFIND", base3+"/dav/q.txt", "alice", "pw", strings.NewReader(find), "Depth", "0")
	if !strings.Contains(body, "blue") {
		t.Fatalf("dead property lost across MOVE and restart: %d %q", resp.StatusCode, body)
	}
}

const lockBody = `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:%s/></D:lockscope>` +
	`<D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:%s@example.com</D:href></D:owner></D:lockinfo>`

func lock(t *testing.T, url, user, scope string, hdr ...string) (*http.Response, string) {
	t.Helper()
	return do(t, "LOCK", url, user, "pw", strings.NewReader(fmt.Sprintf(lockBody, scope, user)), append([]string{"Timeout", "Second-600"}, hdr...)...)
}

func TestDAVLocks(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	env.WriteFile(t, "alice", "l.txt", []byte("locked"))
	u := base + "/dav/l.txt"
	resp, body := lock(t, u, "alice", "exclusive")
	wantStatus(t, "LOCK", resp, body, http.StatusOK)
	token := resp.Header.Get("Lock-Token")
	if token == "" || !strings.Contains(body, "mailto:alice@example.com") || !strings.Contains(body, "Second-600") {
		t.Fatalf("LOCK reply: token %q, body %q", token, body)
	}
	resp, body = do(t, "PUT", u, "alice", "pw", strings.NewReader("x"))
	wantStatus(t, "PUT without the token", resp, body, http.StatusLocked)
	resp, body = lock(t, u, "alice", "shared")
	wantStatus(t, "shared LOCK over exclusive", resp, body, http.StatusLocked)
	resp, body = do(t, "PUT", u, "alice", "pw", strings.NewReader("x"), "If", "("+token+")")
	wantStatus(t, "PUT with the token", resp, body, http.StatusNoContent)
	resp, body = do(t, "PROPFIND", u, "alice", "pw", strings.NewReader(
		`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`), "Depth", "0")
	if !strings.Contains(body, strings.Trim(token, "<>")) || !strings.Contains(body, "mailto:alice@example.com") {
		t.Errorf("lockdiscovery does not show the lock and its owner: %q", body)
	}
	resp, body = do(t, "LOCK", u, "alice", "pw", nil, "If", "("+token+")", "Timeout", "Second-100")
	wantStatus(t, "refresh", resp, body, http.StatusOK)
	if !strings.Contains(body, "Second-100") {
		t.Errorf("refresh did not take the new timeout: %q", body)
	}
	resp, body = do(t, "UNLOCK", u, "alice", "pw", nil, "Lock-Token", token)
	wantStatus(t, "UNLOCK", resp, body, http.StatusNoContent)
	resp, body = do(t, "UNLOCK", u, "alice", "pw", nil, "Lock-Token", token)
	wantStatus(t, "UNLOCK again", resp, body, http.StatusConflict)

	// Two shared locks coexist; an exclusive one does not join them.
	resp, body = lock(t, u, "alice", "shared")
	wantStatus(t, "shared LOCK", resp, body, http.StatusOK)
	resp, body = lock(t, u, "alice", "shared")
	wantStatus(t, "second shared LOCK", resp, body, http.StatusOK)
	resp, body = lock(t, u, "alice", "exclusive")
	wantStatus(t, "exclusive LOCK over shared", resp, body, http.StatusLocked)

	// Locking an unmapped URL creates an empty file; depth-infinity locks
	// cover a folder's members.
	resp, body = lock(t, base+"/dav/new.txt", "alice", "exclusive")
	wantStatus(t, "LOCK unmapped", resp, body, http.StatusCreated)
	do(t, "MKCOL", base+"/dav/c", "alice", "pw", nil)
	resp, body = lock(t, base+"/dav/c/", "alice", "exclusive")
	wantStatus(t, "LOCK folder", resp, body, http.StatusOK)
	ctoken := resp.Header.Get("Lock-Token")
	resp, body = do(t, "PUT", base+"/dav/c/m.txt", "alice", "pw", strings.NewReader("m"))
	wantStatus(t, "PUT into a locked folder", resp, body, http.StatusLocked)
	resp, body = do(t, "PUT", base+"/dav/c/m.txt", "alice", "pw", strings.NewReader("m"), "If", "("+ctoken+")")
	wantStatus(t, "PUT into a locked folder with its token", resp, body, http.StatusCreated)
	resp, body = do(t, "PUT", base+"/dav/c/m.txt", "alice", "pw", strings.NewReader("m"), "If", "(<urn:uuid:bogus>)")
	wantStatus(t, "PUT with a wrong token", resp, body, http.StatusPreconditionFailed)
}

// clock is a settable time source for lock timeouts.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(secs int) {
	c.mu.Lock()
	c.t = c.t.Add(time.Duration(secs) * time.Second)
	c.mu.Unlock()
}

func TestDAVLockTimeoutExpires(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "pw"))
	now := newClock()
	base := startServer(t, env, func(o *Options) { o.Now = now.Now })
	env.WriteFile(t, "alice", "t.txt", []byte("t"))
	resp, body := lock(t, base+"/dav/t.txt", "alice", "exclusive")
	wantStatus(t, "LOCK", resp, body, http.StatusOK)
	now.Advance(601)
	resp, body = do(t, "PUT", base+"/dav/t.txt", "alice", "pw", strings.NewReader("x"))
	wantStatus(t, "PUT after the lock expired", resp, body, http.StatusNoContent)
}

func TestDAVPermissionsAndAuth(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	env.WriteFile(t, "reader", "r.txt", []byte("r"))
	resp, body := do(t, "PUT", base+"/dav/new.txt", "reader", "pw", strings.NewReader("x"))
	wantStatus(t, "reader PUT", resp, body, http.StatusForbidden)
	resp, body = do(t, "DELETE", base+"/dav/r.txt", "reader", "pw", nil)
	wantStatus(t, "reader DELETE", resp, body, http.StatusForbidden)
	resp, body = do(t, "MKCOL", base+"/dav/d", "reader", "pw", nil)
	wantStatus(t, "reader MKCOL", resp, body, http.StatusForbidden)
	for _, c := range [][2]string{{"alice", "wrong"}, {"nobody", "pw"}, {"", ""}} {
		resp, body = do(t, "PROPFIND", base+"/dav/", c[0], c[1], nil, "Depth", "0")
		wantStatus(t, "bad credentials "+c[0], resp, body, http.StatusUnauthorized)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
		}
	}
	failed := env.Events.Count(2, func(ev ferry.Event) bool {
		return ev.Type == "login_failed" || strings.Contains(string(ev.Type), "fail")
	})
	if failed < 2 {
		t.Errorf("core saw %d failed logins, want every one (2 with credentials)", failed)
	}
}

func TestTraversalRefused(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	env.WriteFile(t, "bob", "secret.txt", []byte("bob's secret"))
	for _, p := range []string{"/dav/../bob/secret.txt", "/dav/%2e%2e/bob/secret.txt", "/dav/%252e%252e/bob/secret.txt",
		"/dav/..%2fbob/secret.txt", "/api/v1/fs/%2e%2e/bob/secret.txt", "/api/v1/fs/..%2f..%2fbob/secret.txt",
		"/api/v1/fs/%252e%252e/bob/secret.txt", "/api/v1/fs/..%252f..%252fbob/secret.txt", "/dav/%2E%2E%2Fbob/secret.txt"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.SetBasicAuth("alice", "pw")
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nConnection: close\r\n\r\n", p, req.Header.Get("Authorization"))
		b, _ := io.ReadAll(conn)
		conn.Close()
		if strings.Contains(string(b), "bob's secret") {
			t.Errorf("GET %s escaped the home: %q", p, b)
		}
	}
}

func TestAuthCacheHonoursPasswordChange(t *testing.T) {
	t.Parallel()
	env := ferrytest.NewEngine(t, ferrytest.User("alice", "old"))
	now := newClock()
	base := startServer(t, env, func(o *Options) { o.Now = now.Now; o.AuthCacheTTL = 30 * time.Second })
	resp, body := do(t, "PROPFIND", base+"/dav/", "alice", "old", nil, "Depth", "0")
	wantStatus(t, "old password", resp, body, http.StatusMultiStatus)
	env.AddUser(t, ferrytest.User("alice", "new"))
	now.Advance(31)
	resp, body = do(t, "PROPFIND", base+"/dav/", "alice", "old", nil, "Depth", "0")
	wantStatus(t, "old password after a change and the cache TTL", resp, body, http.StatusUnauthorized)
	resp, body = do(t, "PROPFIND", base+"/dav/", "alice", "new", nil, "Depth", "0")
	wantStatus(t, "new password", resp, body, http.StatusMultiStatus)
}
