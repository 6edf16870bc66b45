package adminapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestWebServiceEdit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser()
	b.signIn(rootAdmin)
	b.get("/admin/services")
	if st, loc := b.post("/admin/services", url.Values{"name": {"ftp1"}, "protocol": {"ftp"}, "listen": {"127.0.0.1:0"},
		"options": {"banner=hello"}, "enabled": {"on"}}); st != http.StatusSeeOther {
		t.Fatalf("add: %d %s", st, loc)
	}
	if _, body := b.get("/admin/services"); !strings.Contains(body, `href="/admin/services/ftp1"`) {
		t.Fatalf("the list does not link the service: %s", body)
	}
	e.waitState(e.token(rootAdmin), "ftp1", "running") // the manager applies the add on its own schedule
	st, body := b.get("/admin/services/ftp1")
	if st != http.StatusOK || !strings.Contains(body, "banner=hello") || !strings.Contains(body, `id="service-state" class="state-running"`) {
		t.Fatalf("edit page: %d %s", st, body)
	}
	st, body = b.post("/admin/services/ftp1", url.Values{"listen": {"127.0.0.1:0"}, "options": {"banner=bad"}, "enabled": {"on"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="options-err"`) || !strings.Contains(body, "banner=bad") {
		t.Fatalf("bad option: %d %s", st, body)
	}
	st, body = b.post("/admin/services/ftp1", url.Values{"listen": {"nowhere"}, "options": {""}, "enabled": {"on"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="listen-err"`) {
		t.Fatalf("bad listen: %d %s", st, body)
	}
	before, _ := e.st.GetService(ctx, "ftp1")
	if st, loc := b.post("/admin/services/ftp1", url.Values{"listen": {"127.0.0.1:0"}, "options": {"banner=welcome"}, "enabled": {"on"}}); st != http.StatusSeeOther {
		t.Fatalf("save: %d %s", st, loc)
	}
	v, err := e.st.GetService(ctx, "ftp1")
	if err != nil || v.Options["banner"] != "welcome" || !v.Enabled || v.Version != before.Version+1 || v.Kind != before.Kind {
		t.Fatalf("stored %+v %v", v, err)
	}
	if e.pub.find("/services/ftp1", "update") == nil {
		t.Error("no admin_change event")
	}
	// Unchecking Enabled stops it.
	if st, _ := b.post("/admin/services/ftp1", url.Values{"listen": {"127.0.0.1:0"}, "options": {""}}); st != http.StatusSeeOther {
		t.Fatalf("disable: %d", st)
	}
	if v, _ := e.st.GetService(ctx, "ftp1"); v.Enabled || len(v.Options) != 0 {
		t.Errorf("after disabling %+v", v)
	}
	// A user manager may not edit services.
	um := e.browser()
	um.signIn(umAdmin)
	um.get("/admin/services")
	if st, _ := um.post("/admin/services/ftp1", url.Values{"listen": {"127.0.0.1:0"}}); st != http.StatusForbidden {
		t.Errorf("user manager editing a service: %d", st)
	}
}
