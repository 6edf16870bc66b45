package adminapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

func TestWebLocations(t *testing.T) {
	e := newEnv(t)
	withTransfers(t, e)
	ctx := context.Background()
	b := e.browser()
	b.signIn(rootAdmin)
	if st, body := b.get("/admin/locations"); st != http.StatusOK || !strings.Contains(body, `id="location-form"`) || !strings.Contains(body, `href="/admin/transfers"`) {
		t.Fatalf("locations page: %d %s", st, body)
	}
	st, body := b.post("/admin/locations", url.Values{"name": {"bank"}, "url": {"ftp://u:pw@h/"}, "password": {"pw-secret"}})
	if st != http.StatusBadRequest || !strings.Contains(body, `id="url-err"`) || strings.Contains(body, "pw-secret") {
		t.Fatalf("bad url: %d %s", st, body)
	}
	st, loc := b.post("/admin/locations", url.Values{"name": {"bank"}, "url": {"sftp://acme@bank.example/out"}, "password": {"pw-1"},
		"description": {"the bank"}, "insecure": {"on"}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/locations") {
		t.Fatalf("add: %d %s", st, loc)
	}
	l, err := e.st.GetLocation(ctx, "bank")
	if err != nil || l.Password != ferry.SealedPrefix+"bank/password/pw-1" || l.Auth != ferry.AuthPassword || !l.Insecure {
		t.Fatalf("stored %+v %v", l, err)
	}
	_, body = b.get("/admin/locations/bank")
	if strings.Contains(body, "pw-1") || strings.Contains(body, ferry.SealedPrefix) || !strings.Contains(body, "set; empty keeps it") {
		t.Errorf("edit page: %s", body)
	}
	// An edit without a password keeps it.
	if st, loc := b.post("/admin/locations/bank", url.Values{"url": {"sftp://acme@bank.example/in"}, "description": {"moved"}}); st != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", st, loc)
	}
	l2, _ := e.st.GetLocation(ctx, "bank")
	if l2.URL != "sftp://acme@bank.example/in" || l2.Password != l.Password || l2.Insecure {
		t.Errorf("after edit %+v", l2)
	}
	if e.pub.find("/locations/bank", "update") == nil {
		t.Error("no admin_change event for the edit")
	}
	// A user manager may look but not change.
	um := e.browser()
	um.signIn(umAdmin)
	um.get("/admin/locations")
	if st, _ := um.post("/admin/locations/bank/delete", nil); st != http.StatusForbidden {
		t.Errorf("user manager deleting a location: %d", st)
	}
	if st, _ := b.post("/admin/locations/bank/delete", nil); st != http.StatusSeeOther {
		t.Fatalf("delete: %d", st)
	}
	if _, err := e.st.GetLocation(ctx, "bank"); err == nil {
		t.Error("location not deleted")
	}
}

func TestWebTransfers(t *testing.T) {
	e := newEnv(t)
	x := withTransfers(t, e)
	ctx := context.Background()
	b := e.browser()
	b.signIn(rootAdmin)
	if err := e.st.CreateLocation(ctx, &ferry.Location{Name: "bank", URL: "sftp://acme@bank.example/out", Auth: ferry.AuthNone}); err != nil {
		t.Fatal(err)
	}
	if st, body := b.get("/admin/transfers/new"); st != http.StatusOK || !strings.Contains(body, `id="transfer-form"`) {
		t.Fatalf("new transfer page: %d %s", st, body)
	}
	form := url.Values{"name": {"nightly"}, "source": {"location:bank/out"}, "dest": {"/srv/in"}, "pattern": {"*.csv"},
		"every": {"15m"}, "retries": {"x"}, "on_conflict": {"rename"}, "recursive": {"on"}, "exclude": {"*.tmp\narchive/**"}}
	st, body := b.post("/admin/transfers", form)
	if st != http.StatusBadRequest || !strings.Contains(body, `id="retries-err"`) || !strings.Contains(body, `value="location:bank/out"`) {
		t.Fatalf("bad retries: %d %s", st, body)
	}
	form.Set("retries", "2")
	form.Set("every", "soon")
	if st, body := b.post("/admin/transfers", form); st != http.StatusBadRequest || !strings.Contains(body, `id="every-err"`) {
		t.Fatalf("bad every: %d %s", st, body)
	}
	form.Set("every", "15m")
	if st, loc := b.post("/admin/transfers", form); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/transfers/nightly") {
		t.Fatalf("create: %d %s", st, loc)
	}
	tr, err := e.st.GetTransfer(ctx, "nightly")
	if err != nil || tr.Every != 15*time.Minute || tr.Retries != 2 || tr.OnConflict != "rename" || !tr.Recursive || len(tr.Exclude) != 2 {
		t.Fatalf("stored %+v %v", tr, err)
	}
	if _, body := b.get("/admin/transfers"); !strings.Contains(body, `id="transfer-nightly"`) || !strings.Contains(body, "every 15m0s") {
		t.Errorf("list: %s", body)
	}

	// Run now; a second run while it runs is refused.
	if st, loc := b.post("/admin/transfers/nightly/run", url.Values{"next": {"transfer"}}); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/transfers/nightly?") {
		t.Fatalf("run: %d %s", st, loc)
	}
	if st, _ := b.post("/admin/transfers/nightly/run", nil); st != http.StatusConflict {
		t.Errorf("second run: %d, want 409", st)
	}
	if st, _ := b.post("/admin/transfers/nightly/pause", nil); st != http.StatusSeeOther {
		t.Fatalf("pause: %d", st)
	}
	if tr, _ := e.st.GetTransfer(ctx, "nightly"); !tr.Disabled {
		t.Error("pause did not disable the transfer")
	}
	if _, body := b.get("/admin/transfers"); !strings.Contains(body, "Resume transfer nightly") {
		t.Error("the list offers no resume for a paused transfer")
	}
	if st, _ := b.post("/admin/transfers/nightly/resume", nil); st != http.StatusSeeOther {
		t.Fatalf("resume: %d", st)
	}
	if tr, _ := e.st.GetTransfer(ctx, "nightly"); tr.Disabled {
		t.Error("resume left the transfer paused")
	}
	if e.pub.find("/transfers/nightly", "run") == nil || e.pub.find("/transfers/nightly", "pause") == nil {
		t.Error("no admin_change events for run and pause")
	}

	// History shows on the transfer's page.
	if err := x.AddTransferRecord(ctx, &ferry.TransferRecord{Transfer: "nightly", Source: "bank:/out/a.csv", Dest: "/srv/in/a.csv",
		Status: ferry.TransferFailed, Bytes: 42, Attempts: 3, Started: time.Now(), Error: "connection refused"}); err != nil {
		t.Fatal(err)
	}
	_, body = b.get("/admin/transfers/nightly")
	if !strings.Contains(body, `id="history"`) || !strings.Contains(body, "connection refused") || !strings.Contains(body, `value="15m0s"`) {
		t.Errorf("transfer page: %s", body)
	}
	// An edit replaces the transfer.
	form.Del("name")
	form.Set("every", "")
	form.Set("cron", "0 2 * * *")
	if st, loc := b.post("/admin/transfers/nightly", form); st != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", st, loc)
	}
	if tr, _ := e.st.GetTransfer(ctx, "nightly"); tr.Every != 0 || tr.Cron != "0 2 * * *" {
		t.Errorf("after edit %+v", tr)
	}
	if st, _ := b.post("/admin/transfers/nightly/delete", nil); st != http.StatusSeeOther {
		t.Fatalf("delete: %d", st)
	}
	if _, err := e.st.GetTransfer(ctx, "nightly"); err == nil {
		t.Error("transfer not deleted")
	}
}
