package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

func testList(t *testing.T, s *store.Store) {
	ctx := t.Context()
	names := []string{"b", "a_c", "Alice", "ab", "a", "alice2", "z@x", "a.b", "B", "a-1", "9"}
	for _, n := range names {
		must(t, "create "+n, s.CreateGroup(ctx, &ferry.Group{Name: n}))
	}
	// Byte order, the same on every engine: digits, upper case, lower case.
	sorted := slices.Clone(names)
	slices.Sort(sorted)

	list := func(o store.ListOptions) []string {
		t.Helper()
		gs, err := s.ListGroups(ctx, o)
		must(t, "list", err)
		out := []string{}
		for _, g := range gs {
			out = append(out, g.Name)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		opts store.ListOptions
		want []string
	}{
		{"all", store.ListOptions{}, sorted},
		{"limit", store.ListOptions{Limit: 3}, sorted[:3]},
		{"offset", store.ListOptions{Offset: 9}, sorted[9:]},
		{"page", store.ListOptions{Offset: 3, Limit: 4}, sorted[3:7]},
		{"offset past the end", store.ListOptions{Offset: 50}, []string{}},
		{"limit above the count", store.ListOptions{Limit: 500}, sorted},
		{"prefix", store.ListOptions{Prefix: "a"}, []string{"a", "a-1", "a.b", "a_c", "ab", "alice2"}},
		{"prefix is case-sensitive", store.ListOptions{Prefix: "A"}, []string{"Alice"}},
		{"prefix and page", store.ListOptions{Prefix: "a", Offset: 1, Limit: 2}, []string{"a-1", "a.b"}},
		{"prefix equal to a name", store.ListOptions{Prefix: "alice2"}, []string{"alice2"}},
		{"prefix with z", store.ListOptions{Prefix: "z"}, []string{"z@x"}},
		{"prefix no name can have", store.ListOptions{Prefix: "a%"}, []string{}},
		{"prefix with a LIKE wildcard", store.ListOptions{Prefix: "a_"}, []string{"a_c"}},
		{"prefix matching nothing", store.ListOptions{Prefix: "q"}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := list(tt.opts); !slices.Equal(got, tt.want) {
				t.Errorf("ListGroups(%+v) = %q, want %q", tt.opts, got, tt.want)
			}
		})
	}
	_, err := s.ListGroups(ctx, store.ListOptions{Offset: -1})
	wantErr(t, "negative offset", err, ferry.ErrInvalid)
	_, err = s.ListUsers(ctx, store.ListOptions{Limit: -1})
	wantErr(t, "negative limit", err, ferry.ErrInvalid)
	if us, err := s.ListUsers(ctx, store.ListOptions{}); err != nil || len(us) != 0 {
		t.Errorf("ListUsers on no users = %v, %v; want empty", us, err)
	}
}

// testJSONRoundTrip checks that list and map fields come back exactly as
// they went in, whatever characters they hold, and that nil and empty stay
// distinct.
func testJSONRoundTrip(t *testing.T, s *store.Store) {
	ctx := t.Context()
	odd := []string{
		"", " ", `"quoted" \back\slash`, "<html> & 'apos'", "tab\tnewline\nCR\r",
		"ünïcödé ✓ 日本語 🚀", "\u2028\u2029", "\x01\x1f\x7f", "null", "[]", "{}",
		strings.Repeat("k", 16<<10),
	}
	u := &ferry.User{
		Name:        "odd",
		PublicKeys:  odd,
		TLSCertPins: []string{strings.Repeat("ab", 32)},
		Groups:      []string{},
		Perms: []ferry.PathPerm{
			{Path: "/ünï/<dir>", Perms: ferry.PermAll | ferry.PermSymlink},
			{Path: "/none", Perms: ferry.PermNone},
			{Path: "/x", Perms: ferry.PermChmod},
		},
	}
	must(t, "create user", s.CreateUser(ctx, u))
	got, err := s.GetUser(ctx, "odd")
	must(t, "get user", err)
	if !reflect.DeepEqual(got, u) {
		t.Errorf("user:\n got %#v\nwant %#v", got, u)
	}
	if got.Groups == nil || len(got.Groups) != 0 {
		t.Errorf("empty groups came back as %#v, want an empty non-nil list", got.Groups)
	}

	opts := map[string]string{}
	for i, v := range odd {
		opts[v] = odd[len(odd)-1-i]
	}
	sv := &ferry.Service{Name: "odd", Kind: ferry.ServiceSFTP, Listen: "127.0.0.1:0", Options: opts}
	must(t, "create service", s.CreateService(ctx, sv))
	gotSv, err := s.GetService(ctx, "odd")
	must(t, "get service", err)
	if !reflect.DeepEqual(gotSv, sv) {
		t.Errorf("service:\n got %#v\nwant %#v", gotSv, sv)
	}

	empty := &ferry.Service{Name: "empty", Options: map[string]string{}}
	must(t, "create service with empty options", s.CreateService(ctx, empty))
	gotEmpty, err := s.GetService(ctx, "empty")
	must(t, "get service", err)
	if gotEmpty.Options == nil || len(gotEmpty.Options) != 0 {
		t.Errorf("empty options came back as %#v", gotEmpty.Options)
	}
}

// testTimes checks that times come back as the same instant, to the
// nanosecond, whatever zone they were given in.
func testTimes(t *testing.T, s *store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+05:45", 5*3600+45*60)
	for _, tt := range []struct {
		name    string
		expires time.Time
	}{
		{"utc", time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)},
		{"other zone", time.Date(2030, 6, 7, 8, 9, 10, 999999999, zone)},
		{"local with monotonic clock", time.Now().Add(time.Hour)},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 1, time.UTC)},
		{"edge of the range", time.Unix(0, 1<<63-1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := &ferry.User{Name: "u-" + strings.ReplaceAll(tt.name, " ", "-"), ExpiresAt: tt.expires}
			must(t, "create", s.CreateUser(ctx, u))
			got, err := s.GetUser(ctx, u.Name)
			must(t, "get", err)
			if !got.ExpiresAt.Equal(tt.expires) {
				t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, tt.expires)
			}
			if got.ExpiresAt.Location() != time.UTC {
				t.Errorf("ExpiresAt is in %v, want UTC", got.ExpiresAt.Location())
			}
			if !got.CreatedAt.Equal(u.CreatedAt) || !got.UpdatedAt.Equal(u.UpdatedAt) {
				t.Errorf("times = %v, %v; create returned %v, %v", got.CreatedAt, got.UpdatedAt, u.CreatedAt, u.UpdatedAt)
			}
		})
	}
	t.Run("out of range", func(t *testing.T) {
		u := &ferry.User{Name: "far", ExpiresAt: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}
		wantErr(t, "create", s.CreateUser(ctx, u), ferry.ErrInvalid, "expiry")
	})
}

// testInvalidText checks that text PostgreSQL cannot store is refused on
// every engine, so an engine switch never changes what is accepted.
func testInvalidText(t *testing.T, s *store.Store) {
	ctx := t.Context()
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"NUL in description", s.CreateUser(ctx, &ferry.User{Name: "a", Description: "x\x00y"})},
		{"invalid UTF-8 in home", s.CreateUser(ctx, &ferry.User{Name: "b", Home: "/srv/\xff"})},
		{"NUL in a public key", s.CreateUser(ctx, &ferry.User{Name: "c", PublicKeys: []string{"ssh-ed25519 \x00"}})},
		{"invalid UTF-8 in an option", s.CreateService(ctx, &ferry.Service{Name: "d", Options: map[string]string{"k": "\xc3"}})},
		{"unknown permission bits", s.CreateGroup(ctx, &ferry.Group{Name: "e", Perms: []ferry.PathPerm{{Path: "/", Perms: 1 << 14}}})},
		{"NUL in a setting", s.SetSetting(ctx, "k", "\x00")},
		{"NUL in a ban reason", s.AddBan(ctx, &ferry.Ban{Network: "192.0.2.1/32", Reason: "\x00"})},
	} {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.name, tt.err, ferry.ErrInvalid) })
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Errorf("CountUsers = %d, %v after refused creates; want 0", n, err)
	}
}
