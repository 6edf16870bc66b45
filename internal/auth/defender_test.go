package auth

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

type memBans struct {
	mu   sync.Mutex
	bans []ferry.Ban
}

func (m *memBans) AddBan(_ context.Context, b *ferry.Ban) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bans = append(m.bans, *b)
	return nil
}

func (m *memBans) ListBans(_ context.Context, now time.Time) ([]ferry.Ban, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ferry.Ban
	for _, b := range m.bans {
		if b.ExpiresAt.IsZero() || now.Before(b.ExpiresAt) {
			out = append(out, b)
		}
	}
	return out, nil
}

func TestDefenderBansOneAddressAndDoubles(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &memBans{}
	var banned []ferry.Ban
	d := NewDefender(DefenderOptions{Store: st, Threshold: 5, Window: time.Minute, BanTime: 10 * time.Minute,
		Now: func() time.Time { return clock }, OnBan: func(b ferry.Ban) { banned = append(banned, b) },
		SafeList: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	ctx := context.Background()
	bad, good, safe := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.1.2.3")
	for range 4 {
		d.Record(ctx, bad, ScoreLoginFailed, "login")
		d.Record(ctx, safe, ScoreUnknownUser, "login")
	}
	d.Record(ctx, good, ScoreLoginFailed, "login")
	if d.Banned(bad) {
		t.Fatal("banned below the threshold")
	}
	d.Record(ctx, bad, ScoreLoginFailed, "login")
	if !d.Banned(bad) || d.Banned(good) || d.Banned(safe) {
		t.Fatalf("banned: bad=%v good=%v safe=%v, want only bad", d.Banned(bad), d.Banned(good), d.Banned(safe))
	}
	if len(st.bans) != 1 || st.bans[0].Network != "127.0.0.2/32" || !strings.Contains(st.bans[0].Reason, "score 5") {
		t.Fatalf("stored bans = %+v", st.bans)
	}
	if d.Banned(netip.MustParseAddr("::ffff:127.0.0.2")) != true {
		t.Error("IPv4-mapped form not banned")
	}
	// Expiry, then a second offence bans twice as long.
	clock = clock.Add(11 * time.Minute)
	if d.Banned(bad) {
		t.Fatal("ban did not expire")
	}
	for range 5 {
		d.Record(ctx, bad, ScoreLoginFailed, "login")
	}
	if got := banned[1].ExpiresAt.Sub(banned[1].CreatedAt); got != 20*time.Minute {
		t.Errorf("second ban lasts %v, want 20m", got)
	}
	// Old hits fall out of the window.
	clock = clock.Add(time.Hour)
	for range 4 {
		d.Record(ctx, good, ScoreLoginFailed, "login")
		clock = clock.Add(time.Minute)
	}
	if d.Banned(good) {
		t.Error("hits outside the window were counted")
	}
	// Refresh picks up bans added elsewhere (another node, the CLI).
	st.AddBan(ctx, &ferry.Ban{Network: "192.0.2.0/24"})
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !d.Banned(netip.MustParseAddr("192.0.2.9")) {
		t.Error("stored network ban not applied after Refresh")
	}
}

func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	list := dir + "/breached.txt"
	// "password" in clear, and SHA-1("letmein") as HIBP ships it.
	if err := os.WriteFile(list, []byte("password\nB7A875FC1EA228B9061041B7CEC4BD3C52AB3CE3:12345\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bl, err := LoadBlocklist(list)
	if err != nil {
		t.Fatal(err)
	}
	p := PasswordPolicy{MinLength: 7, Blocklist: bl}
	for pw, want := range map[string]string{
		"short":          "at least 7",
		"password":       "breached",
		"letmein":        "breached",
		"correct horse!": "",
		"ünïcödé":        "",
	} {
		err := p.Check(pw)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("Check(%q) = %v, want %q", pw, err, want)
		}
	}
}
