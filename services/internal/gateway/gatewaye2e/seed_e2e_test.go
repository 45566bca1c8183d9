package gatewaye2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
	"github.com/aam-mesh/aam/services/internal/onboarding"
	"github.com/aam-mesh/aam/services/internal/repair"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// TestSeedFlowWithRealWorkers sends the seed README's requests to the
// gateway with the real workers behind it: onboard, list, sync, repair, and
// each answers in the seed's shape. Only the connection id differs from
// the README's: it is the one the onboarding created.
func TestSeedFlowWithRealWorkers(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	broker := env.StartBroker()

	ocfg, err := config.ParseFrom[onboarding.Config](map[string]string{
		"AIRBYTE_WORKSPACE_ID": env.Emulator.WorkspaceID(), "AIRBYTE_DESTINATION_ID": env.Emulator.DestinationID()})
	require.NoError(t, err)
	ow, err := onboarding.New(env.Deps, env.Airbyte, broker.Client, ocfg)
	require.NoError(t, err)
	startSyncer(t, env)
	rcfg, err := config.ParseFrom[repair.Config](map[string]string{})
	require.NoError(t, err)
	rw, err := repair.New(env.Deps, env.Airbyte, rcfg)
	require.NoError(t, err)
	env.Go(ow.Run)
	env.Go(rw.Run)
	ts := startGateway(t, env)

	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m), "%s", b)
		return resp.StatusCode, m
	}

	status, conn := post("/connections/onboard", gatewaytest.SeedOnboardBody)
	require.Equal(t, http.StatusOK, status, "%v", conn)
	require.Equal(t, "ACTIVE", conn["status"])
	require.Equal(t, "Salesforce Production", conn["name"])
	require.NotEmpty(t, conn["airbyte_source_id"])
	require.NotEmpty(t, conn["airbyte_connection_id"])
	id := conn["id"].(string)

	resp, err := http.Get(ts.URL + "/connections")
	require.NoError(t, err)
	var list []map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.Equal(t, []map[string]any{conn}, list)

	status, synced := post("/connections/"+id+"/sync", "")
	require.Equal(t, http.StatusOK, status, "%v", synced)
	require.Equal(t, id, synced["connection_id"])
	require.NotEmpty(t, synced["job_id"])
	require.NotEmpty(t, synced["status"])

	status, repaired := post("/repair/apply_new_catalog", gatewaytest.SeedRepairBody(id))
	require.Equal(t, http.StatusOK, status, "%v", repaired)
	require.Equal(t, id, repaired["connection_id"])
	require.Equal(t, float64(1), repaired["previous_version"])
	require.Equal(t, float64(2), repaired["new_version"])
	require.Equal(t, "success", repaired["status"])
}
