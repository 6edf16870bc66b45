package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/ferrymft/ferry/internal/ferry"
)

// maxBody caps a request body.
const maxBody = 1 << 20

// Page sizes of list endpoints.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// handlerFunc is an API handler: it returns an error instead of writing
// one, so errors are mapped in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *principal) error

// route is one API route, kept so the OpenAPI test can compare the
// document with what is served.
type route struct{ method, path string }

// handle registers an authenticated API route needing a.
func (s *Server) handle(method, path string, a access, h handlerFunc) {
	s.routeList = append(s.routeList, route{method, path})
	s.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principalFor(r.Context(), bearer(r))
		if err == nil {
			err = p.require(a)
		}
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			s.writeErr(w, r, err)
		}
	})
}

// handlePublic registers a route that authenticates on its own.
func (s *Server) handlePublic(method, path string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.routeList = append(s.routeList, route{method, path})
	s.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeErr(w, r, err)
		}
	})
}

// readBody reads a JSON object body.
func readBody(r *http.Request) (map[string]json.RawMessage, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errf(http.StatusBadRequest, codeBadRequest, "", "reading the body: %v", err)
	}
	if len(b) > maxBody {
		return nil, errf(http.StatusRequestEntityTooLarge, codeTooLarge, "", "the body is larger than %d bytes", maxBody)
	}
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errf(http.StatusBadRequest, codeBadRequest, "", "the body must be a JSON object")
	}
	return m, nil
}

// take removes key from m and decodes it into v; ok is false when absent.
func take(m map[string]json.RawMessage, key string, v any) (ok bool, err error) {
	raw, ok := m[key]
	if !ok {
		return false, nil
	}
	delete(m, key)
	if err := json.Unmarshal(raw, v); err != nil {
		return true, errf(http.StatusBadRequest, codeInvalid, key, "%s: %s", key, jsonMessage(err))
	}
	return true, nil
}

// decodeInto decodes the remaining fields of m onto v, refusing unknown
// fields; fields of v that m lacks keep their value (so PATCH merges).
func decodeInto(m map[string]json.RawMessage, v any) error {
	b, _ := json.Marshal(m)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errf(http.StatusBadRequest, codeInvalid, te.Field, "%s: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return errf(http.StatusBadRequest, codeInvalid, f, "unknown field %q", f)
		}
		if errors.Is(err, ferry.ErrInvalid) {
			return invalid(fieldOf(err), err)
		}
		return errf(http.StatusBadRequest, codeBadRequest, "", "%s", jsonMessage(err))
	}
	return nil
}

func jsonMessage(err error) string {
	if errors.Is(err, ferry.ErrInvalid) {
		return cleanMessage(err)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// listOptions reads ?limit=&offset=&prefix=.
func listOptions(r *http.Request) (ferry.ListOptions, error) {
	q := r.URL.Query()
	o := ferry.ListOptions{Limit: defaultLimit, Prefix: q.Get("prefix")}
	for _, f := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"limit", &o.Limit, 1, maxLimit}, {"offset", &o.Offset, 0, 1 << 30}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < f.min || n > f.max {
			return o, errf(http.StatusBadRequest, codeInvalid, f.name, "%s %q: accepted values are %d to %d", f.name, v, f.min, f.max)
		}
		*f.dst = n
	}
	return o, nil
}

// page is a list response. NextOffset is set when more items follow.
type page[T any] struct {
	Items      []T  `json:"items"`
	Offset     int  `json:"offset"`
	Limit      int  `json:"limit"`
	NextOffset *int `json:"next_offset,omitempty"`
}

// pageOf cuts items (fetched with one extra to see whether more follow).
func pageOf[T any](items []T, o ferry.ListOptions) page[T] {
	p := page[T]{Items: items, Offset: o.Offset, Limit: o.Limit}
	if len(items) > o.Limit {
		p.Items = items[:o.Limit]
		next := o.Offset + o.Limit
		p.NextOffset = &next
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}

// pageSlice pages an in-memory list.
func pageSlice[T any](items []T, o ferry.ListOptions) page[T] {
	if o.Offset >= len(items) {
		return pageOf([]T{}, o)
	}
	items = items[o.Offset:]
	if len(items) > o.Limit+1 {
		items = items[:o.Limit+1]
	}
	return pageOf(items, o)
}

func etag(version int64) string { return fmt.Sprintf(`"%d"`, version) }

// checkIfMatch fails with 412 when If-Match is given and names another
// version than the stored one.
func checkIfMatch(r *http.Request, version int64) error {
	h := r.Header.Get("If-Match")
	if h == "" || h == "*" {
		return nil
	}
	for _, t := range strings.Split(h, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == etag(version) {
			return nil
		}
	}
	return errf(http.StatusPreconditionFailed, codePrecondition, "version",
		"If-Match %s does not match the stored version %s; read it again and retry", h, etag(version))
}

// writeRecord writes one versioned record with its ETag.
func writeRecord(w http.ResponseWriter, status int, version int64, v any) {
	w.Header().Set("ETag", etag(version))
	writeJSON(w, status, v)
}
