package httpd

import (
	"cmp"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/ferrymft/ferry/internal/core"
)

// apiHash answers GET /api/v1/fs/PATH?hash=ALGO with the file's digest.
// Core serves the SHA-256 recorded at upload while the file is unchanged.
func apiHash(w http.ResponseWriter, r *http.Request, sess *core.Session, p, algo string) {
	algo = strings.ToLower(cmp.Or(algo, "sha256"))
	sum, err := sess.Hash(r.Context(), p, algo, 0, -1)
	if err != nil {
		apiFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"path": p, "algorithm": algo, "hash": hex.EncodeToString(sum)})
}
