package emulator

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// CatalogDiff is the Configuration API's CatalogDiff.
type CatalogDiff struct {
	Transforms []StreamTransform `json:"transforms"`
}

// StreamDescriptor names a stream.
type StreamDescriptor struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// StreamTransform is one stream-level change.
type StreamTransform struct {
	TransformType    string            `json:"transformType"` // add_stream|remove_stream|update_stream
	StreamDescriptor StreamDescriptor  `json:"streamDescriptor"`
	UpdateStream     *UpdateStreamDiff `json:"updateStream,omitempty"`
}

// UpdateStreamDiff lists the changes inside an updated stream.
type UpdateStreamDiff struct {
	FieldTransforms           []FieldTransform           `json:"fieldTransforms"`
	StreamAttributeTransforms []StreamAttributeTransform `json:"streamAttributeTransforms"`
}

// FieldTransform is one field-level change.
type FieldTransform struct {
	TransformType     string             `json:"transformType"` // add_field|remove_field|update_field_schema
	FieldName         []string           `json:"fieldName"`
	Breaking          bool               `json:"breaking"`
	AddField          *FieldSchema       `json:"addField,omitempty"`
	RemoveField       *FieldSchema       `json:"removeField,omitempty"`
	UpdateFieldSchema *FieldSchemaUpdate `json:"updateFieldSchema,omitempty"`
}

// FieldSchema wraps a field's JSON schema.
type FieldSchema struct {
	Schema map[string]any `json:"schema"`
}

// FieldSchemaUpdate holds a field's old and new schema.
type FieldSchemaUpdate struct {
	OldSchema map[string]any `json:"oldSchema"`
	NewSchema map[string]any `json:"newSchema"`
}

// StreamAttributeTransform is a change of a stream attribute (the primary key).
type StreamAttributeTransform struct {
	TransformType    string            `json:"transformType"` // update_primary_key
	Breaking         bool              `json:"breaking"`
	UpdatePrimaryKey *PrimaryKeyUpdate `json:"updatePrimaryKey,omitempty"`
}

// PrimaryKeyUpdate holds the old and new source-defined primary key.
type PrimaryKeyUpdate struct {
	OldPrimaryKey [][]string `json:"oldPrimaryKey"`
	NewPrimaryKey [][]string `json:"newPrimaryKey"`
}

// Breaking reports whether any transform is breaking (containsBreakingChange).
func (d CatalogDiff) Breaking() bool {
	for _, t := range d.Transforms {
		if t.UpdateStream == nil {
			continue
		}
		for _, f := range t.UpdateStream.FieldTransforms {
			if f.Breaking {
				return true
			}
		}
		for _, a := range t.UpdateStream.StreamAttributeTransforms {
			if a.Breaking {
				return true
			}
		}
	}
	return false
}

type streamKey struct{ name, namespace string }

func keyOf(s Stream) streamKey { return streamKey{s.Name, s.Namespace} }

// diffCatalogs computes Airbyte's CatalogDiff (CatalogDiffHelpers.getCatalogDiff):
// add/remove over all streams, update_stream only for streams present in
// configured (the connection's selected streams) whose field map or source-defined
// primary key changed, with breaking flags per fieldTransformBreaksConnection and
// primaryKeyTransformBreaksConnection.
// The observer's own Diff is tested against this one, Airbyte's stand-in: keep them apart.
func diffCatalogs(old, new []Stream, configured []catalogStream) CatalogDiff {
	oldBy := map[streamKey]Stream{}
	for _, s := range old {
		oldBy[keyOf(s)] = s
	}
	newBy := map[streamKey]Stream{}
	for _, s := range new {
		newBy[keyOf(s)] = s
	}
	confBy := map[streamKey]StreamConfig{}
	for _, c := range configured {
		confBy[keyOf(*c.stream)] = c.config
	}
	diff := CatalogDiff{Transforms: []StreamTransform{}}
	for _, s := range old {
		if _, ok := newBy[keyOf(s)]; !ok {
			diff.Transforms = append(diff.Transforms, StreamTransform{TransformType: "remove_stream", StreamDescriptor: StreamDescriptor{s.Name, s.Namespace}})
		}
	}
	for _, s := range new {
		o, ok := oldBy[keyOf(s)]
		if !ok {
			diff.Transforms = append(diff.Transforms, StreamTransform{TransformType: "add_stream", StreamDescriptor: StreamDescriptor{s.Name, s.Namespace}})
			continue
		}
		cfg, selected := confBy[keyOf(s)]
		if !selected {
			continue
		}
		if u := diffStream(o, s, cfg); u != nil {
			diff.Transforms = append(diff.Transforms, StreamTransform{TransformType: "update_stream", StreamDescriptor: StreamDescriptor{s.Name, s.Namespace}, UpdateStream: u})
		}
	}
	sort.SliceStable(diff.Transforms, func(i, j int) bool {
		a, b := diff.Transforms[i].StreamDescriptor, diff.Transforms[j].StreamDescriptor
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Namespace < b.Namespace
	})
	return diff
}

func diffStream(old, new Stream, cfg StreamConfig) *UpdateStreamDiff {
	oldFields, newFields := fieldMap(old.JSONSchema), fieldMap(new.JSONSchema)
	u := &UpdateStreamDiff{FieldTransforms: []FieldTransform{}, StreamAttributeTransforms: []StreamAttributeTransform{}}
	for _, p := range sortedPaths(oldFields) {
		if _, ok := newFields[p]; !ok {
			path := splitPath(p)
			u.FieldTransforms = append(u.FieldTransforms, FieldTransform{
				TransformType: "remove_field", FieldName: path, Breaking: removeBreaks(cfg, path),
				RemoveField: &FieldSchema{Schema: oldFields[p]},
			})
		}
	}
	for _, p := range sortedPaths(newFields) {
		o, ok := oldFields[p]
		switch {
		case !ok:
			u.FieldTransforms = append(u.FieldTransforms, FieldTransform{
				TransformType: "add_field", FieldName: splitPath(p), AddField: &FieldSchema{Schema: newFields[p]},
			})
		case !reflect.DeepEqual(o, newFields[p]):
			u.FieldTransforms = append(u.FieldTransforms, FieldTransform{
				TransformType: "update_field_schema", FieldName: splitPath(p),
				UpdateFieldSchema: &FieldSchemaUpdate{OldSchema: o, NewSchema: newFields[p]},
			})
		}
	}
	if !samePK(old.SourceDefinedPrimaryKey, new.SourceDefinedPrimaryKey) {
		u.StreamAttributeTransforms = append(u.StreamAttributeTransforms, StreamAttributeTransform{
			TransformType: "update_primary_key", Breaking: pkChangeBreaks(cfg, new.SourceDefinedPrimaryKey),
			UpdatePrimaryKey: &PrimaryKeyUpdate{OldPrimaryKey: clonePK(old.SourceDefinedPrimaryKey), NewPrimaryKey: clonePK(new.SourceDefinedPrimaryKey)},
		})
	}
	if len(u.FieldTransforms) == 0 && len(u.StreamAttributeTransforms) == 0 {
		return nil
	}
	return u
}

func isDedup(destMode string) bool {
	return destMode == "append_dedup" || destMode == "overwrite_dedup"
}

// removeBreaks: removing the cursor of an incremental stream, or a primary-key
// column of a dedup stream, breaks the connection.
func removeBreaks(cfg StreamConfig, path []string) bool {
	if cfg.SyncMode == "incremental" && slices.Equal(cfg.CursorField, path) {
		return true
	}
	if isDedup(cfg.DestinationSyncMode) {
		for _, k := range cfg.PrimaryKey {
			if slices.Equal(k, path) {
				return true
			}
		}
	}
	return false
}

// pkChangeBreaks: a new non-empty source PK breaks a dedup stream whose configured
// PK differs from it (as sets).
func pkChangeBreaks(cfg StreamConfig, newPK [][]string) bool {
	if len(newPK) == 0 || !isDedup(cfg.DestinationSyncMode) {
		return false
	}
	return !samePKSet(cfg.PrimaryKey, newPK)
}

func samePK(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func samePKSet(a, b [][]string) bool {
	set := func(pk [][]string) map[string]bool {
		m := map[string]bool{}
		for _, k := range pk {
			m[joinPath(k)] = true
		}
		return m
	}
	return reflect.DeepEqual(set(a), set(b))
}

const pathSep = "\x1f"

func joinPath(p []string) string  { return strings.Join(p, pathSep) }
func splitPath(p string) []string { return strings.Split(p, pathSep) }

func sortedPaths(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fieldMap maps every fully-qualified field path of a JSON schema to its schema
// node (CatalogHelpers.getFullyQualifiedFieldNamesWithTypes): depth first through
// `properties`, array items as an "items" path element, combinator nodes without a
// type not descended into.
func fieldMap(schema map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	var walk func(prefix []string, node map[string]any)
	walk = func(prefix []string, node map[string]any) {
		if props, ok := node["properties"].(map[string]any); ok {
			for name, child := range props {
				c, ok := child.(map[string]any)
				if !ok {
					continue
				}
				p := append(slices.Clone(prefix), name)
				out[joinPath(p)] = c
				if _, typed := c["type"]; typed {
					walk(p, c)
				}
			}
		}
		if items, ok := node["items"].(map[string]any); ok && len(prefix) > 0 {
			p := append(slices.Clone(prefix), "items")
			out[joinPath(p)] = items
			walk(p, items)
		}
	}
	walk(nil, schema)
	return out
}

// catalogStreamsOf returns the catalog a connection was configured from: its
// sourceCatalogId, falling back to the streams of its sync catalog.
func (e *Emulator) catalogStreamsOf(c *connectionRec) []Stream {
	if ac, ok := e.st.catalogs[c.SourceCatalogID]; ok {
		return ac.Streams
	}
	out := make([]Stream, len(c.Catalog))
	for i, s := range c.Catalog {
		out[i] = *s.stream
	}
	return out
}

// diffAndConditionallyDisable is what discover_schema with a connectionId does
// (ConnectionsHandler.diffCatalogAndConditionallyDisable): diff against the
// connection's catalog, persist breakingChange, disable when breaking or when the
// preference is `disable` and anything changed. Callers hold e.mu.
func (e *Emulator) diffAndConditionallyDisable(c *connectionRec, ac *actorCatalog) (CatalogDiff, bool) {
	e.touchConnection(c)
	diff := diffCatalogs(e.catalogStreamsOf(c), ac.Streams, c.Catalog)
	breaking := diff.Breaking()
	c.BreakingChange = breaking
	c.lastDiff = &diff
	e.disableIfNeeded(c, diff, breaking)
	return diff, breaking
}

func (e *Emulator) disableIfNeeded(c *connectionRec, diff CatalogDiff, breaking bool) {
	if c.Status != "active" {
		return
	}
	switch {
	case breaking:
		c.Status, c.StatusReason = "inactive", "SCHEMA_CHANGES_ARE_BREAKING"
	case c.NonBreakingPreference == "disable" && len(diff.Transforms) > 0:
		c.Status, c.StatusReason = "inactive", "DISABLE_CONNECTION_IF_ANY_SCHEMA_CHANGES"
	}
}

// postprocessDiscovered is the pre-sync schema check
// (ConnectionsHandler.postprocessDiscoveredCatalog): diff, flag, disable, and
// auto-propagate per the connection's preference. Callers hold e.mu.
func (e *Emulator) postprocessDiscovered(c *connectionRec, ac *actorCatalog) {
	e.touchConnection(c)
	if ac.ID == c.SourceCatalogID {
		return
	}
	diff := diffCatalogs(e.catalogStreamsOf(c), ac.Streams, c.Catalog)
	breaking := diff.Breaking()
	c.BreakingChange = breaking
	c.lastDiff = &diff
	e.disableIfNeeded(c, diff, breaking)
	if len(diff.Transforms) == 0 {
		c.SourceCatalogID = ac.ID
		return
	}
	if breaking || (c.NonBreakingPreference != "propagate_columns" && c.NonBreakingPreference != "propagate_fully") {
		return
	}
	e.applySchemaChange(c, ac, diff)
	c.SourceCatalogID = ac.ID
}

// applySchemaChange auto-propagates a non-breaking diff
// (ApplySchemaChangeHelper.getUpdatedSchema). The catalog takes the discovered
// streams themselves (shared); configurations are replaced, never changed in
// place, because responses may still be serialising the old ones.
func (e *Emulator) applySchemaChange(c *connectionRec, ac *actorCatalog, diff CatalogDiff) {
	newBy := make(map[streamKey]*Stream, len(ac.Streams))
	for i := range ac.Streams {
		newBy[keyOf(ac.Streams[i])] = &ac.Streams[i]
	}
	def := e.st.sourceDefs[e.st.sources[c.SourceID].DefinitionID]
	destModes := e.st.destinations[c.DestinationID].SyncModes
	for _, t := range diff.Transforms {
		k := streamKey{t.StreamDescriptor.Name, t.StreamDescriptor.Namespace}
		switch t.TransformType {
		case "update_stream":
			for i := range c.Catalog {
				if keyOf(*c.Catalog[i].stream) != k {
					continue
				}
				old := c.Catalog[i].stream
				c.Catalog[i].stream = newBy[k]
				cfg := &c.Catalog[i].config
				if cfg.FieldSelectionEnabled != nil && *cfg.FieldSelectionEnabled && cfg.SelectedFields != nil {
					oldTop := topLevelFields(old.JSONSchema)
					sel := slices.Clone(*cfg.SelectedFields)
					for _, f := range topLevelFields(newBy[k].JSONSchema) {
						if !slices.Contains(oldTop, f) {
							sel = append(sel, SelectedField{FieldPath: []string{f}})
						}
					}
					cfg.SelectedFields = &sel
				}
			}
		case "add_stream":
			if c.NonBreakingPreference != "propagate_fully" {
				continue
			}
			s := newBy[k]
			cfg := defaultConfig(def, *s, len(ac.Streams))
			cfg.Selected = true
			if !slices.Contains(destModes, cfg.DestinationSyncMode) {
				cfg.SyncMode, cfg.DestinationSyncMode = "full_refresh", "overwrite"
			}
			c.Catalog = append(c.Catalog, catalogStream{stream: s, config: cfg})
		case "remove_stream":
			if c.NonBreakingPreference != "propagate_fully" {
				continue
			}
			c.Catalog = slices.DeleteFunc(c.Catalog, func(sc catalogStream) bool { return keyOf(*sc.stream) == k })
		}
	}
}

func topLevelFields(schema map[string]any) []string {
	props, _ := schema["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// diffJSON is a helper for admin output.
func diffJSON(d *CatalogDiff) json.RawMessage {
	if d == nil {
		return json.RawMessage("null")
	}
	b, _ := json.Marshal(d)
	return b
}
