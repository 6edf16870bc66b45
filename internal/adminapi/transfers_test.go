package adminapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/adminapi"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/ferrytest"
	"github.com/ferrymft/ferry/internal/store"
)

// locs adapts the store as app does, with a fake seal that keeps the
// plaintext visible to the test (never to the API).
type locs struct{ *store.Store }

func (locs) SealSecret(location, field, plain string) (string, error) {
	return ferry.SealedPrefix + location + "/" + field + "/" + plain, nil
}

func (locs) CheckLocation(l *ferry.Location) error {
	if !strings.Contains(l.URL, "://") && !strings.HasPrefix(l.URL, "/") {
		return fmt.Errorf("%w: %q: not a URL", ferry.ErrInvalid, l.URL)
	}
	return nil
}

// xfers adapts the store's transfers and records runs; a run in progress
// makes the next one busy.
type xfers struct {
	*store.Store
	mu      sync.Mutex
	running map[string]bool
}

func (x *xfers) CheckTransfer(ctx context.Context, t *ferry.Transfer) error {
	for _, s := range []string{t.Source, t.Dest} {
		if name, ok := strings.CutPrefix(s, "location:"); ok {
			name, _, _ = strings.Cut(name, "/")
			if _, err := x.GetLocation(ctx, name); err != nil {
				return fmt.Errorf("%w: transfer %q: source: %s: %w", ferry.ErrInvalid, t.Name, s, err)
			}
		}
	}
	return nil
}

func (x *xfers) TransferHistory(ctx context.Context, q adminapi.HistoryQuery) ([]ferry.TransferRecord, error) {
	return x.Store.TransferHistory(ctx, store.HistoryFilter{Transfer: q.Transfer, Status: q.Status, Limit: q.Limit})
}

func (x *xfers) RunTransfer(_ context.Context, name string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.running[name] {
		return fmt.Errorf("%w: transfer %q", adminapi.ErrBusy, name)
	}
	x.running[name] = true
	return nil
}

// withTransfers serves e's options plus locations and transfers on a
// second listener and returns its URL.
func withTransfers(t *testing.T, e *env) *xfers {
	x := &xfers{Store: e.st, running: map[string]bool{}}
	o := e.opts
	o.Locations, o.Transfers = locs{e.st}, x
	srv, err := adminapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln := ferrytest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	e.url = "http://" + ln.Addr().String()
	return x
}

func TestLocationsCRUDSecretsWriteOnly(t *testing.T) {
	e := newEnv(t)
	withTransfers(t, e)
	tok := e.token(rootAdmin)
	ctx := context.Background()

	body := map[string]any{"name": "bank", "url": "ftps://acme@ftp.bank.example/out/", "password": "pw-1", "description": "the bank"}
	r := e.want(e.do("POST", "/api/v1/locations", tok, body), http.StatusCreated)
	if strings.Contains(string(r.body), "pw-1") || strings.Contains(string(r.body), "sealed:") {
		t.Fatalf("create answer shows the secret: %s", r.body)
	}
	got := r.obj(t)
	if got["has_password"] != true || got["has_private_key"] != false || got["auth"] != "password" {
		t.Errorf("created %v", got)
	}
	stored, err := e.st.GetLocation(ctx, "bank")
	if err != nil || stored.Password != ferry.SealedPrefix+"bank/password/pw-1" || stored.Auth != ferry.AuthPassword {
		t.Fatalf("stored %+v %v", stored, err)
	}
	if e.pub.find("/locations/bank", "create") == nil {
		t.Error("no admin_change event for the create")
	}
	e.wantErr(e.do("POST", "/api/v1/locations", tok, body), http.StatusConflict, "exists", "name")
	e.wantErr(e.do("POST", "/api/v1/locations", tok, map[string]any{"name": "x", "url": "ftp://u:pw@h/"}),
		http.StatusBadRequest, "invalid", "url")
	e.wantErr(e.do("POST", "/api/v1/locations", tok, map[string]any{"name": "y", "url": "nonsense"}),
		http.StatusBadRequest, "invalid", "url")
	e.wantErr(e.do("POST", "/api/v1/locations", e.token(umAdmin), map[string]any{"name": "z", "url": "/srv"}),
		http.StatusForbidden, "forbidden", "")

	r = e.want(e.do("GET", "/api/v1/locations", e.token(viewerAdmin), nil), http.StatusOK)
	if strings.Contains(string(r.body), "pw-1") || !strings.Contains(string(r.body), `"has_password": true`) {
		t.Fatalf("list %s", r.body)
	}
	r = e.want(e.do("GET", "/api/v1/locations/bank", tok, nil), http.StatusOK)
	etag := r.header.Get("ETag")

	// PUT of what GET returned keeps the secret; PATCH rotates it.
	e.want(e.do("PUT", "/api/v1/locations/bank", tok, r.obj(t), "If-Match: "+etag), http.StatusOK)
	if stored, _ = e.st.GetLocation(ctx, "bank"); stored.Password != ferry.SealedPrefix+"bank/password/pw-1" {
		t.Errorf("PUT lost the secret: %+v", stored)
	}
	r = e.want(e.do("PATCH", "/api/v1/locations/bank", tok, map[string]any{"password": "pw-2"}), http.StatusOK)
	if stored, _ = e.st.GetLocation(ctx, "bank"); stored.Password != ferry.SealedPrefix+"bank/password/pw-2" || strings.Contains(string(r.body), "pw-2") {
		t.Errorf("rotation: stored %+v, answer %s", stored, r.body)
	}
	// Removing the secret makes it auth none.
	r = e.want(e.do("PATCH", "/api/v1/locations/bank", tok, map[string]any{"password": ""}), http.StatusOK)
	if got := r.obj(t); got["auth"] != "none" || got["has_password"] != false {
		t.Errorf("after removing the password: %v", got)
	}
	e.want(e.do("DELETE", "/api/v1/locations/bank", tok, nil), http.StatusNoContent)
	e.wantErr(e.do("GET", "/api/v1/locations/bank", tok, nil), http.StatusNotFound, "not_found", "")
}

func TestTransfersCRUDRunHistory(t *testing.T) {
	e := newEnv(t)
	x := withTransfers(t, e)
	tok := e.token(rootAdmin)
	ctx := context.Background()
	e.want(e.do("POST", "/api/v1/locations", tok, map[string]any{"name": "partner", "url": "sftp://u@h/"}), http.StatusCreated)

	body := map[string]any{"name": "pull", "source": "location:partner/out", "dest": "/srv/in", "pattern": "*.csv",
		"every": "5m", "min_age": "30s", "delete_source": true}
	r := e.want(e.do("POST", "/api/v1/transfers", tok, body), http.StatusCreated)
	if got := r.obj(t); got["every"] != "5m0s" || got["min_age"] != "30s" || got["retries"] != float64(3) {
		t.Errorf("created %v", got)
	}
	stored, err := e.st.GetTransfer(ctx, "pull")
	if err != nil || stored.Every != 5*time.Minute || !stored.DeleteSource || stored.Retries != 3 {
		t.Fatalf("stored %+v %v", stored, err)
	}
	bad := func(field string, kv ...any) {
		t.Helper()
		b := map[string]any{"name": "bad", "source": "/a", "dest": "/b"}
		for i := 0; i < len(kv); i += 2 {
			b[kv[i].(string)] = kv[i+1]
		}
		e.wantErr(e.do("POST", "/api/v1/transfers", tok, b), http.StatusBadRequest, "invalid", field)
	}
	bad("every", "every", "soon")
	bad("every", "every", "10ms")
	bad("cron", "every", "1m", "cron", "* * * * *")
	bad("verify", "verify", "maybe")
	bad("source", "source", "location:nowhere/x")
	bad("nope", "nope", 1)

	e.want(e.do("PATCH", "/api/v1/transfers/pull", tok, map[string]any{"disabled": true, "every": ""}), http.StatusOK)
	if stored, _ = e.st.GetTransfer(ctx, "pull"); !stored.Disabled || stored.Every != 0 || stored.Pattern != "*.csv" {
		t.Errorf("after PATCH %+v", stored)
	}

	e.wantErr(e.do("POST", "/api/v1/transfers/pull/run", e.token(viewerAdmin), nil), http.StatusForbidden, "forbidden", "")
	r = e.want(e.do("POST", "/api/v1/transfers/pull/run", tok, nil), http.StatusAccepted)
	if !x.running["pull"] || r.obj(t)["status"] != "started" || e.pub.find("/transfers/pull", "run") == nil {
		t.Errorf("run: %s", r.body)
	}
	e.wantErr(e.do("POST", "/api/v1/transfers/pull/run", tok, nil), http.StatusConflict, "conflict", "")
	e.wantErr(e.do("POST", "/api/v1/transfers/nope/run", tok, nil), http.StatusNotFound, "not_found", "")

	now := time.Now()
	for i, st := range []string{ferry.TransferOK, ferry.TransferFailed, ferry.TransferRemoving, ferry.TransferOK} {
		rec := &ferry.TransferRecord{Transfer: "pull", Source: fmt.Sprintf("sftp://u@h/out/%d.csv", i), Dest: "/srv/in", Status: st,
			Bytes: int64(i), Attempts: 1, Started: now}
		if err := e.st.AddTransferRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	var pg struct {
		Items []ferry.TransferRecord
	}
	e.want(e.do("GET", "/api/v1/transfers/pull/history", e.token(viewerAdmin), nil), http.StatusOK).json(t, &pg)
	if len(pg.Items) != 4 || pg.Items[0].Source != "sftp://u@h/out/3.csv" {
		t.Fatalf("history %+v", pg.Items)
	}
	e.want(e.do("GET", "/api/v1/transfers/pull/history?status=failed&limit=5", tok, nil), http.StatusOK).json(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].Status != ferry.TransferFailed {
		t.Fatalf("failed history %+v", pg.Items)
	}
	// A moved file whose source is still being removed.
	e.want(e.do("GET", "/api/v1/transfers/pull/history?status=removing", tok, nil), http.StatusOK).json(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].Status != ferry.TransferRemoving || pg.Items[0].Source != "sftp://u@h/out/2.csv" {
		t.Fatalf("removing history %+v", pg.Items)
	}
	e.wantErr(e.do("GET", "/api/v1/transfers/pull/history?status=meh", tok, nil), http.StatusBadRequest, "invalid", "status")
	e.wantErr(e.do("GET", "/api/v1/transfers/nope/history", tok, nil), http.StatusNotFound, "not_found", "")

	// Deleting keeps the history, still served.
	e.want(e.do("DELETE", "/api/v1/transfers/pull", tok, nil), http.StatusNoContent)
	e.want(e.do("GET", "/api/v1/transfers/pull/history", tok, nil), http.StatusOK).json(t, &pg)
	if len(pg.Items) != 4 {
		t.Errorf("history after delete: %+v", pg.Items)
	}
}

// Without a location and transfer store the endpoints answer 404.
func TestTransfersUnavailable(t *testing.T) {
	e := newEnv(t)
	e.wantErr(e.do("GET", "/api/v1/transfers", e.token(rootAdmin), nil), http.StatusNotFound, "not_found", "")
	e.wantErr(e.do("GET", "/api/v1/locations", e.token(rootAdmin), nil), http.StatusNotFound, "not_found", "")
}

// TestFailoverAndOnUploadFields: a location's failover and a transfer's
// on_upload trigger go through the API as the CLI's flags do.
func TestFailoverAndOnUploadFields(t *testing.T) {
	e := newEnv(t)
	withTransfers(t, e)
	tok := e.token(rootAdmin)
	ctx := context.Background()
	e.want(e.do("POST", "/api/v1/locations", tok, map[string]any{"name": "erp-dr", "url": "sftp://u@dr/"}), http.StatusCreated)
	r := e.want(e.do("POST", "/api/v1/locations", tok, map[string]any{"name": "erp", "url": "sftp://u@h/", "failover": "erp-dr"}),
		http.StatusCreated)
	if got := r.obj(t); got["failover"] != "erp-dr" {
		t.Errorf("created %v", got)
	}
	if l, err := e.st.GetLocation(ctx, "erp"); err != nil || l.Failover != "erp-dr" {
		t.Fatalf("stored %+v %v", l, err)
	}
	e.wantErr(e.do("POST", "/api/v1/locations", tok, map[string]any{"name": "self", "url": "sftp://u@h/", "failover": "self"}),
		http.StatusBadRequest, "invalid", "")

	r = e.want(e.do("POST", "/api/v1/transfers", tok, map[string]any{"name": "to-erp", "on_upload": "alice:/in/*.csv",
		"dest": "location:erp/in", "delete_source": true}), http.StatusCreated)
	if got := r.obj(t); got["on_upload"] != "alice:/in/*.csv" || got["source"] != nil && got["source"] != "" {
		t.Errorf("created %v", got)
	}
	e.wantErr(e.do("POST", "/api/v1/transfers", tok, map[string]any{"name": "bad", "on_upload": "alice:in", "dest": "/x"}),
		http.StatusBadRequest, "invalid", "on_upload")
	e.wantErr(e.do("POST", "/api/v1/transfers", tok, map[string]any{"name": "bad", "on_upload": "alice:/in/*", "source": "/y", "dest": "/x"}),
		http.StatusBadRequest, "invalid", "source")
}
