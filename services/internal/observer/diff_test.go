package observer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/services/internal/drift"
)

func stream(name, schema string, pk ...[]string) *airbyte.AirbyteStream {
	return &airbyte.AirbyteStream{Name: name, JSONSchema: json.RawMessage(schema), SourceDefinedPrimaryKey: pk}
}

func catalog(entries ...airbyte.AirbyteStreamAndConfiguration) *airbyte.AirbyteCatalog {
	return &airbyte.AirbyteCatalog{Streams: entries}
}

func entry(s *airbyte.AirbyteStream, cfg *airbyte.AirbyteStreamConfiguration) airbyte.AirbyteStreamAndConfiguration {
	return airbyte.AirbyteStreamAndConfiguration{Stream: s, Config: cfg}
}

func fieldChanges(d airbyte.CatalogDiff) map[string]airbyte.FieldTransform {
	out := map[string]airbyte.FieldTransform{}
	for _, t := range d.Transforms {
		if t.UpdateStream == nil {
			continue
		}
		for _, f := range t.UpdateStream.FieldTransforms {
			out[joinPathDots(f.FieldName)] = f
		}
	}
	return out
}

func joinPathDots(p []string) string { return strings.Join(p, ".") }

func TestDiffFieldPaths(t *testing.T) {
	t.Parallel()
	old := stream("Orders", `{"type":"object","properties":{
		"id":{"type":"string"},
		"lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"}}}},
		"meta":{"oneOf":[{"type":"string"},{"type":"object","properties":{"a":{"type":"string"}}}]}}}`)
	new := stream("Orders", `{"type":"object","properties":{
		"id":{"type":"string"},
		"lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"qty":{"type":"integer"}}}},
		"meta":{"oneOf":[{"type":"string"},{"type":"object","properties":{"b":{"type":"string"}}}]}}}`)
	cfg := &airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeFullRefresh, DestinationSyncMode: airbyte.DestinationSyncOverwrite}
	d := drift.Diff(nil, catalog(entry(old, cfg)), catalog(entry(new, nil)))
	got := fieldChanges(d)
	// Array items are an "items" path element; the changed parents are
	// updated; a oneOf node is compared whole, never descended into.
	require.Contains(t, got, "lines.items.qty")
	require.Equal(t, airbyte.TransformAddField, got["lines.items.qty"].TransformType)
	require.Equal(t, airbyte.TransformUpdateFieldSchema, got["lines"].TransformType)
	require.Equal(t, airbyte.TransformUpdateFieldSchema, got["lines.items"].TransformType)
	require.Equal(t, airbyte.TransformUpdateFieldSchema, got["meta"].TransformType)
	require.NotContains(t, got, "meta.b")
	require.False(t, d.HasBreakingChange())
}

func TestDiffBreakingRules(t *testing.T) {
	t.Parallel()
	old := stream("A", `{"type":"object","properties":{"id":{"type":"string"},"ts":{"type":"string"}}}`, []string{"id"})
	noTS := stream("A", `{"type":"object","properties":{"id":{"type":"string"}}}`, []string{"id"})
	newKey := stream("A", `{"type":"object","properties":{"id":{"type":"string"},"ts":{"type":"string"}}}`, []string{"ts"})
	for _, tc := range []struct {
		name     string
		cfg      airbyte.AirbyteStreamConfiguration
		new      *airbyte.AirbyteStream
		breaking bool
	}{
		{"cursor removed, incremental", airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeIncremental,
			DestinationSyncMode: airbyte.DestinationSyncAppend, CursorField: []string{"ts"}}, noTS, true},
		{"cursor removed, full refresh", airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeFullRefresh,
			DestinationSyncMode: airbyte.DestinationSyncOverwrite, CursorField: []string{"ts"}}, noTS, false},
		{"key changed, dedup", airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeIncremental,
			DestinationSyncMode: airbyte.DestinationSyncAppendDedup, CursorField: []string{"ts"}, PrimaryKey: [][]string{{"id"}}}, newKey, true},
		{"key changed, append", airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeIncremental,
			DestinationSyncMode: airbyte.DestinationSyncAppend, CursorField: []string{"ts"}, PrimaryKey: [][]string{{"id"}}}, newKey, false},
		{"key changed to the configured one, dedup", airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeIncremental,
			DestinationSyncMode: airbyte.DestinationSyncAppendDedup, CursorField: []string{"id"}, PrimaryKey: [][]string{{"ts"}}}, newKey, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			d := drift.Diff(nil, catalog(entry(old, &cfg)), catalog(entry(tc.new, nil)))
			require.False(t, d.IsEmpty())
			require.Equal(t, tc.breaking, d.HasBreakingChange())
		})
	}
}

func TestDiffUnselectedStreamsAndNamespaces(t *testing.T) {
	t.Parallel()
	a := stream("A", `{"type":"object","properties":{"x":{"type":"string"}}}`)
	a2 := stream("A", `{"type":"object","properties":{"x":{"type":"string"},"y":{"type":"string"}}}`)
	b := stream("B", `{"type":"object"}`)
	bns := &airbyte.AirbyteStream{Name: "B", Namespace: "other", JSONSchema: json.RawMessage(`{}`)}
	baseline := []airbyte.StreamDescriptor{{Name: "A"}, {Name: "B"}}
	// A is not configured: its change is no drift. B moved namespace: one
	// stream removed, one added.
	d := drift.Diff(baseline, catalog(), catalog(entry(a2, nil), entry(bns, nil)))
	require.Len(t, d.Transforms, 2)
	require.Equal(t, airbyte.TransformRemoveStream, d.Transforms[0].TransformType)
	require.Equal(t, "", d.Transforms[0].StreamDescriptor.Namespace)
	require.Equal(t, airbyte.TransformAddStream, d.Transforms[1].TransformType)
	require.Equal(t, "other", d.Transforms[1].StreamDescriptor.Namespace)
	require.Equal(t, "B: stream removed; other.B: stream added", drift.Summary(d))
	same := drift.Diff(baseline, catalog(), catalog(entry(a, nil), entry(b, nil)))
	require.True(t, same.IsEmpty())
}

func TestHealCatalog(t *testing.T) {
	t.Parallel()
	old := stream("A", `{"type":"object","properties":{"id":{"type":"string"}}}`, []string{"id"})
	gone := stream("Gone", `{"type":"object"}`)
	newA := stream("A", `{"type":"object","properties":{"id":{"type":"string"},"n":{"type":"string"}}}`, []string{"id"})
	newA.SourceDefinedCursor, newA.DefaultCursorField = true, []string{"id"}
	added := stream("New", `{"type":"object"}`)
	cfg := &airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeIncremental, DestinationSyncMode: airbyte.DestinationSyncAppendDedup,
		PrimaryKey: [][]string{{"id"}}, FieldSelectionEnabled: true, SelectedFields: []airbyte.SelectedField{{FieldPath: []string{"id"}}}, Selected: true}
	configured := catalog(entry(old, cfg), entry(gone, &airbyte.AirbyteStreamConfiguration{Selected: true}))
	discovered := catalog(entry(newA, nil), entry(added, &airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeFullRefresh,
		DestinationSyncMode: airbyte.DestinationSyncOverwrite}))
	d := drift.Diff([]airbyte.StreamDescriptor{{Name: "A"}, {Name: "Gone"}}, configured, discovered)
	require.True(t, healChanges(d, false))

	h := HealCatalog(configured, discovered, d, false)
	require.Len(t, h.Streams, 1)
	require.Same(t, newA, h.Streams[0].Stream)
	require.Equal(t, []string{"id"}, h.Streams[0].Config.CursorField, "the source-defined cursor")
	require.Equal(t, []airbyte.SelectedField{{FieldPath: []string{"id"}}, {FieldPath: []string{"n"}}}, h.Streams[0].Config.SelectedFields)
	require.Len(t, cfg.SelectedFields, 1, "the version's configuration is not modified")

	h = HealCatalog(configured, discovered, d, true)
	require.Len(t, h.Streams, 2)
	require.Equal(t, "New", h.Streams[1].Stream.Name)
	require.True(t, h.Streams[1].Config.Selected)

	onlyAdded := drift.Diff([]airbyte.StreamDescriptor{{Name: "A"}}, catalog(entry(newA, cfg)), catalog(entry(newA, nil), entry(added, nil)))
	require.False(t, healChanges(onlyAdded, false))
	require.True(t, healChanges(onlyAdded, true))
}
