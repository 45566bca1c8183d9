package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/observer"
)

// TestDevSettings checks how aam dev settles each role's settings: its
// own defaults under the environment, the environment under the flags,
// and the values reach the roles' settings without touching the process
// environment.
func TestDevSettings(t *testing.T) {
	t.Parallel()
	flags := func() devFlags {
		return devFlags{dataDir: t.TempDir(), gatewayAddr: "127.0.0.1:18080", emulatorAddr: "127.0.0.1:18000",
			emulatorJobs: "instant", observerEvery: devObserverInterval}
	}
	none := func(string) bool { return false }

	// Nothing set: aam dev's defaults.
	f := flags()
	cfg, s, err := devSettings(map[string]string{}, f, none)
	require.NoError(t, err)
	require.Equal(t, "console", cfg.Format)
	require.EqualValues(t, devPoolSize(runtime.GOMAXPROCS(0)), cfg.MaxConns)
	require.Equal(t, "postgres://aam:aam@127.0.0.1:5432/aam?sslmode=disable", cfg.URL.Value())
	require.Equal(t, 30*time.Second, s.Observer.Interval)
	// Other settings are the binary's defaults.
	binary, err := config.ParseFrom[observer.Config](map[string]string{})
	require.NoError(t, err)
	require.Equal(t, binary.Heal, s.Observer.Heal)
	require.Equal(t, binary.CheckSubject, s.Observer.CheckSubject)
	require.Equal(t, emulator.DefaultWorkspaceID, s.Onboarding.WorkspaceID)
	require.Equal(t, emulator.DefaultDestinationID, s.Onboarding.DestinationID)
	require.Equal(t, "127.0.0.1:18080", s.Gateway.Addr)
	require.Equal(t, "127.0.0.1:18000", s.Emulator.Addr)
	require.Equal(t, "instant", s.Emulator.Jobs)
	// The secret key is kept in the data folder, and read again next time.
	key, err := os.ReadFile(filepath.Join(f.dataDir, "secret.key"))
	require.NoError(t, err)
	require.NotEmpty(t, s.Broker.SecretKey.Value())
	_, again, err := devSettings(map[string]string{}, f, none)
	require.NoError(t, err)
	require.Equal(t, s.Broker.SecretKey, again.Broker.SecretKey)
	require.Contains(t, string(key), again.Broker.SecretKey.Value())

	// The environment wins over aam dev's defaults; an empty variable does
	// not.
	env := map[string]string{"LOG_FORMAT": "json", "OBSERVER_INTERVAL": "45s", "ONBOARDING_ACK_WAIT": "2s",
		"GATEWAY_ADDR": "127.0.0.1:1", "GATEWAY_TOKENS": "t1", "DATABASE_MAX_CONNS": "", "OBSERVER_HEAL": "off"}
	cfg, s, err = devSettings(env, flags(), none)
	require.NoError(t, err)
	require.Equal(t, "json", cfg.Format)
	require.EqualValues(t, devPoolSize(runtime.GOMAXPROCS(0)), cfg.MaxConns)
	require.Equal(t, 45*time.Second, s.Observer.Interval)
	require.Equal(t, observer.HealOff, s.Observer.Heal)
	require.Equal(t, 2*time.Second, s.Onboarding.AckWait)
	require.Equal(t, "t1", s.Gateway.Tokens.Value())
	// A flag wins over its variable (--gateway-addr always, as it has a
	// default of its own; --observer-interval when given).
	require.Equal(t, "127.0.0.1:18080", s.Gateway.Addr)
	f = flags()
	f.observerEvery = 5 * time.Second
	_, s, err = devSettings(env, f, func(flag string) bool { return flag == "observer-interval" })
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, s.Observer.Interval)

	// A real Airbyte has no default workspace.
	_, _, err = devSettings(map[string]string{"AIRBYTE_API_URL": "https://airbyte.example/api/public/v1"}, flags(), none)
	require.ErrorContains(t, err, "AIRBYTE_WORKSPACE_ID")

	// Bad values are named.
	_, _, err = devSettings(map[string]string{"OBSERVER_INTERVAL": "soon"}, flags(), none)
	require.ErrorContains(t, err, "OBSERVER_INTERVAL")
	f = flags()
	f.emulatorJobs = "slow"
	_, _, err = devSettings(map[string]string{}, f, none)
	require.ErrorContains(t, err, "--emulator-jobs")
}
