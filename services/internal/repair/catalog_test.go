package repair

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/airbyte"
)

// discovered is a small discovered catalog: Account (source cursor and
// key), orders (no source cursor, key id) and events (neither).
func discovered() *airbyte.AirbyteCatalog {
	schema := func(fields ...string) json.RawMessage {
		props := map[string]any{}
		for _, f := range fields {
			props[f] = map[string]any{"type": []string{"string", "null"}}
		}
		props["address"] = map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}
		b, _ := json.Marshal(map[string]any{"type": "object", "properties": props})
		return b
	}
	both := []airbyte.SyncMode{airbyte.SyncModeFullRefresh, airbyte.SyncModeIncremental}
	return &airbyte.AirbyteCatalog{Streams: []airbyte.AirbyteStreamAndConfiguration{
		{Stream: &airbyte.AirbyteStream{Name: "Account", JSONSchema: schema("Id", "Name", "SystemModstamp"),
			SupportedSyncModes: both, SourceDefinedCursor: true, DefaultCursorField: []string{"SystemModstamp"},
			SourceDefinedPrimaryKey: [][]string{{"Id"}}},
			Config: &airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeIncremental, DestinationSyncMode: airbyte.DestinationSyncAppendDedup,
				CursorField: []string{"SystemModstamp"}, PrimaryKey: [][]string{{"Id"}}, AliasName: "Account", Selected: true, Suggested: true}},
		{Stream: &airbyte.AirbyteStream{Name: "orders", JSONSchema: schema("id", "updated_at"), SupportedSyncModes: both,
			SourceDefinedPrimaryKey: [][]string{{"id"}}},
			Config: &airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeFullRefresh, DestinationSyncMode: airbyte.DestinationSyncOverwrite,
				PrimaryKey: [][]string{{"id"}}, AliasName: "orders"}},
		{Stream: &airbyte.AirbyteStream{Name: "events", JSONSchema: schema("at", "kind"), SupportedSyncModes: both},
			Config: &airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeFullRefresh, DestinationSyncMode: airbyte.DestinationSyncOverwrite}},
	}}
}

func TestParseCatalog(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		catalog    string
		want       []string // stream names kept
		wantStream string
		wantField  string
	}{
		{name: "protocol form", catalog: `{"streams":[{"stream":{"name":"Account"},"sync_mode":"incremental","destination_sync_mode":"append_dedup"}]}`,
			want: []string{"Account"}},
		{name: "mixed forms", catalog: `{"streams":[
			{"stream":{"name":"Account"},"sync_mode":"incremental","destination_sync_mode":"append_dedup"},
			{"stream":{"name":"orders"},"config":{"syncMode":"full_refresh","destinationSyncMode":"overwrite"}}]}`,
			want: []string{"Account", "orders"}},
		{name: "unselected dropped", catalog: `{"streams":[
			{"stream":{"name":"Account"},"config":{"syncMode":"full_refresh","destinationSyncMode":"overwrite","selected":true}},
			{"stream":{"name":"orders"},"config":{"syncMode":"full_refresh","destinationSyncMode":"overwrite","selected":false}}]}`,
			want: []string{"Account"}},
		{name: "nothing selected", catalog: `{"streams":[{"stream":{"name":"orders"},"config":{"syncMode":"full_refresh","destinationSyncMode":"overwrite","selected":false}}]}`,
			wantField: "new_sync_catalog.streams"},
		{name: "duplicate stream", catalog: `{"streams":[
			{"stream":{"name":"Account"},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"},
			{"stream":{"name":"Account"},"config":{"syncMode":"full_refresh","destinationSyncMode":"overwrite"}}]}`,
			wantStream: "Account", wantField: "stream.name"},
		{name: "same name in two namespaces", catalog: `{"streams":[
			{"stream":{"name":"Account","namespace":"a"},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"},
			{"stream":{"name":"Account","namespace":"b"},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"}]}`,
			want: []string{"Account", "Account"}},
		{name: "no sync mode", catalog: `{"streams":[{"stream":{"name":"Account"},"destination_sync_mode":"overwrite"}]}`,
			wantStream: "Account", wantField: "sync_mode"},
		{name: "unknown destination sync mode", catalog: `{"streams":[{"stream":{"name":"Account"},"config":{"syncMode":"full_refresh","destinationSyncMode":"upsert"}}]}`,
			wantStream: "Account", wantField: "config.destinationSyncMode"},
		{name: "no name", catalog: `{"streams":[{"stream":{"name":" "},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"}]}`,
			wantField: "stream.name"},
		{name: "not a catalog", catalog: `[1,2]`, wantField: "new_sync_catalog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCatalog(json.RawMessage(tc.catalog))
			if tc.wantField != "" {
				requireRejected(t, err, tc.wantStream, tc.wantField)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, d := range got {
				names = append(names, d.name)
			}
			require.Equal(t, tc.want, names)
		})
	}
}

func TestBuildCatalog(t *testing.T) {
	t.Parallel()
	modes := validModes{
		{"", "Account"}: {airbyte.SyncModeFullRefreshOverwrite, airbyte.SyncModeFullRefreshAppend,
			airbyte.SyncModeIncrementalAppend, airbyte.SyncModeIncrementalDedupedHistory},
	}
	for _, tc := range []struct {
		name       string
		catalog    string
		wantStream string
		wantField  string
		check      func(t *testing.T, c *airbyte.AirbyteCatalog)
	}{
		{
			name:    "defaults come from the source",
			catalog: `{"streams":[{"stream":{"name":"Account","json_schema":{}},"sync_mode":"incremental","destination_sync_mode":"append_dedup"}]}`,
			check: func(t *testing.T, c *airbyte.AirbyteCatalog) {
				s := c.Streams[0]
				require.Equal(t, "Account", s.Stream.Name)
				require.Contains(t, string(s.Stream.JSONSchema), "SystemModstamp", "the discovered schema, not the request's")
				require.Equal(t, []string{"SystemModstamp"}, s.Config.CursorField)
				require.Equal(t, [][]string{{"Id"}}, s.Config.PrimaryKey)
				require.Equal(t, "Account", s.Config.AliasName)
				require.True(t, s.Config.Selected)
			},
		},
		{
			name:    "user cursor and nested key",
			catalog: `{"streams":[{"stream":{"name":"events"},"sync_mode":"incremental","destination_sync_mode":"append_dedup","cursor_field":["at"],"primary_key":[["address","city"],["kind"]]}]}`,
			check: func(t *testing.T, c *airbyte.AirbyteCatalog) {
				require.Equal(t, []string{"at"}, c.Streams[0].Config.CursorField)
				require.Equal(t, [][]string{{"address", "city"}, {"kind"}}, c.Streams[0].Config.PrimaryKey)
			},
		},
		{
			name:       "duplicate primary key column",
			catalog:    `{"streams":[{"stream":{"name":"events"},"sync_mode":"full_refresh","destination_sync_mode":"append","primary_key":[["kind"],["kind"]]}]}`,
			wantStream: "events", wantField: "primary_key",
		},
		{
			name:       "mode the destination lacks",
			catalog:    `{"streams":[{"stream":{"name":"Account"},"sync_mode":"full_refresh","destination_sync_mode":"overwrite_dedup"}]}`,
			wantStream: "Account", wantField: "destination_sync_mode",
		},
		{
			name:       "update needs a key",
			catalog:    `{"streams":[{"stream":{"name":"events"},"sync_mode":"full_refresh","destination_sync_mode":"update"}]}`,
			wantStream: "events", wantField: "primary_key",
		},
		{
			name:       "field selection of an unknown field",
			catalog:    `{"streams":[{"stream":{"name":"orders"},"config":{"syncMode":"full_refresh","destinationSyncMode":"overwrite","fieldSelectionEnabled":true,"selectedFields":[{"fieldPath":["nope"]}]}}]}`,
			wantStream: "orders", wantField: "config.selectedFields",
		},
		{
			name:    "field selection",
			catalog: `{"streams":[{"stream":{"name":"orders"},"config":{"syncMode":"full_refresh","destinationSyncMode":"overwrite","fieldSelectionEnabled":true,"selectedFields":[{"fieldPath":["id"]}]}}]}`,
			check: func(t *testing.T, c *airbyte.AirbyteCatalog) {
				require.True(t, c.Streams[0].Config.FieldSelectionEnabled)
				require.Equal(t, []airbyte.SelectedField{{FieldPath: []string{"id"}}}, c.Streams[0].Config.SelectedFields)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, err := parseCatalog(json.RawMessage(tc.catalog))
			require.NoError(t, err)
			got, err := buildCatalog(want, discovered(), modes)
			if tc.wantField != "" {
				requireRejected(t, err, tc.wantStream, tc.wantField)
				return
			}
			require.NoError(t, err)
			tc.check(t, got)
		})
	}
}

func TestSameCatalog(t *testing.T) {
	t.Parallel()
	base := func() *airbyte.AirbyteCatalog {
		want, err := parseCatalog(json.RawMessage(`{"streams":[
			{"stream":{"name":"orders"},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"},
			{"stream":{"name":"Account"},"sync_mode":"incremental","destination_sync_mode":"append_dedup"}]}`))
		require.NoError(t, err)
		c, err := buildCatalog(want, discovered(), nil)
		require.NoError(t, err)
		return c
	}
	same := func(t *testing.T, a, b *airbyte.AirbyteCatalog) bool {
		t.Helper()
		ok, err := sameCatalog(a, b)
		require.NoError(t, err)
		return ok
	}

	// Airbyte's rendering of the same catalog: streams in another order,
	// bookkeeping filled in, empty lists spelled out, schema keys reordered.
	rendered := base()
	rendered.Streams[0], rendered.Streams[1] = rendered.Streams[1], rendered.Streams[0]
	for i := range rendered.Streams {
		c := rendered.Streams[i].Config
		c.AliasName, c.Suggested = "", false
		gen := int64(3)
		c.GenerationID = &gen
		if c.CursorField == nil {
			c.CursorField = []string{}
		}
		var v any
		require.NoError(t, json.Unmarshal(rendered.Streams[i].Stream.JSONSchema, &v))
		b, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		rendered.Streams[i].Stream.JSONSchema = b
	}
	require.True(t, same(t, base(), rendered))

	// Round trip through JSON (what the registry stores).
	b, err := json.Marshal(base())
	require.NoError(t, err)
	var stored airbyte.AirbyteCatalog
	require.NoError(t, json.Unmarshal(b, &stored))
	require.True(t, same(t, base(), &stored))

	for name, change := range map[string]func(c *airbyte.AirbyteCatalog){
		"sync mode": func(c *airbyte.AirbyteCatalog) {
			c.Streams[0].Config.DestinationSyncMode = airbyte.DestinationSyncAppend
		},
		"cursor":      func(c *airbyte.AirbyteCatalog) { c.Streams[1].Config.CursorField = []string{"Name"} },
		"schema":      func(c *airbyte.AirbyteCatalog) { c.Streams[1].Stream.JSONSchema = json.RawMessage(`{"type":"object"}`) },
		"stream gone": func(c *airbyte.AirbyteCatalog) { c.Streams = c.Streams[:1] },
		"unselected":  func(c *airbyte.AirbyteCatalog) { c.Streams[1].Config.Selected = false },
		"selected fields": func(c *airbyte.AirbyteCatalog) {
			c.Streams[0].Config.FieldSelectionEnabled = true
			c.Streams[0].Config.SelectedFields = []airbyte.SelectedField{{FieldPath: []string{"id"}}}
		},
	} {
		c := base()
		change(c)
		require.False(t, same(t, base(), c), name)
	}
}

func TestPropertyPaths(t *testing.T) {
	t.Parallel()
	got := propertyPaths(json.RawMessage(`{"properties":{"a":{"type":"string"},"b":{"type":"object","properties":{"c":{}}}}}`))
	want := [][]string{{"a"}, {"b"}, {"b", "c"}}
	sortPaths := cmp.Transformer("sort", func(in [][]string) map[string]bool {
		out := map[string]bool{}
		for _, p := range in {
			b, _ := json.Marshal(p)
			out[string(b)] = true
		}
		return out
	})
	if diff := cmp.Diff(want, got, sortPaths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	require.Empty(t, propertyPaths(nil))
	require.Empty(t, propertyPaths(json.RawMessage(`"not a schema"`)))
}

// requireRejected checks that err is a RejectError naming the stream and
// the field.
func requireRejected(t *testing.T, err error, stream, field string) {
	t.Helper()
	var rej *RejectError
	require.True(t, errors.As(err, &rej), "err = %v", err)
	require.Equal(t, stream, rej.Stream)
	require.Equal(t, field, rej.Field)
}
