package app

import (
	"context"

	"github.com/ferrymft/ferry/internal/ferry"
)

// resolvedUsers reads users for the event hooks with their home resolved:
// a user without a home of its own gets the one its groups' home template
// gives (FERRY_PATH, the payload's local_path).
type resolvedUsers struct{ a *App }

func (r resolvedUsers) GetUser(ctx context.Context, name string) (*ferry.User, error) {
	u, err := r.a.store.GetUser(ctx, name)
	if err != nil || u.Home != "" || r.a.eng == nil {
		return u, err
	}
	if home, err := r.a.eng.Home(ctx, name); err == nil {
		u.Home = home
	}
	return u, nil
}
