package adminapi

import "net/http"

// webAdmin serves the browser administration pages under /admin/.
type webAdmin struct{ s *Server }

func newWebAdmin(s *Server) (*webAdmin, error) { return &webAdmin{s: s}, nil }

func (wa *webAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}
