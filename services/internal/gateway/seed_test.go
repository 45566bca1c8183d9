package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/services/internal/gateway"
)

// The seed README's curl examples, with their exact paths and bodies; only
// the host differs. Each must answer as the seed documented.
const (
	seedConnectionID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
	seedOnboardBody  = `{
    "source_type": "Salesforce",
    "connection_name": "Salesforce Production",
    "credential_id": "salesforce-prod"
  }`
	seedRepairBody = `{
    "connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    "new_sync_catalog": {
      "streams": [
        {
          "stream": {
            "name": "Account",
            "json_schema": {},
            "supported_sync_modes": ["full_refresh", "incremental"]
          },
          "sync_mode": "incremental",
          "destination_sync_mode": "append_dedup"
        }
      ]
    }
  }`
)

func TestSeedCurlExamples(t *testing.T) {
	t.Parallel()
	b := setup(t, gateway.Config{})
	// The sync and repair examples name a connection the seed had
	// onboarded before.
	b.mesh.AddConnection(seedConnectionID, "Salesforce Production")

	// 5. Verify Health: curl http://localhost:8001/health
	r := b.do(http.MethodGet, "/health", "")
	require.Equal(t, http.StatusOK, r.status)

	// 1. Onboard a Salesforce Connection.
	r = b.do(http.MethodPost, "/connections/onboard", seedOnboardBody)
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
	require.Equal(t, seedConnectionID, list[0]["id"])
	require.Equal(t, onboarded, list[1])

	// 3. Trigger a Sync: POST with Content-Type and no body.
	r = b.do(http.MethodPost, "/connections/"+seedConnectionID+"/sync", "", "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var synced map[string]any
	r.json(t, &synced)
	require.ElementsMatch(t, []string{"connection_id", "job_id", "status", "message"}, keys(synced))
	require.Equal(t, seedConnectionID, synced["connection_id"])
	require.Equal(t, "triggered", synced["status"])
	require.Equal(t, "Sync job started successfully", synced["message"])
	require.NotEmpty(t, synced["job_id"])

	// 4. Apply Catalog Update (Drift Repair).
	r = b.do(http.MethodPost, "/repair/apply_new_catalog", seedRepairBody)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var repaired map[string]any
	r.json(t, &repaired)
	require.Equal(t, map[string]any{
		"connection_id":    seedConnectionID,
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
