package emulator_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestSourceSecretsMasked(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	created := b.c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/sources", map[string]any{
		"name": "acme", "workspaceId": wsID, "definitionId": sfDef, "configuration": salesforceConfig(),
	})
	cfg := created["configuration"].(map[string]any)
	require.Equal(t, "**********", cfg["client_secret"])
	require.Equal(t, "**********", cfg["refresh_token"])
	require.Equal(t, "3MVG9-client", cfg["client_id"])
	require.NotContains(t, cfg, "sourceType", "sourceType is stripped before storing")
	require.Equal(t, "salesforce", created["sourceType"])
	require.EqualValues(t, t0.Unix(), created["createdAt"], "createdAt is epoch seconds")

	// Echoing the mask back keeps the stored secret; a new value replaces it.
	id := created["sourceId"].(string)
	b.c.ok(http.StatusOK, http.MethodPatch, "/api/public/v1/sources/"+id, map[string]any{"configuration": map[string]any{"client_secret": "**********", "is_sandbox": true}})
	r := b.c.pub(http.MethodPatch, "/sources/"+id, map[string]any{"configuration": map[string]any{"start_date": "yesterday"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "start_date must match the connector's pattern")
	snap := b.emu.Sources()[0]
	require.Equal(t, true, snap.Configuration["is_sandbox"])
	require.Equal(t, "**********", snap.Configuration["client_secret"], "snapshots are masked too")

	// Duplicates are allowed: no uniqueness on name.
	b.c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/sources", map[string]any{"name": "acme", "workspaceId": wsID, "definitionId": sfDef, "configuration": salesforceConfig()})
	require.Len(t, b.emu.Sources(), 2)
}

func TestSourceProblems(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	unknown := "00000000-0000-4000-8000-00000000abcd"

	r := b.c.pub(http.MethodGet, "/sources/"+unknown, nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, map[string]any{
		"status": 404.0,
		"type":   "https://reference.airbyte.com/reference/errors#resource-not-found",
		"title":  "resource-not-found",
		"detail": "The requested resource could not be found.",
		"data":   map[string]any{"resourceType": "SOURCE_CONNECTION", "resourceId": unknown},
	}, r.obj(t))

	r = b.c.pub(http.MethodPost, "/sources", map[string]any{"name": "x", "workspaceId": wsID, "configuration": map[string]any{"sourceType": "nosuch"}})
	require.Equal(t, http.StatusBadRequest, r.status)
	p := r.obj(t)
	require.Equal(t, "value-not-found", p["title"])
	require.Equal(t, map[string]any{"value": "nosuch"}, p["data"])

	r = b.c.pub(http.MethodPost, "/sources", map[string]any{"name": "x", "workspaceId": wsID, "definitionId": unknown, "configuration": map[string]any{}})
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "STANDARD_SOURCE_DEFINITION", r.obj(t)["data"].(map[string]any)["resourceType"])

	r = b.c.pub(http.MethodPost, "/sources", map[string]any{"name": "x", "workspaceId": wsID, "definitionId": sfDef, "configuration": map[string]any{"client_id": "a"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	msg := r.obj(t)["data"].(map[string]any)["message"].(string)
	require.Contains(t, msg, "$.client_secret: is missing but it is required")
	require.Contains(t, msg, "$.refresh_token: is missing but it is required")

	r = b.c.pub(http.MethodPost, "/sources", map[string]any{"name": "x", "workspaceId": wsID, "configuration": map[string]any{"client_id": "a"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
}

func TestDeleteSourceDeprecatesConnections(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	conn := b.createConnection(t, src, nil)
	b.c.ok(http.StatusNoContent, http.MethodDelete, "/api/public/v1/sources/"+src, nil)
	require.Equal(t, http.StatusNotFound, b.c.pub(http.MethodGet, "/sources/"+src, nil).status)
	require.Empty(t, b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/sources", nil)["data"])
	require.Len(t, b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/sources?includeDeleted=true", nil)["data"], 1)
	require.Equal(t, "deprecated", b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/connections/"+conn, nil)["status"])
	require.Empty(t, b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/connections", nil)["data"])
	require.Len(t, b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/connections?includeDeleted=true", nil)["data"], 1)
}

func TestRegisterSourceDefinition(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	const fakerID = "dfd88b22-b603-4c3d-aad7-3701784586b1"
	r := b.c.pub(http.MethodPost, "/sources", map[string]any{"name": "f", "workspaceId": wsID, "configuration": map[string]any{"sourceType": "faker"}})
	require.Equal(t, http.StatusNotFound, r.status, "faker is in the name map but not installed")

	require.NoError(t, b.emu.RegisterSourceDefinition(emulator.SourceDefinition{
		ID: fakerID, Name: "Sample Data (Faker)", SourceType: "faker", RequiredFields: []string{"count"},
		Streams: []emulator.Stream{{Name: "users", JSONSchema: map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "integer"}}},
			SupportedSyncModes: []string{"full_refresh"}, DefaultCursorField: []string{}, SourceDefinedPrimaryKey: [][]string{{"id"}}}},
	}))
	created := b.c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/sources", map[string]any{"name": "f", "workspaceId": wsID, "configuration": map[string]any{"sourceType": "faker", "count": 10}})
	require.Equal(t, fakerID, created["definitionId"])
	require.Equal(t, "faker", created["sourceType"])
	// A single-stream catalog is selected by default.
	conn := b.c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/connections", map[string]any{"sourceId": created["sourceId"], "destinationId": destID})
	require.Len(t, conn["configurations"].(map[string]any)["streams"], 1)
	require.Len(t, b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/workspaces/"+wsID+"/definitions/sources", nil)["data"], 2)
}

func TestDeterministicIDs(t *testing.T) {
	t.Parallel()
	ids := func(seed uint64) []string {
		b := setup(t, emulator.Config{Seed: seed})
		src := b.createSource(t)
		return []string{src, b.createConnection(t, src, nil)}
	}
	require.Equal(t, ids(99), ids(99))
	require.NotEqual(t, ids(99), ids(100))
	a := ids(99)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, a[0])
}

func TestWorkspaceAndDestination(t *testing.T) {
	t.Parallel()
	const ws2, dest2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	b := setup(t, emulator.Config{WorkspaceID: ws2, DestinationID: dest2})
	w := b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/workspaces/"+ws2, nil)
	require.Equal(t, "auto", w["dataResidency"])
	d := b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/destinations/"+dest2, nil)
	require.Equal(t, "postgres", d["destinationType"])
	require.Equal(t, ws2, d["workspaceId"])
	require.Equal(t, http.StatusNotFound, b.c.pub(http.MethodGet, "/workspaces/"+wsID, nil).status)
	require.Equal(t, http.StatusBadRequest, b.c.pub(http.MethodGet, "/workspaces?limit=0", nil).status)
}

// TestListsFilterByWorkspaceAndDeleted checks the query of the source,
// connection and destination lists: workspaceIds, includeDeleted (read by
// the source and connection lists only) and the filters in the page links.
func TestListsFilterByWorkspaceAndDeleted(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	b.createConnection(t, src, nil)
	other := "00000000-0000-0000-0000-000000000000"
	for _, list := range []string{"sources", "connections", "destinations"} {
		path := "/api/public/v1/" + list
		require.Len(t, b.c.ok(http.StatusOK, http.MethodGet, path+"?workspaceIds="+wsID, nil)["data"], 1, list)
		require.Len(t, b.c.ok(http.StatusOK, http.MethodGet, path+"?workspaceIds="+other+","+wsID, nil)["data"], 1, list)
		page := b.c.ok(http.StatusOK, http.MethodGet, path+"?workspaceIds="+other, nil)
		require.Empty(t, page["data"], list)
		require.Empty(t, page["next"], list)
		page = b.c.ok(http.StatusOK, http.MethodGet, path+"?workspaceIds="+wsID+"&includeDeleted=true&limit=1", nil)
		require.Contains(t, page["next"], "/v1/"+list+"?workspaceIds="+wsID+"&includeDeleted=true&limit=1&offset=1", list)
	}
	require.Equal(t, http.StatusBadRequest, b.c.pub(http.MethodGet, "/sources?includeDeleted=maybe", nil).status)
	require.Equal(t, http.StatusBadRequest, b.c.pub(http.MethodGet, "/connections?includeDeleted=maybe", nil).status)
	require.Len(t, b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/destinations?includeDeleted=maybe", nil)["data"], 1,
		"the destination list does not read includeDeleted")
	require.Equal(t, http.StatusBadRequest, b.c.pub(http.MethodGet, "/sources?limit=0", nil).status)
}
