package httpd

import (
	"net/http"
	"testing"
)

// TestDownloadFaces: GET and HEAD of a file through /dav/ and
// /api/v1/fs/ answer the same validators, ranges and preconditions,
// whether the file is opened at once (plain GET) or looked up first
// (HEAD and conditional requests).
func TestDownloadFaces(t *testing.T) {
	t.Parallel()
	env, base := davEnv(t)
	env.WriteFile(t, "alice", "d/r.bin", []byte("0123456789"))
	for _, prefix := range []string{"/dav", "/api/v1/fs"} {
		u := base + prefix + "/d/r.bin"
		resp, body := do(t, "GET", u, "alice", "pw", nil)
		wantStatus(t, prefix+" GET", resp, body, http.StatusOK)
		tag, mod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if body != "0123456789" || tag == "" || mod == "" || resp.Header.Get("Accept-Ranges") != "bytes" ||
			resp.Header.Get("Content-Length") != "10" {
			t.Fatalf("%s GET: %q, headers %v", prefix, body, resp.Header)
		}
		head, _ := do(t, "HEAD", u, "alice", "pw", nil)
		if head.StatusCode != http.StatusOK || head.Header.Get("ETag") != tag || head.Header.Get("Last-Modified") != mod ||
			head.Header.Get("Content-Length") != "10" {
			t.Errorf("%s HEAD: %s, headers %v; GET said ETag %s", prefix, head.Status, head.Header, tag)
		}
		for _, tt := range []struct {
			name       string
			hdr        []string
			status     int
			want, crng string
		}{
			{"range", []string{"Range", "bytes=2-4"}, http.StatusPartialContent, "234", "bytes 2-4/10"},
			{"open range", []string{"Range", "bytes=7-"}, http.StatusPartialContent, "789", "bytes 7-9/10"},
			{"suffix", []string{"Range", "bytes=-2"}, http.StatusPartialContent, "89", "bytes 8-9/10"},
			{"unsatisfiable", []string{"Range", "bytes=20-"}, http.StatusRequestedRangeNotSatisfiable, "", "bytes */10"},
			{"If-Range other tag", []string{"Range", "bytes=2-4", "If-Range", `"other"`}, http.StatusOK, "0123456789", ""},
			{"If-Range same tag", []string{"Range", "bytes=2-4", "If-Range", tag}, http.StatusPartialContent, "234", "bytes 2-4/10"},
			{"If-None-Match", []string{"If-None-Match", tag}, http.StatusNotModified, "", ""},
			{"If-None-Match other", []string{"If-None-Match", `"x"`, "Range", "bytes=1-1"}, http.StatusPartialContent, "1", "bytes 1-1/10"},
			{"If-Modified-Since", []string{"If-Modified-Since", mod}, http.StatusNotModified, "", ""},
			{"If-Match other", []string{"If-Match", `"x"`}, http.StatusPreconditionFailed, "", ""},
		} {
			resp, body := do(t, "GET", u, "alice", "pw", nil, tt.hdr...)
			if resp.StatusCode != tt.status || (tt.want != "" && body != tt.want) || resp.Header.Get("Content-Range") != tt.crng {
				t.Errorf("%s %s: %d %q Content-Range %q, want %d %q %q", prefix, tt.name, resp.StatusCode, body,
					resp.Header.Get("Content-Range"), tt.status, tt.want, tt.crng)
			}
		}
		resp, body = do(t, "GET", base+prefix+"/nope.bin", "alice", "pw", nil)
		wantStatus(t, prefix+" GET of a missing file", resp, body, http.StatusNotFound)
	}
	resp, body := do(t, "GET", base+"/dav/d", "alice", "pw", nil)
	wantStatus(t, "GET of a WebDAV collection", resp, body, http.StatusMethodNotAllowed)
	resp, body = do(t, "GET", base+"/dav/d/r.bin", "reader", "pw", nil)
	wantStatus(t, "another user's path", resp, body, http.StatusNotFound)
}
