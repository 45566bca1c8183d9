package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/services/internal/gateway"
	"github.com/aam-mesh/aam/services/internal/gateway/gatewaytest"
)

// TestSeedCurlExamples sends the seed README's curl examples, with their
// exact paths and bodies (gatewaytest's Seed values); only the host differs.
// Each must answer as the seed documented.
func TestSeedCurlExamples(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	// The sync and repair examples name a connection the seed had
	// onboarded before.
	b.mesh.AddConnection(gatewaytest.SeedConnectionID, "Salesforce Production")

	// 5. Verify Health: curl http://localhost:8001/health
	r := b.do(http.MethodGet, "/health", "")
	require.Equal(t, http.StatusOK, r.status)

	// 1. Onboard a Salesforce Connection.
	r = b.do(http.MethodPost, "/connections/onboard", gatewaytest.SeedOnboardBody)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var onboarded map[string]any
	r.json(t, &onboarded)
	require.ElementsMatch(t, []string{"id", "name", "source_type", "status", "airbyte_source_id", "airbyte_connection_id", "created_at"},
		keys(onboarded))
	require.Equal(t, "Salesforce Production", onboarded["name"])
	require.Equal(t, "Salesforce", onboarded["source_type"])
	require.Equal(t, "ACTIVE", onboarded["status"])
	require.NotEmpty(t, onboarded["airbyte_source_id"])
	require.NotEmpty(t, onboarded["airbyte_connection_id"])
	_, err := time.Parse(time.RFC3339, onboarded["created_at"].(string))
	require.NoError(t, err)

	// 2. List All Connections: both are there, in the same shape.
	r = b.do(http.MethodGet, "/connections", "")
	require.Equal(t, http.StatusOK, r.status)
	var list []map[string]any
	r.json(t, &list)
	require.Len(t, list, 2)
	require.Equal(t, gatewaytest.SeedConnectionID, list[0]["id"])
	require.Equal(t, onboarded, list[1])

	// 3. Trigger a Sync: POST with Content-Type and no body.
	r = b.do(http.MethodPost, "/connections/"+gatewaytest.SeedConnectionID+"/sync", "", "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var synced map[string]any
	r.json(t, &synced)
	require.ElementsMatch(t, []string{"connection_id", "job_id", "status", "message"}, keys(synced))
	require.Equal(t, gatewaytest.SeedConnectionID, synced["connection_id"])
	require.Equal(t, "triggered", synced["status"])
	require.Equal(t, "Sync job started successfully", synced["message"])
	require.NotEmpty(t, synced["job_id"])

	// 4. Apply Catalog Update (Drift Repair).
	r = b.do(http.MethodPost, "/repair/apply_new_catalog", gatewaytest.SeedRepairBody(gatewaytest.SeedConnectionID))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var repaired map[string]any
	r.json(t, &repaired)
	require.Equal(t, map[string]any{
		"connection_id":    gatewaytest.SeedConnectionID,
		"previous_version": float64(1),
		"new_version":      float64(2),
		"status":           "success",
		"message":          "Catalog updated and versioned successfully",
	}, repaired)

	// GET /connections/{id} answers in the seed's shape too.
	r = b.do(http.MethodGet, "/connections/"+onboarded["id"].(string), "")
	require.Equal(t, http.StatusOK, r.status)
	var one map[string]any
	r.json(t, &one)
	require.Equal(t, onboarded, one)
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
