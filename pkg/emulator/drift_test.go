package emulator_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

// discoverDiff mutates the source, runs discover_schema with the connection and a
// fresh discover, and returns the response.
func discoverDiff(t *testing.T, b *testBundle, src, conn string, ops ...emulator.SchemaOp) map[string]any {
	t.Helper()
	require.NoError(t, b.emu.MutateSchema(src, ops...))
	return b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/discover_schema",
		map[string]any{"sourceId": src, "connectionId": conn, "disable_cache": true})
}

func decodeDiff(t *testing.T, v any) emulator.CatalogDiff {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	var d emulator.CatalogDiff
	require.NoError(t, json.Unmarshal(raw, &d))
	return d
}

func strType(types ...any) map[string]any { return map[string]any{"type": types} }

// TestCatalogDiffRules checks the diff and breaking flags against Airbyte's rules
// (CatalogDiffHelpers, fieldTransformBreaksConnection,
// primaryKeyTransformBreaksConnection). The connection syncs Account
// (incremental/append_dedup), Contact (incremental/append) and Lead
// (full_refresh/overwrite); Opportunity and the rest are not selected.
func TestCatalogDiffRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		ops          []emulator.SchemaOp
		want         []emulator.StreamTransform
		wantBreaking bool
	}{
		{
			name: "add field",
			ops:  []emulator.SchemaOp{{Op: "add_field", Stream: "Account", Field: "Region__c"}},
			want: updateStream("Account", []emulator.FieldTransform{
				{TransformType: "add_field", FieldName: []string{"Region__c"}, AddField: &emulator.FieldSchema{Schema: strType("string", "null")}},
			}, nil),
		},
		{
			name: "remove the cursor of an incremental stream",
			ops:  []emulator.SchemaOp{{Op: "remove_field", Stream: "Account", Field: "SystemModstamp"}},
			want: updateStream("Account", []emulator.FieldTransform{
				{TransformType: "remove_field", FieldName: []string{"SystemModstamp"}, Breaking: true,
					RemoveField: &emulator.FieldSchema{Schema: map[string]any{"type": []any{"string", "null"}, "format": "date-time"}}},
			}, nil),
			wantBreaking: true,
		},
		{
			name: "remove an ordinary field",
			ops:  []emulator.SchemaOp{{Op: "remove_field", Stream: "Account", Field: "Phone"}},
			want: updateStream("Account", []emulator.FieldTransform{
				{TransformType: "remove_field", FieldName: []string{"Phone"}, RemoveField: &emulator.FieldSchema{Schema: strType("string", "null")}},
			}, nil),
		},
		{
			name: "remove the primary key column of an append (not dedup) stream",
			ops:  []emulator.SchemaOp{{Op: "remove_field", Stream: "Contact", Field: "Id"}},
			want: updateStream("Contact", []emulator.FieldTransform{
				{TransformType: "remove_field", FieldName: []string{"Id"}, RemoveField: &emulator.FieldSchema{Schema: strType("string", "null")}},
			}, []emulator.StreamAttributeTransform{
				{TransformType: "update_primary_key", UpdatePrimaryKey: &emulator.PrimaryKeyUpdate{OldPrimaryKey: [][]string{{"Id"}}, NewPrimaryKey: [][]string{}}},
			}),
		},
		{
			name: "change a type",
			ops:  []emulator.SchemaOp{{Op: "change_type", Stream: "Account", Field: "AnnualRevenue", Type: "string"}},
			want: updateStream("Account", []emulator.FieldTransform{
				{TransformType: "update_field_schema", FieldName: []string{"AnnualRevenue"},
					UpdateFieldSchema: &emulator.FieldSchemaUpdate{OldSchema: strType("number", "null"), NewSchema: strType("string", "null")}},
			}, nil),
		},
		{
			name: "change the primary key of a dedup stream",
			ops: []emulator.SchemaOp{{Op: "add_field", Stream: "Account", Field: "External_Id__c"},
				{Op: "change_primary_key", Stream: "Account", PrimaryKey: [][]string{{"External_Id__c"}}}},
			want: updateStream("Account", []emulator.FieldTransform{
				{TransformType: "add_field", FieldName: []string{"External_Id__c"}, AddField: &emulator.FieldSchema{Schema: strType("string", "null")}},
			}, []emulator.StreamAttributeTransform{
				{TransformType: "update_primary_key", Breaking: true, UpdatePrimaryKey: &emulator.PrimaryKeyUpdate{OldPrimaryKey: [][]string{{"Id"}}, NewPrimaryKey: [][]string{{"External_Id__c"}}}},
			}),
			wantBreaking: true,
		},
		{
			name: "change the primary key of an append stream",
			ops:  []emulator.SchemaOp{{Op: "change_primary_key", Stream: "Contact", PrimaryKey: [][]string{{"Email"}}}},
			want: updateStream("Contact", nil, []emulator.StreamAttributeTransform{
				{TransformType: "update_primary_key", UpdatePrimaryKey: &emulator.PrimaryKeyUpdate{OldPrimaryKey: [][]string{{"Id"}}, NewPrimaryKey: [][]string{{"Email"}}}},
			}),
		},
		{
			name: "changes in an unselected stream are not reported",
			ops:  []emulator.SchemaOp{{Op: "remove_field", Stream: "Opportunity", Field: "SystemModstamp"}},
			want: []emulator.StreamTransform{},
		},
		{
			name: "add and remove streams, selected or not",
			ops: []emulator.SchemaOp{{Op: "add_stream", Stream: "Invoice__c"}, {Op: "remove_stream", Stream: "Campaign"},
				{Op: "remove_stream", Stream: "Lead"}},
			want: []emulator.StreamTransform{
				{TransformType: "remove_stream", StreamDescriptor: emulator.StreamDescriptor{Name: "Campaign"}},
				{TransformType: "add_stream", StreamDescriptor: emulator.StreamDescriptor{Name: "Invoice__c"}},
				{TransformType: "remove_stream", StreamDescriptor: emulator.StreamDescriptor{Name: "Lead"}},
			},
		},
		{
			name: "nested field",
			ops:  []emulator.SchemaOp{{Op: "add_field", Stream: "Account", Path: []string{"BillingAddress", "county"}}},
			want: nil, // checked below: parent and child both reported
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.Config{})
			src := b.createSource(t)
			conn := b.createConnection(t, src, nil)
			d := discoverDiff(t, b, src, conn, tt.ops...)
			diff := decodeDiff(t, d["catalogDiff"])
			require.Equal(t, tt.wantBreaking, d["breakingChange"])
			wantStatus := "active"
			if tt.wantBreaking {
				wantStatus = "inactive"
			}
			require.Equal(t, wantStatus, d["connectionStatus"])
			got := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/connections/get", map[string]any{"connectionId": conn})
			require.Equal(t, tt.wantBreaking, got["breakingChange"], "discover with connectionId persists the flag")
			require.Equal(t, wantStatus, got["status"])
			if tt.want == nil {
				require.Len(t, diff.Transforms, 1)
				var paths [][]string
				for _, f := range diff.Transforms[0].UpdateStream.FieldTransforms {
					paths = append(paths, f.FieldName)
				}
				require.Contains(t, paths, []string{"BillingAddress", "county"})
				return
			}
			if d := cmp.Diff(tt.want, diff.Transforms); d != "" {
				t.Fatalf("catalog diff (-want +got):\n%s", d)
			}
		})
	}
}

func TestDisablePreference(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	conn := b.createConnection(t, src, map[string]any{"nonBreakingSchemaUpdatesBehavior": "disable_connection"})
	d := discoverDiff(t, b, src, conn, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"})
	require.Equal(t, false, d["breakingChange"])
	require.Equal(t, "inactive", d["connectionStatus"], "preference disable pauses on any change")
}

func TestCachedDiscoverHasNoDiff(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	conn := b.createConnection(t, src, nil)
	require.NoError(t, b.emu.MutateSchema(src, emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "SystemModstamp"}))
	d := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/discover_schema", map[string]any{"sourceId": src, "connectionId": conn})
	require.NotContains(t, d, "catalogDiff", "a cached discover returns the cached catalog and no diff, even with connectionId")
	require.Equal(t, "NoConfiguration", d["jobInfo"].(map[string]any)["configId"])
	require.Equal(t, "active", b.emu.Connections()[0].Status)
}

// TestPreSyncSchemaCheck: the sync's own discover propagates non-breaking changes
// per preference and cancels the job when the change is breaking.
func TestPreSyncSchemaCheck(t *testing.T) {
	t.Parallel()
	t.Run("propagate_fully", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Config{JobRunning: time.Minute})
		src := b.createSource(t)
		conn := b.createConnection(t, src, map[string]any{"nonBreakingSchemaUpdatesBehavior": "propagate_fully"})
		before := b.emu.Connections()[0].SourceCatalogID
		require.NoError(t, b.emu.MutateSchema(src,
			emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"},
			emulator.SchemaOp{Op: "add_stream", Stream: "Invoice__c"},
			emulator.SchemaOp{Op: "remove_stream", Stream: "Lead"}))
		id := b.startSync(t, conn)
		require.Equal(t, "running", b.job(t, id)["status"])
		c := b.emu.Connections()[0]
		require.NotEqual(t, before, c.SourceCatalogID)
		var names []string
		for _, s := range c.Streams {
			names = append(names, s.Stream.Name)
			if s.Stream.Name == "Account" {
				require.Contains(t, s.Stream.JSONSchema["properties"], "Region__c")
			}
		}
		require.Equal(t, []string{"Account", "Contact", "Invoice__c"}, names)
		require.Len(t, c.LastDiff.Transforms, 3)
	})
	t.Run("ignore", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Config{})
		src := b.createSource(t)
		conn := b.createConnection(t, src, nil)
		require.NoError(t, b.emu.MutateSchema(src, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"}))
		id := b.startSync(t, conn)
		require.Equal(t, "succeeded", b.job(t, id)["status"])
		c := b.emu.Connections()[0]
		require.NotContains(t, c.Streams[0].Stream.JSONSchema["properties"], "Region__c")
		require.Len(t, c.LastDiff.Transforms, 1)
	})
	t.Run("breaking cancels the job", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Config{JobPending: time.Second})
		src := b.createSource(t)
		conn := b.createConnection(t, src, nil)
		require.NoError(t, b.emu.MutateSchema(src, emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "SystemModstamp"}))
		id := b.startSync(t, conn)
		b.clock.Advance(time.Second)
		require.Equal(t, "cancelled", b.job(t, id)["status"])
		c := b.emu.Connections()[0]
		require.Equal(t, "inactive", c.Status)
		require.True(t, c.BreakingChange)
	})
	t.Run("one automatic discover per window", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.Config{DiscoverWindow: time.Hour})
		src := b.createSource(t)
		conn := b.createConnection(t, src, map[string]any{"nonBreakingSchemaUpdatesBehavior": "propagate_columns"})
		b.job(t, b.startSync(t, conn))
		require.NoError(t, b.emu.MutateSchema(src, emulator.SchemaOp{Op: "add_field", Stream: "Account", Field: "Region__c"}))
		b.job(t, b.startSync(t, conn))
		require.NotContains(t, b.emu.Connections()[0].Streams[0].Stream.JSONSchema["properties"], "Region__c", "same window: no new discover")
		b.clock.Advance(time.Hour)
		b.job(t, b.startSync(t, conn))
		require.Contains(t, b.emu.Connections()[0].Streams[0].Stream.JSONSchema["properties"], "Region__c")
	})
}

func TestUpdateConnectionRepairsDrift(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	conn := b.createConnection(t, src, nil)
	d := discoverDiff(t, b, src, conn, emulator.SchemaOp{Op: "remove_field", Stream: "Account", Field: "SystemModstamp"})
	require.Equal(t, true, d["breakingChange"])

	// Repair: Account now uses the connector's new cursor (LastModifiedDate).
	var account map[string]any
	for _, s := range d["catalog"].(map[string]any)["streams"].([]any) {
		if s.(map[string]any)["stream"].(map[string]any)["name"] == "Account" {
			account = s.(map[string]any)
		}
	}
	require.Equal(t, []any{"LastModifiedDate"}, account["config"].(map[string]any)["cursorField"])
	upd := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/connections/update", map[string]any{
		"connectionId": conn, "syncCatalog": map[string]any{"streams": []any{account}},
		"sourceCatalogId": d["catalogId"], "breakingChange": false, "status": "active",
	})
	require.Equal(t, false, upd["breakingChange"])
	require.Equal(t, "active", upd["status"])
	require.Equal(t, d["catalogId"], upd["sourceCatalogId"])
	streams := upd["syncCatalog"].(map[string]any)["streams"].([]any)
	require.Len(t, streams, 1, "the syncCatalog replaces the whole catalog")
	cfg := streams[0].(map[string]any)["config"].(map[string]any)
	require.Equal(t, true, cfg["selected"])
	require.Equal(t, false, cfg["suggested"])
	require.Equal(t, []any{}, cfg["selectedFields"])

	d = b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/sources/discover_schema", map[string]any{"sourceId": src, "connectionId": conn, "disable_cache": true})
	require.Empty(t, d["catalogDiff"].(map[string]any)["transforms"])
	require.Equal(t, false, d["breakingChange"])
}

func TestAdminSchemaMutation(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	src := b.createSource(t)
	m := b.c.ok(http.StatusOK, http.MethodPost, "/_emulator/sources/"+src+"/schema", map[string]any{"ops": []any{
		map[string]any{"op": "add_stream", "stream": "Invoice__c"},
		map[string]any{"op": "change_type", "stream": "Account", "field": "NumberOfEmployees", "type": "string"},
	}})
	require.Len(t, m["streams"], 13)
	r := b.c.do(http.MethodPost, "/_emulator/sources/"+src+"/schema", map[string]any{"op": "remove_field", "stream": "Account", "field": "Nope"})
	require.Equal(t, http.StatusBadRequest, r.status)
	r = b.c.do(http.MethodPost, "/_emulator/sources/00000000-0000-4000-8000-000000000000/schema", map[string]any{"op": "remove_stream", "stream": "Lead"})
	require.Equal(t, http.StatusNotFound, r.status)

	r = b.c.pub(http.MethodGet, "/streams?sourceId="+src+"&ignoreCache=true", nil)
	require.Equal(t, http.StatusOK, r.status)
	var props []struct {
		StreamName string `json:"streamName"`
	}
	r.json(t, &props)
	require.Equal(t, "Invoice__c", props[len(props)-1].StreamName, "GET /streams?ignoreCache=true sees the new schema")
}

// updateStream is the diff of one updated stream with its field and stream
// attribute transforms; none is an empty list, as the emulator answers it.
func updateStream(stream string, fields []emulator.FieldTransform, attrs []emulator.StreamAttributeTransform) []emulator.StreamTransform {
	if fields == nil {
		fields = []emulator.FieldTransform{}
	}
	if attrs == nil {
		attrs = []emulator.StreamAttributeTransform{}
	}
	return []emulator.StreamTransform{{TransformType: "update_stream", StreamDescriptor: emulator.StreamDescriptor{Name: stream},
		UpdateStream: &emulator.UpdateStreamDiff{FieldTransforms: fields, StreamAttributeTransforms: attrs}}}
}
