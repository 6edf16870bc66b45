// Package storetest is the conformance suite every store engine passes.
// store's own tests run it against SQLite, and against PostgreSQL when
// FERRY_TEST_POSTGRES is set; only tests import it.
package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferrymft/ferry/internal/store"
)

// Run exercises every method of store.Store. open must return a new, empty
// store each time it is called, closed by t.Cleanup; subtests run in
// parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, s *store.Store)
	}{
		{"Kind", testKind},
		{"Users", func(t *testing.T, s *store.Store) { testRecords(t, s, userOps(s)) }},
		{"Groups", func(t *testing.T, s *store.Store) { testRecords(t, s, groupOps(s)) }},
		{"Admins", func(t *testing.T, s *store.Store) { testRecords(t, s, adminOps(s)) }},
		{"Services", func(t *testing.T, s *store.Store) { testRecords(t, s, serviceOps(s)) }},
		{"Folders", func(t *testing.T, s *store.Store) { testRecords(t, s, folderOps(s)) }},
		{"List", testList},
		{"JSONRoundTrip", testJSONRoundTrip},
		{"Times", testTimes},
		{"InvalidText", testInvalidText},
		{"Bans", testBans},
		{"Settings", testSettings},
		{"ChangeCounter", testChangeCounter},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Policy", testPolicy},
		{"Usage", testUsage},
		{"Rules", testRules},
		{"Outbox", testOutbox},
		{"Tokens", testTokens},
		{"UserTokens", testUserTokens},
		{"Locations", func(t *testing.T, s *store.Store) { testRecords(t, s, locationOps(s)) }},
		{"Transfers", func(t *testing.T, s *store.Store) { testRecords(t, s, transferOps(s)) }},
		{"LocationSecrets", testLocationSecrets},
		{"TransferHistory", testTransferHistory},
		{"TransferLeases", testTransferLeases},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func testKind(t *testing.T, s *store.Store) {
	if k := s.Kind(); k != store.KindSQLite && k != store.KindPostgres {
		t.Errorf("Kind() = %q, want sqlite or postgres", k)
	}
}

// wantErr fails t unless err wraps target and its message contains every
// one of msgs.
func wantErr(t *testing.T, what string, err, target error, msgs ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want one wrapping %q", what, err, target)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%s: error %q does not mention %q", what, err, m)
		}
	}
}

// must fails t on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func changes(t *testing.T, s *store.Store) int64 {
	t.Helper()
	n, err := s.Changes(context.Background())
	must(t, "Changes", err)
	return n
}
