package transfer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
	"github.com/ferrymft/ferry/internal/remote"
)

// LocationPrefix starts a reference to a stored location wherever a URL is
// accepted: "location:NAME/path" is the location's URL with path joined to
// its path ("location:NAME" alone is the URL itself).
const LocationPrefix = "location:"

// LocationSource looks stored locations up (the store).
type LocationSource interface {
	GetLocation(ctx context.Context, name string) (*ferry.Location, error)
}

// Opener opens sealed secrets (secret.Box).
type Opener interface {
	Open(sealed, ad string) (string, error)
}

// SecretAD is the associated data a location's secret is sealed with, so
// a sealed value only opens for the location and field it was made for.
func SecretAD(location, field string) string { return "ferry location " + location + " " + field }

// IsLocationRef reports whether s names a stored location.
func IsLocationRef(s string) bool { return strings.HasPrefix(s, LocationPrefix) }

// Resolver turns location references into remote locations and dials
// them with their stored credentials. It is safe for concurrent use.
type Resolver struct {
	Locations LocationSource
	Secrets   Opener
	// Base are the options every dial starts from (timeout, logger,
	// known_hosts for host keys learnt on first use).
	Base remote.Options
	// Dialer replaces remote.Dial (tests).
	Dialer func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error)

	mu    sync.Mutex
	cache map[string]resolved
	down  map[string]time.Time // locations whose dial failed → skip until
	fails map[string]int       // transient failures in a row, by location
}

type resolved struct {
	base     remote.Location
	opts     remote.Options
	failover string // the backup location's name
}

// Parse reads a location reference, a URL or a local path.
func (r *Resolver) Parse(ctx context.Context, spec string) (remote.Location, error) {
	if !IsLocationRef(spec) {
		return remote.Parse(spec)
	}
	rest := strings.TrimPrefix(spec, LocationPrefix)
	name, sub, _ := strings.Cut(rest, "/")
	res, err := r.lookup(ctx, name)
	if err != nil {
		return remote.Location{}, err
	}
	l := res.base
	if sub != "" {
		dir := strings.HasSuffix(sub, "/")
		l = l.Join(strings.TrimSuffix(sub, "/"))
		if dir {
			l.Dir = true
			l.Raw += "/"
		}
	}
	return l, nil
}

// Forget drops cached locations, so changed credentials are used.
func (r *Resolver) Forget() {
	r.mu.Lock()
	r.cache = nil
	r.mu.Unlock()
}

func (r *Resolver) lookup(ctx context.Context, name string) (resolved, error) {
	r.mu.Lock()
	res, ok := r.cache[name]
	r.mu.Unlock()
	if ok {
		return res, nil
	}
	if r.Locations == nil {
		return res, fmt.Errorf("location %q: no location store (give a data directory)", name)
	}
	loc, err := r.Locations.GetLocation(ctx, name)
	if err != nil {
		return res, err
	}
	base, err := remote.Parse(loc.URL)
	if err != nil {
		return res, fmt.Errorf("location %q: %w", name, err)
	}
	base.Name = name
	o := r.Base
	o.Insecure = loc.Insecure
	o.HostKey = loc.HostKey
	o.Active = loc.Active
	if loc.Password != "" || loc.PrivateKey != "" {
		if r.Secrets == nil {
			return res, fmt.Errorf("location %q: no secret key to open its credentials", name)
		}
		if o.Password, err = r.Secrets.Open(loc.Password, SecretAD(name, "password")); err != nil {
			return res, fmt.Errorf("location %q: password: %w", name, err)
		}
		key, err := r.Secrets.Open(loc.PrivateKey, SecretAD(name, "key"))
		if err != nil {
			return res, fmt.Errorf("location %q: private key: %w", name, err)
		}
		if key != "" {
			o.Identity = []byte(key)
		}
	}
	res = resolved{base: base, opts: o, failover: loc.Failover}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]resolved{}
	}
	r.cache[name] = res
	r.mu.Unlock()
	return res, nil
}

func (r *Resolver) dial() func(ctx context.Context, l remote.Location, o remote.Options) (remote.FS, error) {
	if r.Dialer != nil {
		return r.Dialer
	}
	return remote.Dial
}

// Dial connects to a location: with its stored credentials when it came
// from a reference, else with Base. When a stored location cannot be
// reached or refuses the login and names a failover, its backup is dialled
// instead (and preferred for FailoverCooldown); the connection then maps
// the location's paths onto the backup's.
func (r *Resolver) Dial(ctx context.Context, l remote.Location) (remote.FS, error) {
	dial := r.dial()
	if l.Name == "" {
		return dial(ctx, l, r.Base)
	}
	res, err := r.lookup(ctx, l.Name)
	if err != nil {
		return nil, err
	}
	var backupErr error // the backup, tried first, failed too
	if res.failover != "" && r.isDown(l.Name) {
		perr := fmt.Errorf("location %q: failed less than %v ago", l.Name, FailoverCooldown)
		f, err := r.dialFailover(ctx, l, res, perr)
		if err == nil {
			return f, nil
		}
		backupErr = err
	}
	f, err := dial(ctx, l, res.opts)
	if err != nil {
		err = fmt.Errorf("location %q: %w", l.Name, err)
		if res.failover == "" {
			return nil, err
		}
		r.markDown(l.Name, ctx.Err() == nil)
		if backupErr != nil {
			return nil, fmt.Errorf("%w (and its failover: %w)", err, backupErr)
		}
		return r.dialFailover(ctx, l, res, err)
	}
	r.markDown(l.Name, false)
	return f, nil
}

// CheckSpec checks a transfer's source or destination before it is
// stored: a location reference must name a stored location, and a URL
// must parse and hold no password (it would be stored in clear). Errors
// wrap ferry.ErrInvalid.
func CheckSpec(ctx context.Context, locs LocationSource, field, spec string) error {
	if spec == "" {
		return fmt.Errorf("%w: %s is required", ferry.ErrInvalid, field)
	}
	if IsLocationRef(spec) {
		name, _, _ := strings.Cut(strings.TrimPrefix(spec, LocationPrefix), "/")
		if _, err := locs.GetLocation(ctx, name); err != nil {
			return fmt.Errorf("%w: %s: %s: %w", ferry.ErrInvalid, field, spec, err)
		}
		return nil
	}
	l, err := remote.Parse(spec)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ferry.ErrInvalid, field, err)
	}
	if l.HasPass {
		return fmt.Errorf("%w: %s: a URL with a password would be stored in clear; add a location and use location:NAME/path", ferry.ErrInvalid, field)
	}
	return nil
}
