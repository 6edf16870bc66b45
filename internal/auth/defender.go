package auth

import (
	"cmp"
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// BanStore persists bans so every service and node refuses the same
// addresses. The store satisfies it.
type BanStore interface {
	AddBan(ctx context.Context, b *ferry.Ban) error
	ListBans(ctx context.Context, now time.Time) ([]ferry.Ban, error)
}

// DefenderOptions tune the brute-force defender.
type DefenderOptions struct {
	Store BanStore // required
	// Threshold is the score over Window that bans an address (default
	// 10 in 5 minutes).
	Threshold int
	Window    time.Duration
	// BanTime is the first ban's length; each further ban of the same
	// address doubles it, up to MaxBanTime (defaults 15m and 24h).
	BanTime, MaxBanTime time.Duration
	// SafeList networks are never banned.
	SafeList []netip.Prefix
	Logger   *slog.Logger
	Now      func() time.Time
	// OnBan is told about each new ban (for events).
	OnBan func(ferry.Ban)
}

// Scores of the things the defender counts.
const (
	ScoreLoginFailed   = 1 // wrong password or key
	ScoreUnknownUser   = 2 // guessing names costs more
	ScoreProtocolError = 1 // garbage before login
	ScoreNoAuth        = 1 // disconnect without trying to log in
)

// Defender scores failures per source address and bans an address whose
// score within the window passes the threshold. Bans live in the store;
// the defender keeps a copy to answer Banned without a query.
type Defender struct {
	opts DefenderOptions
	log  *slog.Logger
	now  func() time.Time

	mu       sync.Mutex
	scores   map[netip.Addr][]hit
	offences map[netip.Addr]int
	bans     []ferry.Ban
	nets     []netip.Prefix // parsed bans, same order
}

type hit struct {
	at    time.Time
	score int
}

// NewDefender returns a defender; call Refresh to load the stored bans.
func NewDefender(opts DefenderOptions) *Defender {
	opts.Threshold = cmp.Or(opts.Threshold, 10)
	opts.Window = cmp.Or(opts.Window, 5*time.Minute)
	opts.BanTime = cmp.Or(opts.BanTime, 15*time.Minute)
	opts.MaxBanTime = cmp.Or(opts.MaxBanTime, 24*time.Hour)
	d := &Defender{
		opts:     opts,
		log:      cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		now:      opts.Now,
		scores:   make(map[netip.Addr][]hit),
		offences: make(map[netip.Addr]int),
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// Refresh reloads the bans from the store (after it changed).
func (d *Defender) Refresh(ctx context.Context) error {
	bans, err := d.opts.Store.ListBans(ctx, d.now())
	if err != nil {
		return err
	}
	nets := make([]netip.Prefix, 0, len(bans))
	kept := bans[:0]
	for _, b := range bans {
		p, err := ferry.ParseCIDR(b.Network)
		if err != nil {
			continue
		}
		nets = append(nets, p)
		kept = append(kept, b)
	}
	d.mu.Lock()
	d.bans, d.nets = kept, nets
	d.mu.Unlock()
	return nil
}

// Banned reports whether addr is under a ban now. It does no I/O, so front
// ends call it for every accepted connection.
func (d *Defender) Banned(addr netip.Addr) bool {
	addr = addr.Unmap()
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, p := range d.nets {
		if p.Contains(addr) && (d.bans[i].ExpiresAt.IsZero() || now.Before(d.bans[i].ExpiresAt)) {
			return true
		}
	}
	return false
}

func (d *Defender) safe(addr netip.Addr) bool {
	for _, p := range d.opts.SafeList {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Record adds score for addr (why names it in logs) and bans the address
// when its score within the window reaches the threshold.
func (d *Defender) Record(ctx context.Context, addr netip.Addr, score int, why string) {
	addr = addr.Unmap()
	if !addr.IsValid() || d.safe(addr) {
		return
	}
	now := d.now()
	d.mu.Lock()
	hits := d.scores[addr][:0:0]
	total := score
	for _, h := range d.scores[addr] {
		if now.Sub(h.at) < d.opts.Window {
			hits = append(hits, h)
			total += h.score
		}
	}
	hits = append(hits, hit{at: now, score: score})
	if total < d.opts.Threshold {
		d.scores[addr] = hits
		d.mu.Unlock()
		return
	}
	delete(d.scores, addr)
	d.offences[addr]++
	dur := d.opts.BanTime << min(d.offences[addr]-1, 16)
	if dur > d.opts.MaxBanTime || dur <= 0 {
		dur = d.opts.MaxBanTime
	}
	ban := ferry.Ban{Network: netip.PrefixFrom(addr, addr.BitLen()).String(), CreatedAt: now, ExpiresAt: now.Add(dur),
		Reason: "defender: score " + itoa(total) + " within " + d.opts.Window.String() + " (last: " + why + ")"}
	d.bans = append(d.bans, ban)
	d.nets = append(d.nets, netip.PrefixFrom(addr, addr.BitLen()))
	d.mu.Unlock()
	d.log.Warn("address banned", "remote", addr.String(), "for", dur, "reason", ban.Reason)
	if err := d.opts.Store.AddBan(context.WithoutCancel(ctx), &ban); err != nil {
		d.log.Error("cannot store ban", "remote", addr.String(), "err", err)
	}
	if d.opts.OnBan != nil {
		d.opts.OnBan(ban)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
