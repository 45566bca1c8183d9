package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// sameMap reports whether a and b are the same map (not merely equal ones).
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestStateIsShared checks that the emulator stores shared data once: sources
// share their definition's schema, connections the discovered streams, jobs the
// connection's stream names; a mutation copies only the streams it changes.
func TestStateIsShared(t *testing.T) {
	t.Parallel()
	e := New(Config{Seed: 1})
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	token, _ := e.auth.issue()
	call := func(method, path string, body any) map[string]any {
		t.Helper()
		b, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %v", method, path, out)
		return out
	}
	cfg := map[string]any{"sourceType": "salesforce", "client_id": "a", "client_secret": "b", "refresh_token": "c"}
	var sources, conns []string
	for range 2 {
		src := call(http.MethodPost, "/api/public/v1/sources", map[string]any{"name": "s", "workspaceId": DefaultWorkspaceID, "configuration": cfg})["sourceId"].(string)
		call(http.MethodPost, "/api/v1/sources/discover_schema", map[string]any{"sourceId": src})
		conns = append(conns, call(http.MethodPost, "/api/public/v1/connections", map[string]any{"sourceId": src, "destinationId": DefaultDestinationID})["connectionId"].(string))
		sources = append(sources, src)
	}
	jobs := make([]int64, 2)
	for i := range jobs {
		jobs[i] = int64(call(http.MethodPost, "/api/public/v1/jobs", map[string]any{"connectionId": conns[0], "jobType": "sync"})["jobId"].(float64))
		call(http.MethodGet, "/api/public/v1/jobs/"+itoa(jobs[i]), nil)
	}

	e.mu.Lock()
	def := e.st.sourceDefs[SalesforceDefinitionID]
	a, b := e.st.sources[sources[0]], e.st.sources[sources[1]]
	require.Same(t, def.schemaOf(), a.upstream, "a new source shares the definition's schema")
	require.Same(t, a.upstream, b.upstream)
	require.Len(t, e.st.catalogs, 1, "identical discovers are one actor catalog")
	ac := e.st.catalogs[a.lastFetch]
	require.Same(t, &def.Streams[0], &ac.Streams[0], "the actor catalog holds the schema's streams")
	ca, cb := e.st.connections[conns[0]], e.st.connections[conns[1]]
	for i := range ca.Catalog {
		require.Same(t, ca.Catalog[i].stream, cb.Catalog[i].stream, "connections share discovered streams")
	}
	ja, jb := e.st.jobs[jobs[0]], e.st.jobs[jobs[1]]
	require.Same(t, &ja.Streams[0], &jb.Streams[0], "jobs share the connection's stream names")
	e.mu.Unlock()

	require.NoError(t, e.MutateSchema(sources[0], SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"}))
	e.mu.Lock()
	require.NotSame(t, b.upstream, a.upstream)
	require.Same(t, def.schemaOf(), b.upstream, "the sibling keeps the shared schema")
	require.False(t, sameMap(def.Streams[0].JSONSchema, a.upstream.streams[0].JSONSchema), "the changed stream was copied")
	for i := 1; i < len(def.Streams); i++ {
		require.True(t, sameMap(def.Streams[i].JSONSchema, a.upstream.streams[i].JSONSchema), "unchanged stream %s is shared", def.Streams[i].Name)
	}
	e.mu.Unlock()

	// connections/update with streams as discovered stores the discovered ones.
	var streams []any
	for _, s := range call(http.MethodPost, "/api/v1/connections/get", map[string]any{"connectionId": conns[1]})["syncCatalog"].(map[string]any)["streams"].([]any) {
		streams = append(streams, s)
	}
	streams = append(streams, map[string]any{"stream": map[string]any{"name": "Custom"},
		"config": map[string]any{"selected": true, "syncMode": "full_refresh", "destinationSyncMode": "overwrite"}})
	call(http.MethodPost, "/api/v1/connections/update", map[string]any{"connectionId": conns[1], "syncCatalog": map[string]any{"streams": streams}})
	e.mu.Lock()
	defer e.mu.Unlock()
	require.Len(t, cb.Catalog, len(ca.Catalog)+1)
	for i := range ca.Catalog {
		require.Same(t, ca.Catalog[i].stream, cb.Catalog[i].stream, "stream %s sent back as discovered is shared", ca.Catalog[i].stream.Name)
	}
	custom := cb.Catalog[len(cb.Catalog)-1].stream
	require.Equal(t, "Custom", custom.Name)
	require.Equal(t, map[string]any{}, custom.JSONSchema, "a stream sent without a schema is stored with an empty one")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
