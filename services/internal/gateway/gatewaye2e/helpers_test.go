package gatewaye2e_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/syncer"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// startSyncer runs a sync worker of the default configuration on env
// until the test ends.
func startSyncer(t *testing.T, env *testenv.Env) {
	t.Helper()
	cfg, err := config.ParseFrom[syncer.Config](map[string]string{})
	require.NoError(t, err)
	w, err := syncer.New(env.Deps, env.Airbyte, cfg)
	require.NoError(t, err)
	env.Go(w.Run)
}

// startGateway serves a gateway of the default configuration on env until
// the test ends.
func startGateway(t *testing.T, env *testenv.Env) *httptest.Server {
	t.Helper()
	srv, err := gateway.New(gateway.DefaultConfig(), env.Deps)
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	return ts
}
