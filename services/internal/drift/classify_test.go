package drift_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// base is the schema every case starts from.
const base = `{"type":"object","properties":{
	"Id":{"type":"string"},
	"Name":{"type":["string","null"]},
	"Count":{"type":["integer","null"]},
	"Amount":{"type":["number","null"]},
	"Code":{"type":"string"},
	"Flag":{"type":["boolean","null"]},
	"Modified":{"type":["string","null"],"format":"date-time"},
	"Day":{"type":["string","null"],"format":"date"},
	"Addr":{"type":["object","null"],"properties":{"city":{"type":["string","null"]}}},
	"Tags":{"type":["array","null"],"items":{"type":"string"}},
	"Meta":{"oneOf":[{"type":"string"},{"type":"integer"}]}}}`

// edit returns base with op applied to its properties: a field set to a
// schema (nil removes it).
func edit(t *testing.T, fields map[string]any) json.RawMessage {
	t.Helper()
	var s map[string]any
	require.NoError(t, json.Unmarshal([]byte(base), &s))
	props := s["properties"].(map[string]any)
	for name, v := range fields {
		path := strings.Split(name, ".")
		node := props
		for _, p := range path[:len(path)-1] {
			node = node[p].(map[string]any)["properties"].(map[string]any)
		}
		if v == nil {
			delete(node, path[len(path)-1])
			continue
		}
		var schema any
		require.NoError(t, json.Unmarshal([]byte(v.(string)), &schema))
		node[path[len(path)-1]] = schema
	}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return b
}

type stream struct {
	schema     json.RawMessage
	pk         [][]string
	cursor     []string
	modes      []airbyte.SyncMode
	userCursor bool
}

func (s stream) build() *airbyte.AirbyteStream {
	modes := s.modes
	if modes == nil {
		modes = []airbyte.SyncMode{airbyte.SyncModeFullRefresh, airbyte.SyncModeIncremental}
	}
	cursor := s.cursor
	if cursor == nil {
		cursor = []string{"Modified"}
	}
	pk := s.pk
	if pk == nil {
		pk = [][]string{{"Id"}}
	}
	return &airbyte.AirbyteStream{Name: "Account", JSONSchema: s.schema, SupportedSyncModes: modes,
		SourceDefinedCursor: !s.userCursor, DefaultCursorField: cursor, SourceDefinedPrimaryKey: pk}
}

var (
	dedup = airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeIncremental, CursorField: []string{"Modified"},
		DestinationSyncMode: airbyte.DestinationSyncAppendDedup, PrimaryKey: [][]string{{"Id"}}, Selected: true}
	appendOnly = airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeIncremental, CursorField: []string{"Modified"},
		DestinationSyncMode: airbyte.DestinationSyncAppend, Selected: true}
	fullRefresh = airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeFullRefresh,
		DestinationSyncMode: airbyte.DestinationSyncOverwrite, Selected: true}
	picked = airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeFullRefresh, DestinationSyncMode: airbyte.DestinationSyncOverwrite,
		Selected: true, FieldSelectionEnabled: true, SelectedFields: []airbyte.SelectedField{{FieldPath: []string{"Id"}}, {FieldPath: []string{"Name"}}}}
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kind drift.Kind
		// field is the changed field path (dots); "" for stream and
		// attribute kinds.
		field            string
		cfg              airbyte.AirbyteStreamConfiguration
		old, new         stream
		streamOnly       string // "added", "removed", "removed unselected"
		oldType, newType string
		airbyteBreaking  bool
	}{
		{name: "stream added", kind: drift.StreamAdded, streamOnly: "added"},
		{name: "unselected stream removed", kind: drift.StreamRemoved, streamOnly: "removed unselected"},
		{name: "selected stream removed", kind: drift.SelectedStreamRemoved, streamOnly: "removed"},

		{name: "nullable field added", kind: drift.FieldAdded, field: "Region", cfg: fullRefresh,
			new: stream{schema: edit(t, map[string]any{"Region": `{"type":["string","null"]}`})}, newType: "string|null"},
		{name: "required field added", kind: drift.RequiredFieldAdded, field: "Region", cfg: fullRefresh,
			new: stream{schema: edit(t, map[string]any{"Region": `{"type":"string"}`})}, newType: "string"},
		{name: "nested field added", kind: drift.NestedFieldAdded, field: "Addr.county", cfg: fullRefresh,
			new: stream{schema: edit(t, map[string]any{"Addr.county": `{"type":["string","null"]}`})}, newType: "string|null"},
		{name: "field removed", kind: drift.FieldRemoved, field: "Flag", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Flag": nil})}, oldType: "boolean|null"},
		{name: "unselected field removed", kind: drift.UnselectedFieldRemoved, field: "Flag", cfg: picked,
			new: stream{schema: edit(t, map[string]any{"Flag": nil})}, oldType: "boolean|null"},
		{name: "selected field removed", kind: drift.SelectedFieldRemoved, field: "Name", cfg: picked,
			new: stream{schema: edit(t, map[string]any{"Name": nil})}, oldType: "string|null"},
		{name: "cursor field removed", kind: drift.CursorFieldRemoved, field: "Modified", cfg: appendOnly,
			old: stream{userCursor: true}, new: stream{schema: edit(t, map[string]any{"Modified": nil}), userCursor: true},
			oldType: "string(date-time)|null", airbyteBreaking: true},
		{name: "cursor field removed, full refresh", kind: drift.FieldRemoved, field: "Modified", cfg: fullRefresh,
			old: stream{userCursor: true}, new: stream{schema: edit(t, map[string]any{"Modified": nil}), userCursor: true},
			oldType: "string(date-time)|null"},
		{name: "primary key field removed, dedup", kind: drift.PrimaryKeyFieldRemoved, field: "Id", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Id": nil})}, oldType: "string", airbyteBreaking: true},
		{name: "configured primary key field removed, append", kind: drift.PrimaryKeyFieldRemoved, field: "Id",
			cfg: func() airbyte.AirbyteStreamConfiguration {
				c := appendOnly
				c.PrimaryKey = [][]string{{"Id"}}
				return c
			}(),
			new: stream{schema: edit(t, map[string]any{"Id": nil})}, oldType: "string"},
		{name: "nested field removed", kind: drift.NestedFieldRemoved, field: "Addr.city", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Addr.city": nil})}, oldType: "string|null"},

		{name: "integer to number", kind: drift.TypeWidened, field: "Count", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Count": `{"type":["number","null"]}`})}, oldType: "integer|null", newType: "number|null"},
		{name: "union gains a type", kind: drift.TypeWidened, field: "Code", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Code": `{"type":["string","number"]}`})}, oldType: "string", newType: "number|string"},
		{name: "widened and nullable", kind: drift.TypeWidened, field: "Code", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Code": `{"type":["string","number","null"]}`})}, oldType: "string", newType: "number|string|null"},
		{name: "type gains null", kind: drift.NullAllowed, field: "Code", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Code": `{"type":["null","string"]}`})}, oldType: "string", newType: "string|null"},
		{name: "format dropped", kind: drift.FormatDropped, field: "Day", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Day": `{"type":["string","null"]}`})}, oldType: "string(date)|null", newType: "string|null"},
		{name: "number to integer", kind: drift.TypeNarrowed, field: "Amount", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Amount": `{"type":["integer","null"]}`})}, oldType: "number|null", newType: "integer|null"},
		{name: "number to Airbyte integer", kind: drift.TypeNarrowed, field: "Amount", cfg: dedup,
			new:     stream{schema: edit(t, map[string]any{"Amount": `{"type":["number","null"],"airbyte_type":"integer"}`})},
			oldType: "number|null", newType: "integer|null"},
		{name: "string to number", kind: drift.TypeChanged, field: "Name", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Name": `{"type":["number","null"]}`})}, oldType: "string|null", newType: "number|null"},
		{name: "nullable to required", kind: drift.NullDisallowed, field: "Name", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Name": `{"type":"string"}`})}, oldType: "string|null", newType: "string"},
		{name: "narrowed beats null allowed", kind: drift.TypeNarrowed, field: "Code", cfg: dedup,
			old: stream{schema: edit(t, map[string]any{"Code": `{"type":["string","number"]}`})},
			new: stream{schema: edit(t, map[string]any{"Code": `{"type":["string","null"]}`})}, oldType: "number|string", newType: "string|null"},
		{name: "format added", kind: drift.FormatAdded, field: "Code", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Code": `{"type":"string","format":"date"}`})}, oldType: "string", newType: "string(date)"},
		{name: "format changed", kind: drift.FormatChanged, field: "Day", cfg: dedup,
			new:     stream{schema: edit(t, map[string]any{"Day": `{"type":["string","null"],"format":"date-time"}`})},
			oldType: "string(date)|null", newType: "string(date-time)|null"},
		{name: "string to object", kind: drift.ScalarToObject, field: "Name", cfg: dedup,
			new:     stream{schema: edit(t, map[string]any{"Name": `{"type":["object","null"],"properties":{"first":{"type":"string"}}}`})},
			oldType: "string|null", newType: "object|null"},
		{name: "string to array", kind: drift.ScalarToArray, field: "Name", cfg: dedup,
			new:     stream{schema: edit(t, map[string]any{"Name": `{"type":["array","null"],"items":{"type":"string"}}`})},
			oldType: "string|null", newType: "array|null"},
		{name: "object to string", kind: drift.ObjectToScalar, field: "Addr", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Addr": `{"type":["string","null"]}`})}, oldType: "object|null", newType: "string|null"},
		{name: "array to string", kind: drift.ArrayToScalar, field: "Tags", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Tags": `{"type":["string","null"]}`})}, oldType: "array|null", newType: "string|null"},
		{name: "object to array", kind: drift.ObjectArraySwap, field: "Addr", cfg: dedup,
			new:     stream{schema: edit(t, map[string]any{"Addr": `{"type":["array","null"],"items":{"type":"string"}}`})},
			oldType: "object|null", newType: "array|null"},
		{name: "array items widened", kind: drift.ItemsWidened, field: "Tags.items", cfg: dedup,
			new:     stream{schema: edit(t, map[string]any{"Tags": `{"type":["array","null"],"items":{"type":["string","null"]}}`})},
			oldType: "string", newType: "string|null"},
		{name: "array items narrowed", kind: drift.ItemsNarrowed, field: "Tags.items", cfg: dedup,
			new:     stream{schema: edit(t, map[string]any{"Tags": `{"type":["array","null"],"items":{"type":"integer"}}`})},
			oldType: "string", newType: "integer"},
		{name: "combinator changed", kind: drift.SchemaChanged, field: "Meta", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Meta": `{"oneOf":[{"type":"string"}]}`})}, oldType: "any", newType: "any"},
		{name: "description changed", kind: drift.AnnotationOnly, field: "Code", cfg: dedup,
			new: stream{schema: edit(t, map[string]any{"Code": `{"type":"string","description":"the code"}`})}, oldType: "string", newType: "string"},

		{name: "primary key changed, dedup", kind: drift.PrimaryKeyChanged, cfg: dedup,
			new: stream{pk: [][]string{{"Code"}}}, oldType: "Id", newType: "Code", airbyteBreaking: true},
		{name: "primary key changed, append", kind: drift.DefaultPrimaryKeyChanged, cfg: appendOnly,
			new: stream{pk: [][]string{{"Code"}}}, oldType: "Id", newType: "Code"},
		{name: "default cursor changed, incremental", kind: drift.CursorChanged, cfg: dedup,
			new: stream{cursor: []string{"Day"}}, oldType: "Modified", newType: "Day"},
		{name: "default cursor changed, full refresh", kind: drift.DefaultCursorChanged, cfg: fullRefresh,
			new: stream{cursor: []string{"Day"}}, oldType: "Modified", newType: "Day"},
		{name: "incremental no longer supported", kind: drift.SyncModeUnsupported, cfg: appendOnly,
			new: stream{modes: []airbyte.SyncMode{airbyte.SyncModeFullRefresh}}, oldType: "incremental", newType: "full_refresh"},
		{name: "incremental now supported", kind: drift.SyncModeAdded, cfg: fullRefresh,
			old: stream{modes: []airbyte.SyncMode{airbyte.SyncModeFullRefresh}}, oldType: "full_refresh", newType: "full_refresh|incremental"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.old.schema == nil {
				tc.old.schema = json.RawMessage(base)
			}
			if tc.new.schema == nil {
				tc.new.schema = tc.old.schema
			}
			cfg := tc.cfg
			old := &airbyte.AirbyteCatalog{Streams: []airbyte.AirbyteStreamAndConfiguration{{Stream: tc.old.build(), Config: &cfg}}}
			now := &airbyte.AirbyteCatalog{Streams: []airbyte.AirbyteStreamAndConfiguration{{Stream: tc.new.build()}}}
			var baseline []airbyte.StreamDescriptor
			switch tc.streamOnly {
			case "added":
				now.Streams = append(now.Streams, airbyte.AirbyteStreamAndConfiguration{Stream: &airbyte.AirbyteStream{Name: "Invoice"}})
				baseline = []airbyte.StreamDescriptor{{Name: "Account"}}
			case "removed":
				now.Streams = nil
			case "removed unselected":
				baseline = []airbyte.StreamDescriptor{{Name: "Account"}, {Name: "Gone"}}
			}
			diff := drift.Diff(baseline, old, now)
			got := drift.Classify(diff, old, now)
			require.Len(t, got, 1, "%+v", got)
			c := got[0]
			require.Equal(t, tc.kind, c.Kind)
			require.Equal(t, tc.field, c.FieldPath())
			require.Equal(t, tc.oldType, c.OldType, "old type")
			require.Equal(t, tc.newType, c.NewType, "new type")
			row, ok := drift.Lookup(tc.kind)
			require.True(t, ok)
			require.Equal(t, row.Breaking, c.Breaking)
			require.Equal(t, row.Risk, c.Risk)
			require.Equal(t, row.Reason, c.Reason)
			require.Equal(t, tc.airbyteBreaking, c.AirbyteBreaking, "Airbyte's breaking flag")
			require.Equal(t, diff.HasBreakingChange(), drift.AirbyteBreaking(got))
			require.Equal(t, row.Airbyte, c.AirbyteTransform)
		})
	}
}

// TestClassifyNestedParents: a parent whose schema changed only through
// its nested fields yields no change of its own.
func TestClassifyNestedParents(t *testing.T) {
	t.Parallel()
	cfg := fullRefresh
	old := &airbyte.AirbyteCatalog{Streams: []airbyte.AirbyteStreamAndConfiguration{{Stream: stream{schema: json.RawMessage(base)}.build(), Config: &cfg}}}
	schema := edit(t, map[string]any{"Addr.county": `{"type":"string"}`, "Addr.city": nil,
		"Tags": `{"type":["array","null"],"items":{"type":"object","properties":{"k":{"type":"string"}}}}`})
	now := &airbyte.AirbyteCatalog{Streams: []airbyte.AirbyteStreamAndConfiguration{{Stream: stream{schema: schema}.build()}}}
	diff := drift.Diff(nil, old, now)
	got := drift.Classify(diff, old, now)
	var kinds []string
	for _, c := range got {
		kinds = append(kinds, c.FieldPath()+" "+string(c.Kind))
	}
	require.ElementsMatch(t, []string{"Addr.city nested_field_removed", "Addr.county nested_field_added",
		"Tags.items array_items_narrowed", "Tags.items.k nested_field_added"}, kinds)
	require.True(t, drift.Breaking(got))
	require.False(t, drift.AirbyteBreaking(got))
}

// TestTableDocumented: every kind has a row, once, and docs/drift.md shows
// each with AAM's and Airbyte's verdicts.
func TestTableDocumented(t *testing.T) {
	t.Parallel()
	require.GreaterOrEqual(t, len(drift.Table), 20)
	doc, err := os.ReadFile("../../../docs/drift.md")
	require.NoError(t, err)
	lines := strings.Split(string(doc), "\n")
	seen := map[drift.Kind]bool{}
	for _, row := range drift.Table {
		require.False(t, seen[row.Kind], "%s has two rows", row.Kind)
		seen[row.Kind] = true
		require.NotEmpty(t, row.Reason)
		require.NotEmpty(t, row.DataRisk)
		require.Contains(t, []drift.Risk{drift.RiskNone, drift.RiskLow, drift.RiskMedium, drift.RiskHigh}, row.Risk)
		if row.Risk == drift.RiskHigh {
			require.True(t, row.Breaking, "%s risks data but does not break", row.Kind)
		}
		require.Contains(t, lines, docRow(row), "docs/drift.md's row for %s", row.Kind)
	}
}

// docRow is a kind's row in docs/drift.md.
func docRow(c drift.Class) string {
	yes := map[bool]string{true: "**yes**", false: "no"}
	airbyte := "not reported"
	if c.Airbyte != "" {
		airbyte = "`" + c.Airbyte + "`"
	}
	return fmt.Sprintf("| `%s` | %s | %s | %s | %s | %s | %s |", c.Kind, yes[c.Breaking], c.Risk, c.Reason, c.DataRisk,
		airbyte, c.AirbyteBreaking)
}
