package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func testPolicy(t *testing.T, s *store.Store) {
	ctx := t.Context()
	n, yes, sessions := int64(1<<40), true, 3
	p := ferry.Policy{
		QuotaBytes: &n, MaxSessions: &sessions, RequireTLS: &yes,
		AllowCIDRs: []string{"192.0.2.0/24", "2001:db8::/32"}, DenyCIDRs: []string{"192.0.2.7"},
		Protocols: []ferry.Protocol{ferry.SFTP, ferry.FTP}, LoginMethods: []string{"publickey"},
		Hours: "mon-fri 08:00-18:00", DenyPatterns: []string{"*.exe"}, HidePatterns: []string{".*"},
		DotFiles: ferry.DotFilesProtect, AllowedExtensions: []string{".csv"},
	}
	u := &ferry.User{Name: "pol", Home: "/h", Status: ferry.StatusActive, Policy: p}
	must(t, "create user", s.CreateUser(ctx, u))
	got, err := s.GetUser(ctx, "pol")
	must(t, "get user", err)
	if !reflect.DeepEqual(got.Policy, p) {
		t.Errorf("user policy:\n got %#v\nwant %#v", got.Policy, p)
	}
	g := &ferry.Group{Name: "pol", Policy: ferry.Policy{QuotaFiles: &n}}
	must(t, "create group", s.CreateGroup(ctx, g))
	gg, err := s.GetGroup(ctx, "pol")
	must(t, "get group", err)
	if ferry.Int64(gg.Policy.QuotaFiles) != n || gg.Policy.QuotaBytes != nil {
		t.Errorf("group policy = %#v", gg.Policy)
	}
	empty := &ferry.User{Name: "nopol", Home: "/h", Status: ferry.StatusActive}
	must(t, "create user", s.CreateUser(ctx, empty))
	if got, _ := s.GetUser(ctx, "nopol"); !reflect.DeepEqual(got.Policy, ferry.Policy{}) {
		t.Errorf("empty policy came back as %#v", got.Policy)
	}
}

func testUsage(t *testing.T, s *store.Store) {
	ctx := t.Context()
	if u, err := s.GetUsage(ctx, "nobody"); err != nil || u != (store.Usage{}) {
		t.Fatalf("usage of nobody = %+v, %v", u, err)
	}
	before := changes(t, s)
	must(t, "add", s.AddUsage(ctx, "u", 100, 1))
	must(t, "add", s.AddUsage(ctx, "u", -40, 2))
	u, err := s.GetUsage(ctx, "u")
	must(t, "get", err)
	if u.Bytes != 60 || u.Files != 3 || !u.ScannedAt.IsZero() {
		t.Errorf("usage = %+v, want 60 bytes 3 files", u)
	}
	at := time.Unix(1700000000, 0).UTC()
	must(t, "set", s.SetUsage(ctx, "u", 7, 1, at))
	u, _ = s.GetUsage(ctx, "u")
	if u.Bytes != 7 || u.Files != 1 || !u.ScannedAt.Equal(at) {
		t.Errorf("usage after rescan = %+v", u)
	}
	if after := changes(t, s); after != before {
		t.Errorf("usage writes moved the change counter from %d to %d", before, after)
	}
}
