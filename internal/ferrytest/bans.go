package ferrytest

import (
	"context"
	"sync"
	"time"

	"github.com/ferrymft/ferry/internal/ferry"
)

// Bans is an in-memory ban store for a defender under test
// (auth.DefenderOptions.Store).
type Bans struct {
	mu   sync.Mutex
	bans []ferry.Ban
}

// AddBan records a ban.
func (m *Bans) AddBan(_ context.Context, b *ferry.Ban) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bans = append(m.bans, *b)
	return nil
}

// ListBans returns every ban recorded (expiry is not applied).
func (m *Bans) ListBans(context.Context, time.Time) ([]ferry.Ban, error) { return m.List(), nil }

// List returns every ban recorded so far.
func (m *Bans) List() []ferry.Ban {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ferry.Ban(nil), m.bans...)
}
