package remote

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// davFS is a WebDAV (or plain HTTP GET) client.
type davFS struct {
	hc   *http.Client
	base url.URL // scheme and host
	user string
	pass string
	dav  bool // webdav(s): PROPFIND, PUT, MOVE…; http(s): GET and HEAD only
}

func dialDAV(ctx context.Context, l Location, pass string, o Options) (*davFS, error) {
	scheme := "https"
	if l.Scheme == "webdav" || l.Scheme == "http" {
		scheme = "http"
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12}
	tr.DialContext = (&net.Dialer{Timeout: o.Timeout}).DialContext
	tr.ResponseHeaderTimeout = o.Timeout
	tr.MaxIdleConnsPerHost = 4
	f := &davFS{hc: &http.Client{Transport: tr}, base: url.URL{Scheme: scheme, Host: l.Host},
		user: l.User, pass: pass, dav: strings.HasPrefix(l.Scheme, "webdav")}
	// Check the address and the credentials now, not at the first file.
	req, err := f.req(ctx, http.MethodOptions, l.Path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("login as %s: %w", cmpStr(l.User, "(none)"), ErrAuth)
	}
	return f, nil
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (f *davFS) url(p string) string {
	u := f.base
	u.Path = p
	return u.String()
}

func (f *davFS) req(ctx context.Context, method, p string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, f.url(p), body)
	if err != nil {
		return nil, err
	}
	if f.user != "" {
		req.SetBasicAuth(f.user, f.pass)
	}
	req.Header.Set("User-Agent", "ferry")
	return req, nil
}

// httpErr maps a status to the package's error kinds.
func httpErr(op, p string, resp *http.Response) error {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	var kind error
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone, http.StatusConflict:
		kind = fs.ErrNotExist
	case http.StatusUnauthorized:
		kind = ErrAuth
	case http.StatusForbidden:
		kind = fs.ErrPermission
	case http.StatusInsufficientStorage, http.StatusRequestEntityTooLarge:
		kind = ErrNoSpace
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		kind = errors.ErrUnsupported
	default:
		return fmt.Errorf("%s %s: %s", op, p, resp.Status)
	}
	return fmt.Errorf("%s %s: %w (%s)", op, p, kind, resp.Status)
}

type msResponse struct {
	Href     string `xml:"href"`
	Propstat []struct {
		Status string `xml:"status"`
		Prop   struct {
			Length   string `xml:"getcontentlength"`
			Modified string `xml:"getlastmodified"`
			Type     struct {
				Collection *struct{} `xml:"collection"`
			} `xml:"resourcetype"`
		} `xml:"prop"`
	} `xml:"propstat"`
}

const propfindBody = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>` +
	`<D:resourcetype/><D:getcontentlength/><D:getlastmodified/></D:prop></D:propfind>`

func (f *davFS) propfind(ctx context.Context, p, depth string) ([]msResponse, error) {
	req, err := f.req(ctx, "PROPFIND", p, strings.NewReader(propfindBody))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Depth", depth)
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		return nil, httpErr("propfind", p, resp)
	}
	var ms struct {
		Responses []msResponse `xml:"response"`
	}
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&ms); err != nil {
		return nil, fmt.Errorf("propfind %s: %w", p, err)
	}
	return ms.Responses, nil
}

func (r msResponse) entry() (Entry, string) {
	href := r.Href
	if u, err := url.Parse(href); err == nil {
		href = u.Path
	}
	e := Entry{Name: path.Base(href)}
	for _, ps := range r.Propstat {
		if !strings.Contains(ps.Status, " 200") {
			continue
		}
		if ps.Prop.Type.Collection != nil {
			e.Dir = true
		}
		if ps.Prop.Length != "" {
			e.Size, _ = strconv.ParseInt(ps.Prop.Length, 10, 64)
		}
		if ps.Prop.Modified != "" {
			e.ModTime, _ = http.ParseTime(ps.Prop.Modified)
		}
	}
	return e, path.Clean(href)
}

func (f *davFS) Stat(ctx context.Context, p string) (Entry, error) {
	if !f.dav {
		return f.head(ctx, p)
	}
	rs, err := f.propfind(ctx, p, "0")
	if err != nil {
		return Entry{}, err
	}
	if len(rs) == 0 {
		return Entry{}, fmt.Errorf("stat %s: empty multistatus", p)
	}
	e, _ := rs[0].entry()
	e.Name = path.Base(p)
	return e, nil
}

func (f *davFS) head(ctx context.Context, p string) (Entry, error) {
	req, err := f.req(ctx, http.MethodHead, p, nil)
	if err != nil {
		return Entry{}, err
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return Entry{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Entry{}, httpErr("stat", p, resp)
	}
	e := Entry{Name: path.Base(p), Size: resp.ContentLength}
	e.ModTime, _ = http.ParseTime(resp.Header.Get("Last-Modified"))
	return e, nil
}

func (f *davFS) List(ctx context.Context, dir string) ([]Entry, error) {
	if !f.dav {
		return nil, fmt.Errorf("list %s: %w (plain HTTP has no listing; use webdav://)", dir, errors.ErrUnsupported)
	}
	rs, err := f.propfind(ctx, dir, "1")
	if err != nil {
		return nil, err
	}
	self := path.Clean(dir)
	out := make([]Entry, 0, len(rs))
	for _, r := range rs {
		e, href := r.entry()
		if href == self || e.Name == "/" || e.Name == "." {
			continue
		}
		if un, err := url.PathUnescape(e.Name); err == nil {
			e.Name = un
		}
		out = append(out, e)
	}
	return out, nil
}

func (f *davFS) Open(ctx context.Context, p string, off int64) (io.ReadCloser, error) {
	req, err := f.req(ctx, http.MethodGet, p, nil)
	if err != nil {
		return nil, err
	}
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		return resp.Body, nil
	case resp.StatusCode == http.StatusOK:
		if off > 0 { // no range support: skip what we have
			if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
				resp.Body.Close()
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
		}
		return resp.Body, nil
	}
	defer resp.Body.Close()
	return nil, httpErr("read", p, resp)
}

// davWriter streams a PUT body through a pipe.
type davWriter struct {
	pw   *io.PipeWriter
	done chan error
	p    string
}

func (w *davWriter) Write(b []byte) (int, error) { return w.pw.Write(b) }

func (w *davWriter) Close() error {
	w.pw.Close()
	return <-w.done
}

func (w *davWriter) Abort() error {
	w.pw.CloseWithError(errors.New("upload aborted"))
	<-w.done
	return nil
}

func (f *davFS) Create(ctx context.Context, p string, off int64) (Writer, error) {
	if !f.dav {
		return nil, fmt.Errorf("write %s: %w (plain HTTP is a read-only source; use webdav://)", p, errors.ErrUnsupported)
	}
	if off > 0 {
		return nil, fmt.Errorf("write %s at %d: %w", p, off, errors.ErrUnsupported)
	}
	pr, pw := io.Pipe()
	req, err := f.req(ctx, http.MethodPut, p, pr)
	if err != nil {
		return nil, err
	}
	w := &davWriter{pw: pw, done: make(chan error, 1), p: p}
	go func() {
		resp, err := f.hc.Do(req)
		if err != nil {
			pr.CloseWithError(err)
			w.done <- fmt.Errorf("write %s: %w", p, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			err := httpErr("write", p, resp)
			pr.CloseWithError(err)
			w.done <- err
			return
		}
		w.done <- nil
	}()
	return w, nil
}

func (f *davFS) simple(ctx context.Context, method, p string, hdr map[string]string, ok ...int) error {
	req, err := f.req(ctx, method, p, nil)
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	for _, c := range ok {
		if resp.StatusCode == c {
			return nil
		}
	}
	if method == "MKCOL" && resp.StatusCode == http.StatusMethodNotAllowed {
		return fmt.Errorf("mkdir %s: %w", p, fs.ErrExist)
	}
	return httpErr(strings.ToLower(method), p, resp)
}

func (f *davFS) Rename(ctx context.Context, from, to string) error {
	return f.simple(ctx, "MOVE", from, map[string]string{"Destination": f.url(to), "Overwrite": "T"}, 201, 204)
}

func (f *davFS) Remove(ctx context.Context, p string) error {
	return f.simple(ctx, http.MethodDelete, p, nil, 200, 204)
}

func (f *davFS) Rmdir(ctx context.Context, p string) error {
	return f.simple(ctx, http.MethodDelete, strings.TrimSuffix(p, "/")+"/", nil, 200, 204)
}

func (f *davFS) Mkdir(ctx context.Context, p string) error {
	return f.simple(ctx, "MKCOL", p, nil, 201)
}

func (f *davFS) Close() error {
	f.hc.CloseIdleConnections()
	return nil
}

// Hash asks for an RFC 3230 digest (Want-Digest) on a HEAD; servers that
// give none make it unsupported.
func (f *davFS) Hash(ctx context.Context, p, algo string) ([]byte, error) {
	name := map[string]string{"sha256": "SHA-256", "sha1": "SHA", "md5": "MD5"}[algo]
	if name == "" {
		return nil, fmt.Errorf("hash %s: %w", algo, errors.ErrUnsupported)
	}
	req, err := f.req(ctx, http.MethodHead, p, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Want-Digest", name)
	req.Header.Set("Want-Repr-Digest", strings.ToLower(name)+"=1")
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, httpErr("hash", p, resp)
	}
	for _, v := range strings.Split(resp.Header.Get("Digest"), ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(v), "=")
		if strings.EqualFold(k, name) {
			if sum, err := base64.StdEncoding.DecodeString(val); err == nil {
				return sum, nil
			}
		}
	}
	for _, v := range strings.Split(resp.Header.Get("Repr-Digest"), ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(v), "=")
		if strings.EqualFold(k, strings.ToLower(name)) {
			if sum, err := base64.StdEncoding.DecodeString(strings.Trim(val, ":")); err == nil {
				return sum, nil
			}
		}
	}
	return nil, fmt.Errorf("hash %s: %w (no digest header)", p, errors.ErrUnsupported)
}
