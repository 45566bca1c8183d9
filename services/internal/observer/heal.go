package observer

import (
	"slices"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// HealCatalog returns the catalog that propagates a non-breaking drift, as
// Airbyte's auto-propagation does (ApplySchemaChangeHelper.getUpdatedSchema):
// every configured stream the source still offers keeps its configuration
// with the stream's new definition (new fields flow in; with field
// selection on, new top-level fields are selected); streams the source no
// longer offers are dropped; with fully, streams the source added are
// selected with their discovered default configuration.
//
// A source-defined cursor or primary key is taken from the new definition
// (the repair worker refuses a configuration that contradicts it).
func HealCatalog(configured, discovered *airbyte.AirbyteCatalog, diff airbyte.CatalogDiff, fully bool) *airbyte.AirbyteCatalog {
	out := &airbyte.AirbyteCatalog{Streams: []airbyte.AirbyteStreamAndConfiguration{}}
	added := map[airbyte.StreamDescriptor][]string{}
	for _, t := range diff.Transforms {
		if t.UpdateStream == nil {
			continue
		}
		for _, f := range t.UpdateStream.FieldTransforms {
			if f.TransformType == airbyte.TransformAddField && len(f.FieldName) == 1 {
				added[t.StreamDescriptor] = append(added[t.StreamDescriptor], f.FieldName[0])
			}
		}
	}
	for _, c := range drift.Streams(configured) {
		d, ok := discovered.Stream(c.Stream.Name, c.Stream.Namespace)
		if !ok {
			continue
		}
		cfg := airbyte.AirbyteStreamConfiguration{}
		if c.Config != nil {
			cfg = *c.Config
		}
		cfg.Selected = true
		if d.Stream.SourceDefinedCursor && len(d.Stream.DefaultCursorField) > 0 {
			cfg.CursorField = slices.Clone(d.Stream.DefaultCursorField)
		}
		if len(d.Stream.SourceDefinedPrimaryKey) > 0 {
			cfg.PrimaryKey = slices.Clone(d.Stream.SourceDefinedPrimaryKey)
		}
		if cfg.FieldSelectionEnabled {
			cfg.SelectedFields = slices.Clone(cfg.SelectedFields)
			for _, name := range added[airbyte.StreamDescriptor{Name: c.Stream.Name, Namespace: c.Stream.Namespace}] {
				cfg.SelectedFields = append(cfg.SelectedFields, airbyte.SelectedField{FieldPath: []string{name}})
			}
		}
		out.Streams = append(out.Streams, airbyte.AirbyteStreamAndConfiguration{Stream: d.Stream, Config: &cfg})
	}
	if !fully {
		return out
	}
	for _, t := range diff.Transforms {
		if t.TransformType != airbyte.TransformAddStream {
			continue
		}
		d, ok := discovered.Stream(t.StreamDescriptor.Name, t.StreamDescriptor.Namespace)
		if !ok {
			continue
		}
		cfg := airbyte.AirbyteStreamConfiguration{SyncMode: airbyte.SyncModeFullRefresh, DestinationSyncMode: airbyte.DestinationSyncOverwrite}
		if d.Config != nil {
			cfg = *d.Config
		}
		cfg.Selected = true
		out.Streams = append(out.Streams, airbyte.AirbyteStreamAndConfiguration{Stream: d.Stream, Config: &cfg})
	}
	return out
}
