package httpd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/ferrytest"
)

// apiClient adapts the REST API, through net/http, to ferrytest.Client.
type apiClient struct {
	base, user, pw string
}

func (a *apiClient) req(method, p, query string, body io.Reader, hdr ...string) (*http.Response, []byte, error) {
	u := a.base + "/api/v1/fs" + (&url.URL{Path: p}).EscapedPath()
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, nil, err
	}
	req.SetBasicAuth(a.user, a.pw)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode >= 300 {
		err = fmt.Errorf("%s %s: %s: %s", method, p, resp.Status, b)
	}
	return resp, b, err
}

func (a *apiClient) Upload(p string, data []byte) error {
	_, _, err := a.req("PUT", p, "", bytes.NewReader(data))
	return err
}

func (a *apiClient) Download(p string) ([]byte, error) {
	_, b, err := a.req("GET", p, "", nil)
	return b, err
}

func (a *apiClient) DownloadFrom(p string, off int64) ([]byte, error) {
	_, b, err := a.req("GET", p, "", nil, "Range", fmt.Sprintf("bytes=%d-", off))
	return b, err
}

func (a *apiClient) UploadFrom(p string, off int64, data []byte) error {
	_, _, err := a.req("PUT", p, fmt.Sprintf("offset=%d", off), bytes.NewReader(data))
	return err
}

func (a *apiClient) Rename(from, to string) error {
	_, _, err := a.req("POST", from, "action=rename&to="+url.QueryEscape(to), nil)
	return err
}

func (a *apiClient) Remove(p string) error {
	var e apiEntry
	if _, b, err := a.req("GET", p, "stat", nil); err != nil {
		return err
	} else if json.Unmarshal(b, &e); e.Type == "dir" {
		return fmt.Errorf("%s is a directory", p)
	}
	_, _, err := a.req("DELETE", p, "", nil)
	return err
}

func (a *apiClient) Mkdir(p string) error {
	_, _, err := a.req("POST", p, "action=mkdir", nil)
	return err
}

func (a *apiClient) Rmdir(p string) error {
	var e apiEntry
	if _, b, err := a.req("GET", p, "stat", nil); err != nil {
		return err
	} else if json.Unmarshal(b, &e); e.Type != "dir" {
		return fmt.Errorf("%s is not a directory", p)
	}
	_, _, err := a.req("DELETE", p, "", nil)
	return err
}

func (a *apiClient) List(dir string) ([]string, error) {
	_, b, err := a.req("GET", dir, "", nil)
	if err != nil {
		return nil, err
	}
	var l struct{ Entries []apiEntry }
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("listing %q: %w", b, err)
	}
	var names []string
	for _, e := range l.Entries {
		names = append(names, e.Name)
	}
	return names, nil
}

func (a *apiClient) Close() error { return nil }

func (a *apiClient) UploadInterrupted(p string, data []byte) error {
	return interruptedPut(a.base, "/api/v1/fs"+p, a.user, a.pw, data)
}

func TestScenariosAPI(t *testing.T) {
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer {
		base := startServer(t, env)
		return func(t *testing.T, user, pw string) ferrytest.Client {
			return &apiClient{base: base, user: user, pw: pw}
		}
	})
}

// apiErr decodes an error reply and checks its shape.
func apiErr(t *testing.T, what string, resp *http.Response, body string, status int, code string) {
	t.Helper()
	wantStatus(t, what, resp, body, status)
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("%s: error body %q, want code %q", what, body, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
}

func TestAPI(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	fsURL := base + "/api/v1/fs"
	resp, body := do(t, "PUT", fsURL+"/a.txt", "alice", "pw", strings.NewReader("hello"))
	wantStatus(t, "PUT new", resp, body, http.StatusCreated)
	var e apiEntry
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Path != "/a.txt" || e.Size != 5 || e.Type != "file" {
		t.Fatalf("PUT reply %q", body)
	}
	resp, body = do(t, "PUT", fsURL+"/a.txt", "alice", "pw", strings.NewReader("hello!"))
	wantStatus(t, "PUT over", resp, body, http.StatusOK)
	resp, body = do(t, "POST", fsURL+"/sub?action=mkdir", "alice", "pw", nil)
	wantStatus(t, "mkdir", resp, body, http.StatusCreated)
	resp, body = do(t, "POST", fsURL+"/sub?action=mkdir", "alice", "pw", nil)
	apiErr(t, "mkdir again", resp, body, http.StatusConflict, "exists")

	// Multipart upload of two files into /sub.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for _, n := range []string{"x.bin", "y.bin"} {
		w, _ := mw.CreateFormFile("file", n)
		w.Write([]byte("content of " + n))
	}
	mw.Close()
	resp, body = do(t, "POST", fsURL+"/sub", "alice", "pw", &mp, "Content-Type", mw.FormDataContentType())
	wantStatus(t, "multipart POST", resp, body, http.StatusCreated)
	if !strings.Contains(body, `"/sub/y.bin"`) {
		t.Errorf("multipart reply %q", body)
	}
	resp, body = do(t, "GET", fsURL+"/sub/", "alice", "pw", nil)
	wantStatus(t, "list", resp, body, http.StatusOK)
	var l struct {
		Path    string
		Entries []apiEntry
	}
	if err := json.Unmarshal([]byte(body), &l); err != nil || l.Path != "/sub" || len(l.Entries) != 2 {
		t.Fatalf("listing %q (%v)", body, err)
	}
	resp, body = do(t, "GET", fsURL+"/sub/x.bin?stat", "alice", "pw", nil)
	wantStatus(t, "stat", resp, body, http.StatusOK)
	resp, body = do(t, "GET", fsURL+"/sub/x.bin?hash=sha256", "alice", "pw", nil)
	wantStatus(t, "hash", resp, body, http.StatusOK)
	if sum := sha256.Sum256([]byte("content of x.bin")); !strings.Contains(body, `"hash":"`+hex.EncodeToString(sum[:])+`"`) {
		t.Errorf("hash reply %q", body)
	}
	resp, body = do(t, "GET", fsURL+"/sub/x.bin?hash=whirlpool", "alice", "pw", nil)
	apiErr(t, "hash with an unknown algorithm", resp, body, http.StatusBadRequest, "invalid")
	resp, body = do(t, "GET", fsURL+"/sub/x.bin", "alice", "pw", nil, "Range", "bytes=11-")
	if resp.StatusCode != http.StatusPartialContent || body != "x.bin" {
		t.Errorf("range GET: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", fsURL+"/sub/x.bin?action=rename&to=/z.bin", "alice", "pw", nil)
	wantStatus(t, "rename", resp, body, http.StatusOK)
	resp, body = do(t, "DELETE", fsURL+"/sub", "alice", "pw", nil)
	apiErr(t, "delete non-empty folder", resp, body, http.StatusConflict, "not_empty")
	resp, body = do(t, "DELETE", fsURL+"/sub?recursive=true", "alice", "pw", nil)
	wantStatus(t, "delete tree", resp, body, http.StatusNoContent)
	resp, body = do(t, "GET", fsURL+"/sub", "alice", "pw", nil)
	apiErr(t, "deleted", resp, body, http.StatusNotFound, "not_found")
	resp, body = do(t, "PUT", fsURL+"/r.txt", "reader", "pw", strings.NewReader("x"))
	apiErr(t, "reader PUT", resp, body, http.StatusForbidden, "forbidden")
	resp, body = do(t, "GET", fsURL+"/", "alice", "wrong", nil)
	apiErr(t, "wrong password", resp, body, http.StatusUnauthorized, "unauthorized")
	resp, body = do(t, "GET", base+"/api/v1/nothing", "alice", "pw", nil)
	apiErr(t, "unknown endpoint", resp, body, http.StatusNotFound, "not_found")
	mustFile(t, env, "alice", "z.bin", "content of x.bin")
}

func mustFile(t *testing.T, env *ferrytest.Env, user, rel, want string) {
	t.Helper()
	b, err := readHome(env, user, rel)
	if err != nil || string(b) != want {
		t.Fatalf("%s/%s = %q, %v; want %q", user, rel, b, err, want)
	}
}

// TestOpenAPIMatchesRoutes checks the served document against the real
// handler: every documented operation is routed, and every method the
// handler accepts on /fs/ is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	_, base := davEnv(t)
	resp, body := do(t, "GET", base+"/api/v1/openapi.json", "", "", nil)
	wantStatus(t, "openapi.json", resp, body, http.StatusOK)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct{ URL string }
		Paths   map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	prefix := doc.Servers[0].URL
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+p] = true
			concrete := strings.ReplaceAll(p, "{path}", "probe")
			resp, body := do(t, strings.ToUpper(method), base+prefix+concrete, "alice", "pw", nil)
			if resp.StatusCode == http.StatusMethodNotAllowed || strings.Contains(body, "no such API endpoint") {
				t.Errorf("documented %s %s is not served: %d %q", method, p, resp.StatusCode, body)
			}
		}
	}
	for _, m := range []string{"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "PROPFIND"} {
		resp, _ := do(t, m, base+prefix+"/fs/probe", "alice", "pw", nil)
		served := resp.StatusCode != http.StatusMethodNotAllowed
		if served != documented[m+" /fs/{path}"] {
			t.Errorf("%s /fs/{path}: served %v, documented %v", m, served, documented[m+" /fs/{path}"])
		}
	}
}
