package app

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ferrymft/ferry/internal/auth"
	"github.com/ferrymft/ferry/internal/config"
	"github.com/ferrymft/ferry/internal/core"
	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/store"
)

// applyPolicyConfig turns the defender and limits settings into engine
// options.
func (a *App) applyPolicyConfig(o *core.Options) error {
	c := a.cfg
	var err error
	if o.AllowCIDRs, err = prefixes(c.Limits.AllowCIDRs); err != nil {
		return err
	}
	if o.DenyCIDRs, err = prefixes(c.Limits.DenyCIDRs); err != nil {
		return err
	}
	o.MaxSessions, o.MaxSessionsPerIP = c.Limits.MaxSessions, c.Limits.MaxSessionsPerIP
	o.MinFreePercent = c.Limits.MinFreePercent
	o.HomeDirs = c.Users.HomeDirs
	o.BandwidthUp, o.BandwidthDown = c.Limits.BandwidthUp, c.Limits.BandwidthDown
	o.LoginsPerMinute = c.Limits.LoginsPerMinute
	if o.PasswordPolicy, err = PasswordPolicy(c); err != nil {
		return err
	}
	if !*c.Defender.Enabled {
		return nil
	}
	safe, err := prefixes(c.Defender.SafeList)
	if err != nil {
		return err
	}
	a.def = auth.NewDefender(auth.DefenderOptions{
		Store: a.store, Threshold: c.Defender.Threshold, Window: c.Defender.Window.D(),
		BanTime: c.Defender.BanTime.D(), MaxBanTime: c.Defender.MaxBanTime.D(), SafeList: safe, Logger: a.log,
		OnBan: func(b ferry.Ban) {
			a.bus.Publish(ferry.Event{Type: ferry.EventBan, Remote: b.Network, Status: "ok", Detail: b.Reason})
		},
	})
	o.Defender = a.def
	o.FailureDelay = c.Defender.FailureDelay.D()
	return a.def.Refresh(context.Background())
}

func prefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := ferry.ParseCIDR(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// watchChanges returns the change-counter function the service manager
// polls; when the store changed it also refreshes live sessions' accounts
// and the defender's bans, so every change applies within a poll.
func (a *App) watchChanges() func(context.Context) (int64, error) {
	var last atomic.Int64
	last.Store(-1)
	return func(ctx context.Context) (int64, error) {
		n, err := a.store.Changes(ctx)
		if err != nil {
			return n, err
		}
		if old := last.Swap(n); old != -1 && old != n {
			a.eng.Refresh(ctx)
			if a.def != nil {
				if err := a.def.Refresh(ctx); err != nil {
					a.log.Warn("reload bans", "err", err)
				}
			}
		}
		return n, nil
	}
}

// PasswordPolicy is what new passwords set by the CLI or the admin API
// must satisfy.
func PasswordPolicy(c *config.Config) (auth.PasswordPolicy, error) {
	p := auth.PasswordPolicy{MinLength: c.Users.PasswordMinLength}
	if f := c.Users.PasswordBlocklist; f != "" {
		bl, err := auth.LoadBlocklist(f)
		if err != nil {
			return p, err
		}
		p.Blocklist = bl
	}
	return p, nil
}

// HomeFor expands users.home_template (default <home_root>/${user}) for a
// new user and its first group.
func HomeFor(c *config.Config, user, group string) string {
	t := c.Users.HomeTemplate
	if t == "" {
		return filepath.Join(c.Users.HomeRoot, user)
	}
	return filepath.Clean(strings.NewReplacer("${user}", user, "${group}", group).Replace(t))
}

// usageStore adapts the store's usage records to core.
type usageStore struct{ st *store.Store }

func (u usageStore) GetUsage(ctx context.Context, user string) (int64, int64, bool, error) {
	v, err := u.st.GetUsage(ctx, user)
	return v.Bytes, v.Files, !v.ScannedAt.IsZero(), err
}

func (u usageStore) AddUsage(ctx context.Context, user string, b, f int64) error {
	return u.st.AddUsage(ctx, user, b, f)
}

func (u usageStore) SetUsage(ctx context.Context, user string, b, f int64, now time.Time) error {
	return u.st.SetUsage(ctx, user, b, f, now)
}
