package emulator_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

// TestContractSeedFlow walks the flow the workers use, validating every request and
// response against Airbyte's OpenAPI documents (airbytespectest.Middleware reports
// each violation). It is skipped, and says so, when the documents are absent.
func TestContractSeedFlow(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobPending: 10 * time.Second, JobRunning: time.Minute}, setupOpts{validate: true})
	c := b.c

	// Token: JSON body (form is used by setup) and the Configuration API variant.
	tok := c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/applications/token",
		map[string]any{"client_id": emulator.DefaultClientID, "client_secret": emulator.DefaultClientSecret, "grant_type": "client_credentials"})
	require.Equal(t, "Bearer", tok["token_type"])
	require.EqualValues(t, 900, tok["expires_in"])
	ctok := c.ok(http.StatusOK, http.MethodPost, "/api/v1/applications/token",
		map[string]any{"client_id": emulator.DefaultClientID, "client_secret": emulator.DefaultClientSecret})
	require.Equal(t, []string{"access_token"}, keys(ctok))

	// Workspaces and definitions.
	ws := c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/workspaces", nil)
	require.Len(t, ws["data"], 1)
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/workspaces/"+wsID, nil)
	defs := c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/workspaces/"+wsID+"/definitions/sources", nil)
	require.Equal(t, sfDef, defs["data"].([]any)[0].(map[string]any)["id"])
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/workspaces/"+wsID+"/definitions/sources/"+sfDef, nil)
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/connector_definitions?type=source&workspaceId="+wsID, nil)
	c.ok(http.StatusOK, http.MethodPost, "/api/v1/source_definitions/list_for_workspace", map[string]any{"workspaceId": wsID})
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/destinations", nil)
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/destinations/"+destID, nil)

	// Sources: public create/get/patch/put, config create.
	srcID := b.createSource(t)
	src := c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/sources/"+srcID, nil)
	require.Equal(t, "**********", src["configuration"].(map[string]any)["client_secret"])
	c.ok(http.StatusOK, http.MethodPatch, "/api/public/v1/sources/"+srcID, map[string]any{"name": "acme-sf"})
	c.ok(http.StatusOK, http.MethodPut, "/api/public/v1/sources/"+srcID, map[string]any{"name": "acme-sf", "configuration": src["configuration"]})
	cs := c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/create", map[string]any{
		"sourceDefinitionId": sfDef, "workspaceId": wsID, "name": "second",
		"connectionConfiguration": map[string]any{"client_id": "a", "client_secret": "b", "refresh_token": "c"},
	})
	require.Equal(t, "**********", cs["connectionConfiguration"].(map[string]any)["refresh_token"])
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/sources?limit=1", nil)
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/sources?limit=1&offset=1", nil)

	// Discover: fresh (disable_cache) then cached.
	fresh := c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/discover_schema", map[string]any{"sourceId": srcID, "disable_cache": true})
	require.Equal(t, srcID, fresh["jobInfo"].(map[string]any)["configId"])
	cached := c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/discover_schema", map[string]any{"sourceId": srcID})
	require.Equal(t, "NoConfiguration", cached["jobInfo"].(map[string]any)["configId"])
	require.Equal(t, fresh["catalogId"], cached["catalogId"])

	// Streams and connection.
	r := c.pub(http.MethodGet, "/streams?sourceId="+srcID+"&destinationId="+destID, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	connID := b.createConnection(t, srcID, map[string]any{
		"schedule":                         map[string]any{"scheduleType": "cron", "cronExpression": "0 0 * * * ?"},
		"nonBreakingSchemaUpdatesBehavior": "propagate_columns",
		"prefix":                           "sf_",
	})
	conn := c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/connections/"+connID, nil)
	require.Equal(t, "0 0 * * * ? UTC", conn["schedule"].(map[string]any)["cronExpression"])
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/connections?workspaceIds="+wsID, nil)
	c.ok(http.StatusOK, http.MethodPatch, "/api/public/v1/connections/"+connID, map[string]any{"name": "renamed",
		"configurations": map[string]any{"streams": []any{map[string]any{"name": "Account", "syncMode": "incremental_deduped_history"}}}})

	// Jobs: create, follow to terminal, config views.
	jobID := b.startSync(t, connID)
	require.Equal(t, "pending", b.job(t, jobID)["status"])
	b.clock.Advance(10 * time.Second)
	require.Equal(t, "running", b.job(t, jobID)["status"])
	b.clock.Advance(time.Minute)
	require.Equal(t, "succeeded", b.job(t, jobID)["status"])
	c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/get", map[string]any{"id": jobID})
	c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/list", map[string]any{"configTypes": []string{"sync"}, "configId": connID})
	c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/list_for_workspaces", map[string]any{"configTypes": []string{"sync"},
		"workspaceIds": []string{wsID}, "statuses": []string{"running", "succeeded"}, "updatedAtStart": t0.Format(time.RFC3339),
		"orderByField": "updatedAt", "orderByMethod": "DESC", "pagination": map[string]any{"pageSize": 100, "rowOffset": 0}})
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/jobs?connectionId="+connID+"&jobType=sync&status=succeeded&orderBy=createdAt|ASC&limit=5", nil)
	r = c.cfg("/connections/status", map[string]any{"connectionIds": []string{connID}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var statuses []map[string]any
	r.json(t, &statuses)
	require.Equal(t, "synced", statuses[0]["connectionSyncStatus"])

	// connections/get → update with a changed syncCatalog.
	got := c.ok(http.StatusOK, http.MethodPost, "/api/v1/connections/get", map[string]any{"connectionId": connID})
	streams := got["syncCatalog"].(map[string]any)["streams"].([]any)
	require.Len(t, streams, 1)
	catalog := fresh["catalog"].(map[string]any)["streams"].([]any)
	var contact map[string]any
	for _, s := range catalog {
		if s.(map[string]any)["stream"].(map[string]any)["name"] == "Contact" {
			contact = s.(map[string]any)
		}
	}
	contact["config"].(map[string]any)["selected"] = true
	upd := c.ok(http.StatusOK, http.MethodPost, "/api/v1/connections/update", map[string]any{
		"connectionId":    connID,
		"syncCatalog":     map[string]any{"streams": append(streams, contact)},
		"sourceCatalogId": fresh["catalogId"],
		"breakingChange":  false,
	})
	require.Len(t, upd["syncCatalog"].(map[string]any)["streams"], 2)

	// Drift: discover with connectionId returns a diff and no jobInfo.
	require.NoError(t, b.emu.MutateSchema(srcID, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"}))
	d := c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/discover_schema", map[string]any{"sourceId": srcID, "connectionId": connID, "disable_cache": true})
	require.NotContains(t, d, "jobInfo")
	require.Len(t, d["catalogDiff"].(map[string]any)["transforms"], 1)

	// A running job is cancelled by DELETE; then config cancel of a terminal job.
	job2 := b.startSync(t, connID)
	b.clock.Advance(10 * time.Second)
	cancelled := c.ok(http.StatusOK, http.MethodDelete, "/api/public/v1/jobs/"+itoa(job2), nil)
	require.Equal(t, "cancelled", cancelled["status"])
	c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/cancel", map[string]any{"id": job2})
	sync := c.ok(http.StatusOK, http.MethodPost, "/api/v1/connections/sync", map[string]any{"connectionId": connID})
	require.Equal(t, "pending", sync["job"].(map[string]any)["status"])

	// Deletes.
	c.ok(http.StatusNoContent, http.MethodDelete, "/api/public/v1/connections/"+connID, nil)
	c.ok(http.StatusNoContent, http.MethodDelete, "/api/public/v1/sources/"+srcID, nil)
	c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/sources?includeDeleted=true", nil)
}

// TestContractErrors checks that every error the emulator produces has the shape
// Airbyte's servers use (validated by the middleware) and the status the
// reference documents.
func TestContractErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobPending: time.Minute}, setupOpts{validate: true})
	srcID := b.createSource(t)
	connID := b.createConnection(t, srcID, nil)
	b.startSync(t, connID)
	unknown := "00000000-0000-4000-8000-000000000001"

	tests := []struct {
		name   string
		method string
		path   string
		body   any
		noAuth bool
		want   int
	}{
		{name: "source not found", method: http.MethodGet, path: "/api/public/v1/sources/" + unknown, want: 404},
		{name: "connection not found", method: http.MethodGet, path: "/api/public/v1/connections/" + unknown, want: 404},
		{name: "workspace not found", method: http.MethodGet, path: "/api/public/v1/workspaces/" + unknown, want: 404},
		{name: "definition not found", method: http.MethodGet, path: "/api/public/v1/workspaces/" + wsID + "/definitions/sources/" + unknown, want: 404},
		{name: "unknown sourceType", method: http.MethodPost, path: "/api/public/v1/sources", want: 400,
			body: map[string]any{"name": "x", "workspaceId": wsID, "configuration": map[string]any{"sourceType": "nosuch"}}},
		{name: "known sourceType without definition", method: http.MethodPost, path: "/api/public/v1/sources", want: 404,
			body: map[string]any{"name": "x", "workspaceId": wsID, "configuration": map[string]any{"sourceType": "postgres"}}},
		{name: "neither definitionId nor sourceType", method: http.MethodPost, path: "/api/public/v1/sources", want: 422,
			body: map[string]any{"name": "x", "workspaceId": wsID, "configuration": map[string]any{"client_id": "a"}}},
		{name: "missing required config", method: http.MethodPost, path: "/api/public/v1/sources", want: 422,
			body: map[string]any{"name": "x", "workspaceId": wsID, "definitionId": sfDef, "configuration": map[string]any{"client_id": "a"}}},
		{name: "invalid stream", method: http.MethodPost, path: "/api/public/v1/connections", want: 400,
			body: map[string]any{"sourceId": srcID, "destinationId": destID, "configurations": map[string]any{"streams": []any{map[string]any{"name": "Nope"}}}}},
		{name: "refresh job", method: http.MethodPost, path: "/api/public/v1/jobs", want: 422,
			body: map[string]any{"connectionId": connID, "jobType": "refresh"}},
		{name: "sync already running", method: http.MethodPost, path: "/api/public/v1/jobs", want: 409,
			body: map[string]any{"connectionId": connID, "jobType": "sync"}},
		{name: "config sync already running", method: http.MethodPost, path: "/api/v1/connections/sync", want: 409,
			body: map[string]any{"connectionId": connID}},
		{name: "unknown job", method: http.MethodGet, path: "/api/public/v1/jobs/999", want: 409},
		{name: "config unknown job", method: http.MethodPost, path: "/api/v1/jobs/get", want: 404, body: map[string]any{"id": 999}},
		{name: "config connection not found", method: http.MethodPost, path: "/api/v1/connections/get", want: 404,
			body: map[string]any{"connectionId": unknown}},
		{name: "config discover source not found", method: http.MethodPost, path: "/api/v1/sources/discover_schema", want: 404,
			body: map[string]any{"sourceId": unknown}},
		{name: "no token", method: http.MethodGet, path: "/api/public/v1/workspaces", noAuth: true, want: 401},
		{name: "config no token", method: http.MethodPost, path: "/api/v1/connections/get", noAuth: true, want: 401,
			body: map[string]any{"connectionId": connID}},
		{name: "bad credentials", method: http.MethodPost, path: "/api/public/v1/applications/token", noAuth: true, want: 400,
			body: map[string]any{"client_id": "x", "client_secret": "y", "grant_type": "client_credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *b.c
			c.t = t
			if tt.noAuth {
				c.token = ""
			}
			r := c.do(tt.method, tt.path, tt.body)
			require.Equal(t, tt.want, r.status, string(r.body))
			require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/json"))
		})
	}
}

// TestContractPaginationLinks checks Airbyte's link rules on a validated list.
func TestContractPaginationLinks(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{APIHost: "http://localhost:8001/api/public"}, setupOpts{validate: true})
	for range 3 {
		b.createSource(t)
	}
	page := func(q string) (prev, next string, n int) {
		m := b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/sources?"+q, nil)
		return m["previous"].(string), m["next"].(string), len(m["data"].([]any))
	}
	prev, next, n := page("limit=2")
	require.Equal(t, 2, n)
	require.Empty(t, prev)
	require.Equal(t, "http://localhost:8001/api/public/v1/sources?includeDeleted=false&limit=2&offset=2", next)

	prev, next, n = page("limit=2&offset=2")
	require.Equal(t, 1, n)
	require.Equal(t, "http://localhost:8001/api/public/v1/sources?includeDeleted=false&limit=2&offset=0", prev)
	require.Equal(t, "http://localhost:8001/api/public/v1/sources?includeDeleted=false&limit=2&offset=4", next, "next is set whenever the page is non-empty")

	prev, next, n = page("limit=2&offset=4")
	require.Zero(t, n)
	require.Empty(t, next)
	u, err := url.Parse(prev)
	require.NoError(t, err)
	require.Equal(t, "2", u.Query().Get("offset"))
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
