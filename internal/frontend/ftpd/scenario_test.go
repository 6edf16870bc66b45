package ftpd

import (
	"testing"

	"github.com/ferrymft/ferry/internal/ferrytest"
)

func TestScenariosPlain(t *testing.T) {
	t.Parallel()
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer {
		addr := start(t, env, Options{TLSMode: TLSExplicit})
		return func(t *testing.T, user, pw string) ferrytest.Client {
			c, err := dialGo(t, addr, user, pw, nil)
			if err != nil {
				t.Fatalf("login %s: %v", user, err)
			}
			return c
		}
	})
}

func TestScenariosExplicitTLS(t *testing.T) {
	t.Parallel()
	ferrytest.RunScenarios(t, func(t *testing.T, env *ferrytest.Env) ferrytest.Dialer {
		addr := start(t, env, Options{TLSMode: TLSRequired})
		return func(t *testing.T, user, pw string) ferrytest.Client {
			c, err := dialGo(t, addr, user, pw, clientTLS())
			if err != nil {
				t.Fatalf("login %s: %v", user, err)
			}
			return c
		}
	})
}
