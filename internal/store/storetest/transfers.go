package storetest

import (
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func locationOps(s *store.Store) ops[ferry.Location] {
	return ops[ferry.Location]{
		kind: "location", create: s.CreateLocation, get: s.GetLocation, list: s.ListLocations,
		update: s.UpdateLocation, del: s.DeleteLocation, count: s.CountLocations,
		sample: func(name string) *ferry.Location {
			return &ferry.Location{
				Name: name, URL: "sftp://partner@sftp.example.com:2022/out/", Auth: ferry.AuthPassword,
				Password: ferry.SealedPrefix + "cGFzc3dvcmQ", PrivateKey: ferry.SealedPrefix + "a2V5",
				HostKey: "SHA256:abc", Insecure: true, Active: true, Description: "the bank",
			}
		},
		change: func(l *ferry.Location) { l.Description += " (changed)"; l.Active = false },
		head: func(l *ferry.Location) *head {
			return &head{&l.ID, &l.Name, &l.CreatedAt, &l.UpdatedAt, &l.Version,
				func() { *l = ferry.Location{Name: l.Name, URL: "/srv/x", Auth: ferry.AuthNone} }}
		},
	}
}

func transferOps(s *store.Store) ops[ferry.Transfer] {
	return ops[ferry.Transfer]{
		kind: "transfer", create: s.CreateTransfer, get: s.GetTransfer, list: s.ListTransfers,
		update: s.UpdateTransfer, del: s.DeleteTransfer, count: s.CountTransfers,
		sample: func(name string) *ferry.Transfer {
			return &ferry.Transfer{
				Name: name, Source: "location:bank/outbox", Dest: "/srv/in", Pattern: "*.csv", Recursive: true,
				Cron: "0 2 * * 1-5", MinAge: 30 * time.Second, ArchiveTo: "done", Verify: "hash",
				Retries: 3, Disabled: true, Description: "nightly",
			}
		},
		change: func(v *ferry.Transfer) { v.Cron, v.Every = "", time.Minute },
		head: func(v *ferry.Transfer) *head {
			return &head{&v.ID, &v.Name, &v.CreatedAt, &v.UpdatedAt, &v.Version,
				func() { *v = ferry.Transfer{Name: v.Name, Source: "/a", Dest: "/b"} }}
		},
	}
}

func testLocationSecrets(t *testing.T, s *store.Store) {
	ctx := t.Context()
	l := &ferry.Location{Name: "plain", URL: "ftp://u@h/", Auth: ferry.AuthPassword, Password: "hunter2"}
	wantErr(t, "plaintext password", s.CreateLocation(ctx, l), ferry.ErrInvalid, "sealed")
	l = &ferry.Location{Name: "pw", URL: "ftp://u:hunter2@h/", Auth: ferry.AuthNone}
	wantErr(t, "password in the URL", s.CreateLocation(ctx, l), ferry.ErrInvalid, "password")
	l = &ferry.Location{Name: "x", URL: "ftp://h/", Auth: "magic"}
	wantErr(t, "unknown auth", s.CreateLocation(ctx, l), ferry.ErrInvalid, "magic")
	bad := &ferry.Transfer{Name: "t", Source: "/a", Dest: "/b", Every: time.Minute, Watch: true}
	wantErr(t, "two triggers", s.CreateTransfer(ctx, bad), ferry.ErrInvalid, "trigger")
	bad = &ferry.Transfer{Name: "t", Source: "/a", Dest: "/b", DeleteSource: true, ArchiveTo: "x"}
	wantErr(t, "delete and archive", s.CreateTransfer(ctx, bad), ferry.ErrInvalid, "archive_to")
}

func testTransferHistory(t *testing.T, s *store.Store) {
	ctx := t.Context()
	c := changes(t, s)
	start := time.Date(2030, 5, 6, 7, 8, 9, 10, time.UTC)
	for i, st := range []string{ferry.TransferOK, ferry.TransferFailed, ferry.TransferOK} {
		r := &ferry.TransferRecord{Transfer: "pull", Source: "sftp://h/out/a.csv", Dest: "/in/a.csv", Status: st,
			Bytes: int64(i), Attempts: i + 1, Started: start, Duration: time.Duration(i) * time.Second, SHA256: "ab"}
		if st == ferry.TransferFailed {
			r.Error = "connection reset"
		}
		must(t, "add", s.AddTransferRecord(ctx, r))
		if r.ID == 0 {
			t.Errorf("AddTransferRecord set no ID")
		}
	}
	must(t, "add other", s.AddTransferRecord(ctx, &ferry.TransferRecord{Transfer: "push", Status: ferry.TransferOK, Started: start}))
	if changes(t, s) != c {
		t.Errorf("history writes moved the change counter")
	}
	h, err := s.TransferHistory(ctx, store.HistoryFilter{Transfer: "pull"})
	must(t, "history", err)
	if len(h) != 3 || h[0].Bytes != 2 || h[2].Bytes != 0 {
		t.Fatalf("history = %+v, want 3 rows newest first", h)
	}
	if r := h[1]; r.Status != ferry.TransferFailed || r.Error != "connection reset" || r.Attempts != 2 ||
		!r.Started.Equal(start) || r.Duration != time.Second || r.SHA256 != "ab" {
		t.Errorf("row = %+v", r)
	}
	h, err = s.TransferHistory(ctx, store.HistoryFilter{Status: ferry.TransferOK, Limit: 10})
	must(t, "history ok", err)
	if len(h) != 3 || h[0].Transfer != "push" {
		t.Errorf("succeeded rows = %+v", h)
	}

	// A move's row: pending while its source is removed, then its outcome.
	mv := &ferry.TransferRecord{Transfer: "move", Source: "/out/b.csv", Dest: "sftp://h/in/b.csv", Status: ferry.TransferRemoving,
		Bytes: 5, Attempts: 1, Started: start, SourceRel: "sub/b.csv"}
	must(t, "add pending", s.AddTransferRecord(ctx, mv))
	p, err := s.PendingTransferRecords(ctx, "move")
	must(t, "pending", err)
	if len(p) != 1 || p[0].ID != mv.ID || p[0].SourceRel != "sub/b.csv" {
		t.Fatalf("pending = %+v", p)
	}
	mv.Status, mv.Attempts, mv.Duration = ferry.TransferOK, 2, time.Second
	must(t, "update", s.UpdateTransferRecord(ctx, mv))
	if p, err := s.PendingTransferRecords(ctx, "move"); err != nil || len(p) != 0 {
		t.Errorf("pending after the update = %+v, %v", p, err)
	}
	h, err = s.TransferHistory(ctx, store.HistoryFilter{Transfer: "move"})
	must(t, "history move", err)
	if len(h) != 1 || h[0].Status != ferry.TransferOK || h[0].Attempts != 2 || h[0].Duration != time.Second || h[0].Source != "/out/b.csv" {
		t.Errorf("updated row = %+v", h)
	}
	mv.ID = 1 << 40
	wantErr(t, "update a missing row", s.UpdateTransferRecord(ctx, mv), ferry.ErrNotFound, "history row")
	if changes(t, s) != c {
		t.Errorf("history updates moved the change counter")
	}
}

func testTransferLeases(t *testing.T, s *store.Store) {
	ctx := t.Context()
	c := changes(t, s)
	later := time.Now().Add(time.Hour)
	ok, err := s.AcquireTransfer(ctx, "pull", "node-a", later)
	must(t, "acquire", err)
	if !ok {
		t.Fatalf("the first owner did not get the lease")
	}
	if ok, err := s.AcquireTransfer(ctx, "pull", "node-b", later); err != nil || ok {
		t.Errorf("a second owner got a held lease: %v %v", ok, err)
	}
	if ok, err := s.AcquireTransfer(ctx, "pull", "node-a", later.Add(time.Hour)); err != nil || !ok {
		t.Errorf("the owner could not renew: %v %v", ok, err)
	}
	if ok, err := s.AcquireTransfer(ctx, "push", "node-b", later); err != nil || !ok {
		t.Errorf("another transfer's lease: %v %v", ok, err)
	}
	must(t, "release by another", s.ReleaseTransfer(ctx, "pull", "node-b"))
	if ok, _ := s.AcquireTransfer(ctx, "pull", "node-b", later); ok {
		t.Errorf("a release by a non-owner freed the lease")
	}
	must(t, "release", s.ReleaseTransfer(ctx, "pull", "node-a"))
	if ok, err := s.AcquireTransfer(ctx, "pull", "node-b", time.Now().Add(-time.Second)); err != nil || !ok {
		t.Errorf("acquire after release: %v %v", ok, err)
	}
	if ok, err := s.AcquireTransfer(ctx, "pull", "node-a", later); err != nil || !ok {
		t.Errorf("an expired lease was not taken over: %v %v", ok, err)
	}
	if changes(t, s) != c {
		t.Errorf("lease writes moved the change counter")
	}
}
