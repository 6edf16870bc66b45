package adminapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestUserCertPins: tls_cert_pins are normalized to lowercase hex and
// checked.
func TestUserCertPins(t *testing.T) {
	e := newEnv(t)
	tok := e.token(rootAdmin)
	colons := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	e.want(e.do("POST", "/api/v1/users", tok, map[string]any{
		"name": "carol", "password": "s3cret", "tls_cert_pins": []string{"sha256:" + colons},
	}), http.StatusCreated)
	u, err := e.st.GetUser(context.Background(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{strings.Repeat("ab", 32)}; !slices.Equal(u.TLSCertPins, want) {
		t.Errorf("stored pins %q, want %q", u.TLSCertPins, want)
	}
	e.wantErr(e.do("POST", "/api/v1/users", tok, map[string]any{"name": "dave", "tls_cert_pins": []string{"abc"}}),
		http.StatusBadRequest, "invalid", "tls_cert_pins[0]")
}
