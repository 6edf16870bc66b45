package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// AddBan stores b, replacing the ban on the same network if there is one
// (keeping its ID). b.Network is a CIDR or a single address; it is stored,
// and written back into b, in canonical form: masked, IPv4-mapped IPv6
// unmapped, a single address as /32 or /128. AddBan sets b.ID and
// b.CreatedAt; a zero ExpiresAt makes the ban permanent.
func (s *Store) AddBan(ctx context.Context, b *ferry.Ban) error {
	network, err := canonicalNetwork(b.Network)
	if err != nil {
		return fmt.Errorf("store: ban %q: %w", b.Network, err)
	}
	if err := checkText("reason", b.Reason); err != nil {
		return fmt.Errorf("store: ban %q: %w", network, err)
	}
	expires, err := timeArg("expiry", b.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: ban %q: %w", network, err)
	}
	t := now()
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO bans (network, reason, created_at, expires_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (network) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at, expires_at = excluded.expires_at
			RETURNING id`, network, b.Reason, t.UnixNano(), expires).Scan(&id)
	})
	if err != nil {
		return fmt.Errorf("store: ban %q: %w", network, err)
	}
	b.ID, b.Network, b.CreatedAt = id, network, t
	return nil
}

// ListBans returns the bans still in force at now, ordered by network; a
// zero now returns every ban, expired or not.
func (s *Store) ListBans(ctx context.Context, now time.Time) ([]ferry.Ban, error) {
	q := `SELECT id, network, reason, created_at, expires_at FROM bans`
	var args []any
	if !now.IsZero() {
		n, err := timeArg("now", now)
		if err != nil {
			return nil, fmt.Errorf("store: list bans: %w", err)
		}
		q += ` WHERE expires_at IS NULL OR expires_at > $1`
		args = append(args, n)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY network`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list bans: %w", s.dbErr(err))
	}
	defer rows.Close()
	var out []ferry.Ban
	for rows.Next() {
		var b ferry.Ban
		if err := rows.Scan(&b.ID, &b.Network, &b.Reason, timeCol{&b.CreatedAt}, timeCol{&b.ExpiresAt}); err != nil {
			return nil, fmt.Errorf("store: list bans: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list bans: %w", s.dbErr(err))
	}
	return out, nil
}

// DeleteBan lifts the ban on network (in any form AddBan accepts), or fails
// with ferry.ErrNotFound.
func (s *Store) DeleteBan(ctx context.Context, network string) error {
	canon, err := canonicalNetwork(network)
	if err != nil {
		return fmt.Errorf("store: ban %q: %w", network, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM bans WHERE network = $1`, canon)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, ferry.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: ban %q: %w", canon, err)
	}
	return nil
}

// PurgeExpiredBans removes the bans expired at now and returns how many it
// removed. Removing none is not a change: the change counter stays, so a
// periodic purge does not wake every poller.
func (s *Store) PurgeExpiredBans(ctx context.Context, now time.Time) (int, error) {
	n, err := timeArg("now", now)
	if err != nil || n == nil {
		return 0, fmt.Errorf("store: purge bans: %w", cmp.Or(err, fmt.Errorf("now is zero: %w", ferry.ErrInvalid)))
	}
	var purged int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM bans WHERE expires_at <= $1`, n)
		if err != nil {
			return err
		}
		if purged, err = res.RowsAffected(); err == nil && purged == 0 {
			return errUnchanged
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge bans: %w", err)
	}
	return int(purged), nil
}

// canonicalNetwork parses a CIDR or an address into the one form a network
// is stored under, so the same network is never banned twice.
func canonicalNetwork(s string) (string, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return "", fmt.Errorf("network must be a CIDR (192.0.2.0/24, 2001:db8::/32) or an address: %w", ferry.ErrInvalid)
		}
		a = a.WithZone("")
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked().String(), nil
}
