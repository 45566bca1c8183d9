package emulator_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestConnectionWithoutConfigurations(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	conn := b.c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/connections", map[string]any{"sourceId": src, "destinationId": destID})
	var names []string
	for _, s := range conn["configurations"].(map[string]any)["streams"].([]any) {
		m := s.(map[string]any)
		names = append(names, m["name"].(string))
		require.Equal(t, "full_refresh_overwrite", m["syncMode"])
		require.Equal(t, []any{}, m["selectedFields"])
	}
	require.Equal(t, []string{"Account", "Contact", "Lead", "Opportunity", "OpportunityStage", "Stage", "Task", "User"}, names,
		"a bare create keeps exactly the suggested streams")
	require.Equal(t, "manual", conn["schedule"].(map[string]any)["scheduleType"])
	require.Equal(t, "active", conn["status"])
	require.Equal(t, "ignore", conn["nonBreakingSchemaUpdatesBehavior"])
	require.Equal(t, "destination", conn["namespaceDefinition"])
}

func TestConnectionValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	stream := func(s map[string]any) map[string]any {
		return map[string]any{"sourceId": src, "destinationId": destID, "configurations": map[string]any{"streams": []any{s}}}
	}
	tests := []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"unknown stream", stream(map[string]any{"name": "Invoice__c"}),
			"No streams found with name [Invoice__c] and namespace [null]. Please call the https://reference.airbyte.com/reference/getstreamproperties endpoint to see the valid streams for this source."},
		{"duplicate stream", map[string]any{"sourceId": src, "destinationId": destID, "configurations": map[string]any{"streams": []any{
			map[string]any{"name": "Account"}, map[string]any{"name": "Account"}}}},
			"Duplicate stream found in configuration for stream name [Account] in namespace [null]."},
		{"invalid sync mode", stream(map[string]any{"name": "Account", "syncMode": "incremental_update"}),
			"Cannot set sync mode to incremental_update for stream Account. Valid sync modes are: [full_refresh_append, full_refresh_overwrite, incremental_append, incremental_deduped_history]"},
		{"source-defined cursor", stream(map[string]any{"name": "Account", "syncMode": "incremental_append", "cursorField": []string{"CreatedDate"}}),
			"Cursor Field [CreatedDate] is already defined by source for stream: Account. Do not include a cursor field configuration for this stream."},
		{"source-defined primary key", stream(map[string]any{"name": "Account", "syncMode": "incremental_deduped_history", "primaryKey": [][]string{{"Name"}}}),
			"Primary key for stream: Account is already pre-defined. Please remove the primaryKey or provide the value as [[Id]]."},
		{"empty selected fields", stream(map[string]any{"name": "Stage", "selectedFields": []any{}}),
			"No fields selected for stream Stage. The list of valid field names includes: [CreatedDate, DurableId, Id, IsActive, Label, Name, SortOrder, SystemModstamp]."},
		{"nested selected field", stream(map[string]any{"name": "Account", "selectedFields": []any{map[string]any{"fieldPath": []string{"BillingAddress", "city"}}}}),
			"Nested field selection not supported for stream Account."},
		{"selected fields without cursor", stream(map[string]any{"name": "Account", "syncMode": "incremental_append", "selectedFields": []any{map[string]any{"fieldPath": []string{"Id"}}}}),
			"Cursor field is not selected properly for stream: Account. Please include the cursor field in selected fields for this stream."},
		{"selected fields without primary key", stream(map[string]any{"name": "Account", "syncMode": "incremental_deduped_history", "selectedFields": []any{map[string]any{"fieldPath": []string{"SystemModstamp"}}}}),
			"Primary key fields are not selected properly for stream: Account. Please include primary key(s) in the configuration for this stream."},
		{"cron with seconds wildcard", map[string]any{"sourceId": src, "destinationId": destID, "schedule": map[string]any{"scheduleType": "cron", "cronExpression": "* 0 * * * ?"}},
			"The cron expression * 0 * * * ? is not valid or is less than the one hour minimum. The seconds and minutes values cannot be `*`."},
		{"cron without expression", map[string]any{"sourceId": src, "destinationId": destID, "schedule": map[string]any{"scheduleType": "cron"}},
			"Missing cron expression in the schedule."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *b.c
			c.t = t
			r := c.pub(http.MethodPost, "/connections", tt.body)
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			p := r.obj(t)
			require.Equal(t, "bad-request", p["title"])
			require.Equal(t, tt.msg, p["data"].(map[string]any)["message"])
		})
	}
	require.Empty(t, b.emu.Connections(), "no connection was created by a rejected request")
}

func TestConnectionSelectedFields(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	sel := []any{map[string]any{"fieldPath": []string{"Id"}}, map[string]any{"fieldPath": []string{"Amount"}}, map[string]any{"fieldPath": []string{"SystemModstamp"}}}
	conn := b.c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/connections", map[string]any{"sourceId": src, "destinationId": destID,
		"configurations": map[string]any{"streams": []any{map[string]any{"name": "Opportunity", "syncMode": "incremental_deduped_history", "selectedFields": sel}}}})
	s := conn["configurations"].(map[string]any)["streams"].([]any)[0].(map[string]any)
	require.Len(t, s["selectedFields"], 3)
	require.Equal(t, []any{"SystemModstamp"}, s["cursorField"])
	require.Equal(t, []any{[]any{"Id"}}, s["primaryKey"])
	got := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/connections/get", map[string]any{"connectionId": conn["connectionId"]})
	cfg := got["syncCatalog"].(map[string]any)["streams"].([]any)[0].(map[string]any)["config"].(map[string]any)
	require.Equal(t, true, cfg["fieldSelectionEnabled"])
	require.Equal(t, "append_dedup", cfg["destinationSyncMode"])
}

func TestPatchConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	conn := b.createConnection(t, src, map[string]any{"prefix": "sf_"})
	p := b.c.ok(http.StatusOK, http.MethodPatch, "/api/public/v1/connections/"+conn, map[string]any{
		"status": "inactive",
		"configurations": map[string]any{"streams": []any{
			map[string]any{"name": "Opportunity", "syncMode": "incremental_append"},
			map[string]any{"name": "Case"},
		}},
	})
	require.Equal(t, "inactive", p["status"])
	require.Equal(t, "sf_", p["prefix"], "omitted scalars are unchanged")
	streams := p["configurations"].(map[string]any)["streams"].([]any)
	require.Len(t, streams, 2, "configurations replace the stream set")
	require.Equal(t, "full_refresh_overwrite", streams[1].(map[string]any)["syncMode"], "omitted syncMode means full_refresh_overwrite")

	require.NoError(t, b.emu.SetConnectionStatus(conn, "locked", "billing"))
	r := b.c.pub(http.MethodPatch, "/connections/"+conn, map[string]any{"name": "x"})
	require.Equal(t, http.StatusConflict, r.status)
	require.Equal(t, "error:connection/locked", r.obj(t)["type"])
}

func TestStreamProperties(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	var props []map[string]any
	r := b.c.pub(http.MethodGet, "/streams?sourceId="+src, nil)
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &props)
	require.Len(t, props, 12)
	require.NotContains(t, props[0], "syncModes", "no destinationId: no sync modes")

	r = b.c.pub(http.MethodGet, "/streams?sourceId="+src+"&destinationId="+destID, nil)
	r.json(t, &props)
	acc := props[0]
	require.Equal(t, "Account", acc["streamName"])
	require.Equal(t, []any{"full_refresh_append", "full_refresh_overwrite", "incremental_append", "incremental_deduped_history"}, acc["syncModes"])
	require.Equal(t, []any{"SystemModstamp"}, acc["defaultCursorField"])
	require.Equal(t, true, acc["sourceDefinedCursorField"])
	require.Equal(t, []any{[]any{"Id"}}, acc["sourceDefinedPrimaryKey"])
	require.Contains(t, acc["propertyFields"], []any{"BillingAddress", "city"})
	var history map[string]any
	for _, p := range props {
		if p["streamName"] == "LoginHistory" {
			history = p
		}
	}
	require.Equal(t, []any{"LoginTime"}, history["defaultCursorField"])

	require.Equal(t, http.StatusBadRequest, b.c.pub(http.MethodGet, "/streams", nil).status)
}
