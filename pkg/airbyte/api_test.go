package airbyte

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// listOf serves n sources with the public API's paging rules (next set on
// every non-empty page, pointing at an internal host as OSS Helm does).
func listOf(n int, queries *[]url.Values, mu *sync.Mutex) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		*queries = append(*queries, q)
		mu.Unlock()
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit == 0 {
			limit = 20
		}
		offset, _ := strconv.Atoi(q.Get("offset"))
		data := []map[string]any{}
		for i := offset; i < min(offset+limit, n); i++ {
			data = append(data, map[string]any{"sourceId": fmt.Sprintf("src-%03d", i), "name": fmt.Sprintf("source %d", i), "createdAt": 1000 + i})
		}
		next := ""
		if len(data) > 0 {
			next = fmt.Sprintf("http://airbyte-server:8001/api/public/v1/sources?limit=%d&offset=%d", limit, offset+limit)
		}
		writeJSON(w, http.StatusOK, map[string]any{"previous": "", "next": next, "data": data})
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		n           int
		params      ListParams
		wantItems   int
		wantOffsets []string
	}{
		{name: "several full pages and a short one", n: 250, wantItems: 250, wantOffsets: []string{"", "100", "200"}},
		{name: "exact multiple ends on an empty page", n: 200, wantItems: 200, wantOffsets: []string{"", "100", "200"}},
		{name: "empty", n: 0, wantItems: 0, wantOffsets: []string{""}},
		{name: "custom page size and start", n: 25, params: ListParams{Limit: 10, Offset: 5}, wantItems: 20, wantOffsets: []string{"5", "15", "25"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var queries []url.Values
			var mu sync.Mutex
			b := setup(t, listOf(tt.n, &queries, &mu))
			tt.params.WorkspaceIDs = []string{testWorkspace, "b0796797-de23-4fc7-a5e2-7e131314718c"}
			got, err := b.client.ListAllSources(context.Background(), tt.params)
			require.NoError(t, err)
			require.Len(t, got, tt.wantItems)
			var offsets []string
			for _, q := range queries {
				offsets = append(offsets, q.Get("offset"))
				require.Equal(t, tt.params.WorkspaceIDs, q["workspaceIds"])
			}
			require.Equal(t, tt.wantOffsets, offsets)
			if tt.wantItems > 0 {
				require.Equal(t, fmt.Sprintf("src-%03d", tt.params.Offset), got[0].SourceID)
			}
		})
	}
}

func TestPaginationStopsOnEmptyNext(t *testing.T) {
	t.Parallel()
	var calls int
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		data := make([]map[string]any, 2)
		for i := range data {
			data[i] = map[string]any{"sourceId": fmt.Sprint(i), "name": "s"}
		}
		writeJSON(w, http.StatusOK, map[string]any{"previous": "", "next": "", "data": data})
	})
	got, err := b.client.ListAllSources(context.Background(), ListParams{Limit: 2})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, 1, calls)
}

func TestPaginationIteratorStopsEarly(t *testing.T) {
	t.Parallel()
	var queries []url.Values
	var mu sync.Mutex
	b := setup(t, listOf(500, &queries, &mu))
	n := 0
	for s, err := range b.client.Sources(context.Background(), ListParams{}) {
		require.NoError(t, err)
		n++
		if s.SourceID == "src-150" {
			break
		}
	}
	require.Equal(t, 151, n)
	require.Len(t, queries, 2)
}

func TestPaginationError(t *testing.T) {
	t.Parallel()
	var queries []url.Values
	var mu sync.Mutex
	inner := listOf(300, &queries, &mu)
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "100" {
			problem(w, http.StatusForbidden, "forbidden", "no")
			return
		}
		inner(w, r)
	})
	_, err := b.client.ListAllSources(context.Background(), ListParams{})
	require.True(t, IsAuth(err))
}

func TestFindSourceByName(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, []string{testWorkspace}, r.URL.Query()["workspaceIds"])
		writeJSON(w, http.StatusOK, map[string]any{"data": []map[string]any{
			{"sourceId": "c", "name": "aam-acme", "createdAt": 30},
			{"sourceId": "b", "name": "aam-acme", "createdAt": 20},
			{"sourceId": "a", "name": "AAM-ACME", "createdAt": 10},
			{"sourceId": "d", "name": "other", "createdAt": 5},
		}})
	})
	s, err := b.client.FindSourceByName(context.Background(), testWorkspace, "aam-acme")
	require.NoError(t, err)
	require.Equal(t, "b", s.SourceID, "the oldest exact match wins")

	_, err = b.client.FindSourceByName(context.Background(), testWorkspace, "missing")
	require.ErrorIs(t, err, ErrNotFound)
	require.True(t, IsNotFound(err))
}

func TestFindConnectionByName(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"data": []map[string]any{
			{"connectionId": "old-deleted", "name": "aam-acme", "status": "deprecated", "createdAt": 1},
			{"connectionId": "live", "name": "aam-acme", "status": "active", "createdAt": 2},
		}})
	})
	c, err := b.client.FindConnectionByName(context.Background(), testWorkspace, "aam-acme")
	require.NoError(t, err)
	require.Equal(t, "live", c.ConnectionID)
}

func TestFindSourceDefinition(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/public/v1/workspaces/"+testWorkspace+"/definitions/sources", r.URL.Path)
		writeJSON(w, http.StatusOK, map[string]any{"data": []map[string]any{
			{"id": "decd338e-5647-4c0b-adf4-da0e75f5a750", "name": "Postgres", "dockerRepository": "airbyte/source-postgres", "dockerImageTag": "3.6.0"},
			{"id": "b117307c-14b6-41aa-9422-947e34922962", "name": "Salesforce", "dockerRepository": "airbyte/source-salesforce", "dockerImageTag": "2.7.15"},
			{"id": "ffffffff-0000-4000-8000-000000000001", "name": "Google Ads (custom)", "dockerRepository": "airbyte/source-google-ads", "dockerImageTag": "1.0.0"},
		}})
	})
	ctx := context.Background()
	for _, in := range []string{"Salesforce", "salesforce", " SALESFORCE "} {
		d, err := b.client.FindSourceDefinition(ctx, testWorkspace, in)
		require.NoError(t, err, in)
		require.Equal(t, "b117307c-14b6-41aa-9422-947e34922962", d.ID)
	}
	d, err := b.client.FindSourceDefinition(ctx, testWorkspace, "Google Ads")
	require.NoError(t, err)
	require.Equal(t, "ffffffff-0000-4000-8000-000000000001", d.ID, "falls back to the docker repository")

	_, err = b.client.FindSourceDefinition(ctx, testWorkspace, "Hubspot")
	require.True(t, IsNotFound(err))
}

func TestCreateSourceWireFormat(t *testing.T) {
	t.Parallel()
	var got map[string]any
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, "/api/public/v1/sources", r.URL.Path)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		require.NoError(t, json.NewDecoder(r.Body).Decode(&got))
		writeJSON(w, http.StatusOK, map[string]any{"sourceId": testSource, "name": got["name"], "sourceType": "salesforce",
			"definitionId": got["definitionId"], "workspaceId": testWorkspace, "configuration": map[string]any{"client_secret": "**********"}, "createdAt": 1758053604})
	})
	s, err := b.client.CreateSource(context.Background(), testSourceCreate())
	require.NoError(t, err)
	require.Equal(t, testSource, s.SourceID)
	require.Equal(t, time.Date(2025, 9, 16, 20, 13, 24, 0, time.UTC), s.CreatedAt.Time())
	require.Equal(t, map[string]any{
		"name": "aam-acme-salesforce", "workspaceId": testWorkspace, "definitionId": "b117307c-14b6-41aa-9422-947e34922962",
		"configuration": map[string]any{"client_id": "3MVG9-id", "client_secret": "sf-secret-value", "refresh_token": "sf-refresh-value"},
	}, got)
}

func TestCreateConnectionWireFormat(t *testing.T) {
	t.Parallel()
	var got map[string]any
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, json.NewDecoder(r.Body).Decode(&got))
		writeJSON(w, http.StatusOK, map[string]any{
			"connectionId": testConnection, "name": "aam-acme", "sourceId": testSource, "destinationId": "d", "workspaceId": testWorkspace,
			"status": "active", "schedule": map[string]any{"scheduleType": "manual"}, "createdAt": 1, "tags": []any{},
			"configurations": map[string]any{"streams": []any{map[string]any{"name": "Account", "syncMode": "incremental_deduped_history",
				"cursorField": []string{"SystemModstamp"}, "primaryKey": [][]string{{"Id"}}, "selectedFields": []any{}, "mappers": []any{}}}},
		})
	})
	conn, err := b.client.CreateConnection(context.Background(), ConnectionCreateRequest{
		Name: "aam-acme", SourceID: testSource, DestinationID: "d",
		Configurations: &StreamConfigurations{Streams: []StreamConfiguration{
			{Name: "Account", SyncMode: SyncModeIncrementalDedupedHistory, SelectedFields: []SelectedField{}},
		}},
		Schedule:                         &ConnectionSchedule{ScheduleType: ScheduleManual},
		NonBreakingSchemaUpdatesBehavior: SchemaUpdatesIgnore,
	})
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"name": "aam-acme", "sourceId": testSource, "destinationId": "d",
		"configurations":                   map[string]any{"streams": []any{map[string]any{"name": "Account", "syncMode": "incremental_deduped_history"}}},
		"schedule":                         map[string]any{"scheduleType": "manual"},
		"nonBreakingSchemaUpdatesBehavior": "ignore",
	}, got, "empty selectedFields must not be sent back")
	require.Equal(t, [][]string{{"Id"}}, conn.Configurations.Streams[0].PrimaryKey)
	require.Equal(t, ConnectionActive, conn.Status)
}

func TestDiscoverSchema(t *testing.T) {
	t.Parallel()
	var gotBody map[string]any
	var mu sync.Mutex
	answer := `{"catalog":{"streams":[{"stream":{"name":"Account","jsonSchema":{"type":"object","properties":{"Id":{"type":["string","null"]}}},
		"supportedSyncModes":["full_refresh","incremental"],"sourceDefinedCursor":true,"defaultCursorField":["SystemModstamp"],
		"sourceDefinedPrimaryKey":[["Id"]],"isResumable":true,"someFutureField":1},
		"config":{"syncMode":"incremental","cursorField":["SystemModstamp"],"destinationSyncMode":"append_dedup","primaryKey":[["Id"]],
		"aliasName":"Account","selected":true,"suggested":true}}]},
		"catalogId":"5bd0c1b6-4c1e-4a39-9b5a-9c7f4b1d2e11",
		"jobInfo":{"id":"b2f7d0e2-1c1a-4a3e-8b7e-0d0c5f2f8a90","configType":"discover_schema","configId":"x","createdAt":1758053600,"endedAt":1758053660,"succeeded":true,"logs":{"logLines":[]}}}`
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/v1/sources/discover_schema", r.URL.Path)
		require.Equal(t, http.MethodPost, r.Method)
		mu.Lock()
		gotBody = nil
		require.NoError(t, json.NewDecoder(r.Body).Decode(&gotBody))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	})
	ctx := context.Background()
	api := b.client.ConfigAPI()

	d, err := api.DiscoverSchema(ctx, DiscoverSchemaRequest{SourceID: testSource})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"sourceId": testSource, "disable_cache": true}, gotBody, "fresh, read-only discover by default")
	require.Equal(t, "5bd0c1b6-4c1e-4a39-9b5a-9c7f4b1d2e11", d.CatalogID)
	acc, ok := d.Catalog.Stream("Account", "")
	require.True(t, ok)
	require.Equal(t, [][]string{{"Id"}}, acc.Stream.SourceDefinedPrimaryKey)
	require.JSONEq(t, `{"type":"object","properties":{"Id":{"type":["string","null"]}}}`, string(acc.Stream.JSONSchema))
	require.Equal(t, DestinationSyncAppendDedup, acc.Config.DestinationSyncMode)

	// Round trip: what the repair worker sends back holds only declared fields.
	out, err := json.Marshal(acc)
	require.NoError(t, err)
	require.NotContains(t, string(out), "someFutureField")
	require.Contains(t, string(out), `"selected":true`)

	_, err = api.DiscoverSchema(ctx, DiscoverSchemaRequest{SourceID: testSource, ConnectionID: testConnection, UseCache: true, Priority: PriorityHigh})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"sourceId": testSource, "connectionId": testConnection, "disable_cache": false, "priority": "high"}, gotBody)
}

func TestDiscoverSchemaFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jobInfo":{"id":"b2f7d0e2-1c1a-4a3e-8b7e-0d0c5f2f8a90","configType":"discover_schema","createdAt":1,"endedAt":2,"succeeded":false,
			"failureReason":{"failureOrigin":"source","failureType":"config_error","externalMessage":"Salesforce: INVALID_SESSION_ID","timestamp":1758053999000}}}`)
	})
	_, err := b.client.ConfigAPI().DiscoverSchema(context.Background(), DiscoverSchemaRequest{SourceID: testSource})
	var de *DiscoverError
	require.ErrorAs(t, err, &de)
	require.Equal(t, FailureConfigError, de.JobInfo.FailureReason.FailureType)
	require.Equal(t, time.UnixMilli(1758053999000).UTC(), de.JobInfo.FailureReason.Timestamp.Time())
	require.Contains(t, err.Error(), "INVALID_SESSION_ID")
}

func TestDiscoverWithConnectionDiff(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"catalog":{"streams":[]},"catalogId":"c2","breakingChange":true,"connectionStatus":"inactive",
			"catalogDiff":{"transforms":[
				{"transformType":"update_stream","streamDescriptor":{"name":"Account"},"updateStream":{
					"fieldTransforms":[
						{"transformType":"add_field","fieldName":["Region__c"],"breaking":false,"addField":{"schema":{"type":["string","null"]}}},
						{"transformType":"remove_field","fieldName":["SystemModstamp"],"breaking":true,"removeField":{"schema":{"type":["string","null"],"format":"date-time"}}},
						{"transformType":"update_field_schema","fieldName":["AnnualRevenue"],"breaking":false,"updateFieldSchema":{"oldSchema":{"type":["number","null"]},"newSchema":{"type":["string","null"]}}}],
					"streamAttributeTransforms":[{"transformType":"update_primary_key","breaking":true,"updatePrimaryKey":{"oldPrimaryKey":[["Id"]],"newPrimaryKey":[["External_Id__c"]]}}]}},
				{"transformType":"add_stream","streamDescriptor":{"name":"Invoice__c"}},
				{"transformType":"rename_stream","streamDescriptor":{"name":"Lead"}}]}}`)
	})
	d, err := b.client.ConfigAPI().DiscoverSchema(context.Background(), DiscoverSchemaRequest{SourceID: testSource, ConnectionID: testConnection})
	require.NoError(t, err, "a diff answer carries no jobInfo")
	require.True(t, *d.BreakingChange)
	require.Equal(t, ConnectionInactive, d.ConnectionStatus)
	require.True(t, d.CatalogDiff.HasBreakingChange())
	require.False(t, d.CatalogDiff.IsEmpty())
	u := d.CatalogDiff.Transforms[0].UpdateStream
	require.Equal(t, TransformRemoveField, u.FieldTransforms[1].TransformType)
	require.Equal(t, [][]string{{"External_Id__c"}}, u.StreamAttributeTransforms[0].UpdatePrimaryKey.NewPrimaryKey)
	require.JSONEq(t, `{"type":["string","null"]}`, string(u.FieldTransforms[2].UpdateFieldSchema.NewSchema))
	require.Equal(t, StreamTransformType("rename_stream"), d.CatalogDiff.Transforms[2].TransformType, "unknown transform decodes")
}

func TestConfigConnectionGetAndUpdate(t *testing.T) {
	t.Parallel()
	var updateBody map[string]any
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/connections/get":
			var in map[string]string
			require.NoError(t, json.NewDecoder(r.Body).Decode(&in))
			require.Equal(t, map[string]string{"connectionId": testConnection}, in)
		case "/api/v1/connections/update":
			require.NoError(t, json.NewDecoder(r.Body).Decode(&updateBody))
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
		_, _ = io.WriteString(w, `{"connectionId":"`+testConnection+`","name":"n","sourceId":"s","destinationId":"d","status":"active",
			"breakingChange":false,"sourceCatalogId":"cat-1","created_at":1758053604,"nonBreakingChangesPreference":"propagate_columns",
			"scheduleType":"cron","scheduleData":{"cron":{"cronExpression":"0 0 * * * ?","cronTimeZone":"UTC"}},
			"syncCatalog":{"streams":[{"stream":{"name":"Account","jsonSchema":{}},"config":{"syncMode":"incremental","destinationSyncMode":"append_dedup",
			"selected":true,"suggested":false,"selectedFields":[],"generationId":1,"minimumGenerationId":0,"syncId":42}}]}}`)
	})
	api := b.client.ConfigAPI()
	ctx := context.Background()
	conn, err := api.GetConnection(ctx, testConnection)
	require.NoError(t, err)
	require.Equal(t, "cat-1", conn.SourceCatalogID)
	require.Equal(t, EpochSeconds(1758053604), conn.CreatedAt)
	require.Equal(t, "UTC", conn.ScheduleData.Cron.CronTimeZone)
	cfg := conn.SyncCatalog.Streams[0].Config
	require.EqualValues(t, 42, *cfg.SyncID)
	require.EqualValues(t, 0, *cfg.MinimumGenerationID)

	f := false
	_, err = api.UpdateConnection(ctx, ConnectionUpdate{ConnectionID: testConnection, SyncCatalog: &conn.SyncCatalog,
		SourceCatalogID: "cat-2", BreakingChange: &f})
	require.NoError(t, err)
	require.Equal(t, false, updateBody["breakingChange"])
	require.Equal(t, "cat-2", updateBody["sourceCatalogId"])
	stream := updateBody["syncCatalog"].(map[string]any)["streams"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"syncMode": "incremental", "destinationSyncMode": "append_dedup", "selected": true,
		"generationId": 1.0, "minimumGenerationId": 0.0, "syncId": 42.0}, stream["config"])
	require.NotContains(t, updateBody, "name", "patch semantics: unset fields are not sent")
}

func TestJobs(t *testing.T) {
	t.Parallel()
	type call struct {
		method, path string
		query        url.Values
	}
	var mu sync.Mutex
	var calls []call
	jobs := map[int64]map[string]any{
		7: {"jobId": 7, "status": "running", "jobType": "sync", "connectionId": testConnection, "startTime": "2025-09-16T20:13:24Z"},
	}
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, call{r.Method, r.URL.Path, r.URL.Query()})
		mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/public/v1/jobs":
			var in map[string]string
			require.NoError(t, json.NewDecoder(r.Body).Decode(&in))
			require.Equal(t, map[string]string{"connectionId": testConnection, "jobType": "sync"}, in)
			problem(w, http.StatusConflict, "try-again-later", "A sync is already running for: "+testConnection)
		case r.Method == http.MethodGet && r.URL.Path == "/api/public/v1/jobs":
			var data []any
			if r.URL.Query().Get("status") == "running" {
				data = append(data, jobs[7])
			}
			writeJSON(w, http.StatusOK, map[string]any{"data": data})
		case r.Method == http.MethodGet && r.URL.Path == "/api/public/v1/jobs/7":
			writeJSON(w, http.StatusOK, jobs[7])
		case r.Method == http.MethodDelete && r.URL.Path == "/api/public/v1/jobs/7":
			problem(w, http.StatusConflict, "state-conflict", "Job is not currently running")
		case r.URL.Path == "/api/public/v1/jobs/8":
			problem(w, http.StatusConflict, "state-conflict", "Job is not currently running")
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
	})
	ctx := context.Background()

	_, err := b.client.StartSync(ctx, testConnection)
	require.True(t, IsSyncRunning(err))

	job, started, err := b.client.StartSyncOrGetRunning(ctx, testConnection)
	require.NoError(t, err)
	require.False(t, started)
	require.EqualValues(t, 7, job.JobID)
	require.Equal(t, JobStatusRunning, job.Status)
	st, err := job.StartTime.Time()
	require.NoError(t, err)
	require.Equal(t, time.Date(2025, 9, 16, 20, 13, 24, 0, time.UTC), st)
	mu.Lock()
	list := calls[len(calls)-1]
	mu.Unlock()
	require.Equal(t, testConnection, list.query.Get("connectionId"))
	require.Equal(t, "createdAt|DESC", list.query.Get("orderBy"))

	// Cancelling a job that is no longer running returns its state.
	jobs[7]["status"] = "succeeded"
	got, err := b.client.CancelJob(ctx, 7)
	require.NoError(t, err)
	require.Equal(t, JobStatusSucceeded, got.Status)

	// An unknown job id answers 409 "Job is not currently running".
	_, err = b.client.GetJob(ctx, 8)
	require.True(t, IsJobNotFound(err))
	_, err = b.client.CancelJob(ctx, 8)
	require.True(t, IsJobNotFound(err))
}

func TestRunningJobNoneAndSkippedStatus(t *testing.T) {
	t.Parallel()
	var statuses []string
	var mu sync.Mutex
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		st := r.URL.Query().Get("status")
		mu.Lock()
		statuses = append(statuses, st)
		mu.Unlock()
		if st == "queued" { // a v1.8.0 server does not know it
			problem(w, http.StatusBadRequest, "bad-request", "Invalid value queued")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": []any{
			map[string]any{"jobId": 1, "status": "succeeded", "jobType": "sync", "connectionId": testConnection, "startTime": "x"},
		}})
	})
	_, err := b.client.RunningJob(context.Background(), testConnection)
	require.ErrorIs(t, err, ErrNoRunningJob)
	require.Equal(t, []string{"running", "pending", "incomplete", "queued"}, statuses)
}

func TestStartSyncOrGetRunningStarts(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"jobId": 1234, "status": "pending", "jobType": "sync", "connectionId": testConnection, "startTime": "2025-09-16T20:13Z"})
	})
	job, started, err := b.client.StartSyncOrGetRunning(context.Background(), testConnection)
	require.NoError(t, err)
	require.True(t, started)
	require.EqualValues(t, 1234, job.JobID)
	st, err := job.StartTime.Time()
	require.NoError(t, err)
	require.Equal(t, time.Date(2025, 9, 16, 20, 13, 0, 0, time.UTC), st)
}

func TestStartSyncAfterAmbiguousFailureAdoptsRunningJob(t *testing.T) {
	t.Parallel()
	var posts int
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts++
			problem(w, http.StatusGatewayTimeout, "gateway-timeout", "upstream timed out") // the job may exist
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": []any{
			map[string]any{"jobId": 55, "status": "pending", "jobType": "sync", "connectionId": testConnection, "startTime": "x"},
		}})
	})
	job, started, err := b.client.StartSyncOrGetRunning(context.Background(), testConnection)
	require.NoError(t, err)
	require.False(t, started)
	require.EqualValues(t, 55, job.JobID)
	require.Equal(t, 1, posts)
}

func TestWaitForJob(t *testing.T) {
	t.Parallel()
	states := []string{"pending", "running", "incomplete", "running", "succeeded"}
	var n int
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		s := states[min(n, len(states)-1)]
		n++
		j := map[string]any{"jobId": 9, "status": s, "jobType": "sync", "connectionId": testConnection, "startTime": "2025-09-16T20:13:24Z"}
		if s == "succeeded" {
			j["lastUpdatedAt"], j["duration"], j["rowsSynced"], j["bytesSynced"] = "2025-09-16T20:15:00Z", "PT1M36S", 990, 51000
		}
		writeJSON(w, http.StatusOK, j)
	})
	var seen []JobStatus
	job, err := b.client.WaitForJob(context.Background(), 9, WaitOptions{PollInterval: time.Second, OnPoll: func(j *Job) { seen = append(seen, j.Status) }})
	require.NoError(t, err)
	require.Equal(t, JobStatusSucceeded, job.Status)
	require.EqualValues(t, 990, job.RowsSynced)
	d, err := job.Duration.Duration()
	require.NoError(t, err)
	require.Equal(t, 96*time.Second, d)
	require.Equal(t, []JobStatus{"pending", "running", "incomplete", "running", "succeeded"}, seen)
	require.Equal(t, []time.Duration{time.Second, time.Second, time.Second, time.Second}, b.sleeps.Waits())
}

func TestConfigJobInfo(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/v1/jobs/get", r.URL.Path)
		var in map[string]int64
		require.NoError(t, json.NewDecoder(r.Body).Decode(&in))
		require.Equal(t, map[string]int64{"id": 1234}, in)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"job":{"id":1234,"configType":"sync","configId":"c","createdAt":1758053604,"updatedAt":1758054000,"status":"failed",
			"aggregatedStats":{"recordsEmitted":1000,"bytesEmitted":52000,"recordsCommitted":990,"bytesCommitted":51000,"recordsRejected":0}},
			"attempts":[
			 {"attempt":{"id":0,"status":"failed","createdAt":1,"updatedAt":2,"failureSummary":{"failures":[{"failureOrigin":"source","failureType":"transient_error","externalMessage":"first","timestamp":1}]}},"logType":"formatted","logs":{"logLines":[]}},
			 {"attempt":{"id":1,"status":"failed","createdAt":3,"updatedAt":4,"failureSummary":{"partialSuccess":true,"failures":[{"failureOrigin":"source","failureType":"config_error","externalMessage":"Salesforce: INVALID_SESSION_ID","retryable":false,"timestamp":1758053999000,"streamDescriptor":{"name":"Account"}}]}}}
			]}`)
	})
	info, err := b.client.ConfigAPI().GetJob(context.Background(), 1234)
	require.NoError(t, err)
	require.Equal(t, JobStatusFailed, info.Job.Status)
	require.EqualValues(t, 990, info.Job.AggregatedStats.RecordsCommitted)
	require.Equal(t, "Salesforce: INVALID_SESSION_ID", info.FailureMessage())
	require.Len(t, info.FailureReasons(), 2)
	require.Equal(t, "Account", info.Attempts[1].Attempt.FailureSummary.Failures[0].StreamDescriptor.Name)
}

func TestGetStreamProperties(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, url.Values{"sourceId": {testSource}, "destinationId": {"d"}, "ignoreCache": {"true"}}, r.URL.Query())
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"streamName":"Account","streamnamespace":null,"syncModes":["full_refresh_append","incremental_deduped_history","some_new_mode"],
			"defaultCursorField":["SystemModstamp"],"sourceDefinedCursorField":true,"sourceDefinedPrimaryKey":[["Id"]],
			"propertyFields":[["Id"],["BillingAddress"],["BillingAddress","city"]]}]`)
	})
	props, err := b.client.GetStreamProperties(context.Background(), StreamPropertiesParams{SourceID: testSource, DestinationID: "d", IgnoreCache: true})
	require.NoError(t, err)
	require.Len(t, props, 1)
	require.Equal(t, "Account", props[0].StreamName)
	require.False(t, props[0].SyncModes[2].Known())
	require.True(t, props[0].SyncModes[1].Known())
}

func TestObserverSeesAttemptsAndCalls(t *testing.T) {
	t.Parallel()
	h, _ := failing(1, http.StatusBadGateway, nil, serveSource)
	b := setup(t, h)
	var mu sync.Mutex
	var reqs []RequestInfo
	var callsSeen []CallInfo
	b.client.obs = ObserverFuncs{
		Request: func(i RequestInfo) { mu.Lock(); reqs = append(reqs, i); mu.Unlock() },
		Call:    func(i CallInfo) { mu.Lock(); callsSeen = append(callsSeen, i); mu.Unlock() },
	}
	_, err := b.client.GetSource(context.Background(), testSource)
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	// token, getSource 502, getSource 200
	require.Len(t, reqs, 3)
	require.Equal(t, "createAccessToken", reqs[0].Operation)
	require.Equal(t, OutcomeServerError, reqs[1].Outcome)
	require.Equal(t, 502, reqs[1].StatusCode)
	require.Equal(t, 1, reqs[1].Attempt)
	require.Equal(t, 2, reqs[2].Attempt)
	require.Equal(t, OutcomeSuccess, reqs[2].Outcome)
	require.Equal(t, APIPublic, reqs[2].API)
	require.Len(t, callsSeen, 2)
	require.Equal(t, "getSource", callsSeen[1].Operation)
	require.Equal(t, 2, callsSeen[1].Attempts)
	require.Equal(t, OutcomeSuccess, callsSeen[1].Outcome)
}
