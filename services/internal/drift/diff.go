package drift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/aam-mesh/aam/pkg/airbyte"
)

// Diff computes the difference between the catalog a connection's version
// was made from and a newly discovered one, with Airbyte's rules
// (CatalogDiffHelpers.getCatalogDiff):
//
//   - remove_stream for every stream of the old catalog (baseline, the
//     source's streams when the version was made, plus the configured ones)
//     that the source no longer offers; add_stream for every discovered
//     stream the old catalog did not have;
//   - update_stream for configured (selected) streams whose definition
//     changed: add_field, remove_field and update_field_schema over every
//     fully qualified field path of the JSON schemas, and update_primary_key
//     when the source-defined primary key changed. Unselected streams never
//     get update_stream.
//
// Breaking, per stream configuration (fieldTransformBreaksConnection,
// primaryKeyTransformBreaksConnection): removing the cursor field of an
// incremental stream, removing a primary key field of a deduplicated
// stream, and a new non-empty source primary key on a deduplicated stream
// whose configured key differs. Nothing else is.
//
// Transforms are ordered by stream name and namespace, fields by path.
//
// pkg/emulator has its own diff, standing in for Airbyte's; the observer's TestDiffAgreesWithAirbyte checks this one against it.
func Diff(baseline []airbyte.StreamDescriptor, configured, discovered *airbyte.AirbyteCatalog) airbyte.CatalogDiff {
	type key struct{ name, ns string }
	old := map[key]bool{}
	var oldKeys []key
	addOld := func(k key) {
		if !old[k] {
			old[k] = true
			oldKeys = append(oldKeys, k)
		}
	}
	for _, d := range baseline {
		addOld(key{d.Name, d.Namespace})
	}
	conf := map[key]airbyte.AirbyteStreamAndConfiguration{}
	for _, s := range Streams(configured) {
		k := key{s.Stream.Name, s.Stream.Namespace}
		addOld(k)
		conf[k] = s
	}
	found := map[key]*airbyte.AirbyteStream{}
	for _, s := range Streams(discovered) {
		found[key{s.Stream.Name, s.Stream.Namespace}] = s.Stream
	}

	diff := airbyte.CatalogDiff{Transforms: []airbyte.StreamTransform{}}
	for _, k := range oldKeys {
		if found[k] == nil {
			diff.Transforms = append(diff.Transforms, airbyte.StreamTransform{
				TransformType: airbyte.TransformRemoveStream, StreamDescriptor: airbyte.StreamDescriptor{Name: k.name, Namespace: k.ns}})
		}
	}
	for _, s := range Streams(discovered) {
		k := key{s.Stream.Name, s.Stream.Namespace}
		if !old[k] {
			diff.Transforms = append(diff.Transforms, airbyte.StreamTransform{
				TransformType: airbyte.TransformAddStream, StreamDescriptor: airbyte.StreamDescriptor{Name: k.name, Namespace: k.ns}})
			continue
		}
		c, selected := conf[k]
		if !selected {
			continue
		}
		if u := diffStream(c.Stream, s.Stream, c.Config); u != nil {
			diff.Transforms = append(diff.Transforms, airbyte.StreamTransform{
				TransformType: airbyte.TransformUpdateStream, StreamDescriptor: airbyte.StreamDescriptor{Name: k.name, Namespace: k.ns},
				UpdateStream: u})
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

func diffStream(old, new *airbyte.AirbyteStream, cfg *airbyte.AirbyteStreamConfiguration) *airbyte.UpdateStream {
	if cfg == nil {
		cfg = &airbyte.AirbyteStreamConfiguration{}
	}
	oldFields, newFields := fieldMap(old.JSONSchema), fieldMap(new.JSONSchema)
	u := &airbyte.UpdateStream{FieldTransforms: []airbyte.FieldTransform{}, StreamAttributeTransforms: []airbyte.StreamAttributeTransform{}}
	for _, p := range sortedPaths(oldFields) {
		if _, ok := newFields[p]; !ok {
			path := splitPath(p)
			u.FieldTransforms = append(u.FieldTransforms, airbyte.FieldTransform{
				TransformType: airbyte.TransformRemoveField, FieldName: path, Breaking: removalBreaks(cfg, path),
				RemoveField: &airbyte.FieldSchemaRef{Schema: rawJSON(oldFields[p])},
			})
		}
	}
	for _, p := range sortedPaths(newFields) {
		o, ok := oldFields[p]
		switch {
		case !ok:
			u.FieldTransforms = append(u.FieldTransforms, airbyte.FieldTransform{
				TransformType: airbyte.TransformAddField, FieldName: splitPath(p),
				AddField: &airbyte.FieldSchemaRef{Schema: rawJSON(newFields[p])},
			})
		case !reflect.DeepEqual(o, newFields[p]):
			u.FieldTransforms = append(u.FieldTransforms, airbyte.FieldTransform{
				TransformType: airbyte.TransformUpdateFieldSchema, FieldName: splitPath(p),
				UpdateFieldSchema: &airbyte.FieldSchemaUpdate{OldSchema: rawJSON(o), NewSchema: rawJSON(newFields[p])},
			})
		}
	}
	if !samePK(old.SourceDefinedPrimaryKey, new.SourceDefinedPrimaryKey) {
		u.StreamAttributeTransforms = append(u.StreamAttributeTransforms, airbyte.StreamAttributeTransform{
			TransformType: airbyte.TransformUpdatePrimaryKey, Breaking: keyChangeBreaks(cfg, new.SourceDefinedPrimaryKey),
			UpdatePrimaryKey: &airbyte.PrimaryKeyUpdate{OldPrimaryKey: old.SourceDefinedPrimaryKey, NewPrimaryKey: new.SourceDefinedPrimaryKey},
		})
	}
	if len(u.FieldTransforms) == 0 && len(u.StreamAttributeTransforms) == 0 {
		return nil
	}
	return u
}

// removalBreaks: removing the cursor of an incremental stream, or a
// primary key field of a deduplicated stream.
func removalBreaks(cfg *airbyte.AirbyteStreamConfiguration, path []string) bool {
	if cfg.SyncMode == airbyte.SyncModeIncremental && slices.Equal(cfg.CursorField, path) {
		return true
	}
	return cfg.DestinationSyncMode.IsDedup() && slices.ContainsFunc(cfg.PrimaryKey, func(k []string) bool { return slices.Equal(k, path) })
}

// keyChangeBreaks: a new non-empty source primary key on a deduplicated
// stream whose configured key differs from it (as sets).
func keyChangeBreaks(cfg *airbyte.AirbyteStreamConfiguration, newPK [][]string) bool {
	if len(newPK) == 0 || !cfg.DestinationSyncMode.IsDedup() {
		return false
	}
	return !reflect.DeepEqual(pkSet(cfg.PrimaryKey), pkSet(newPK))
}

func pkSet(pk [][]string) map[string]bool {
	m := map[string]bool{}
	for _, k := range pk {
		m[joinPath(k)] = true
	}
	return m
}

func samePK(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// pathSep joins field path elements into map keys; it cannot occur in a
// JSON property name that matters here.
const pathSep = "\x1f"

func joinPath(p []string) string  { return strings.Join(p, pathSep) }
func splitPath(p string) []string { return strings.Split(p, pathSep) }

func sortedPaths(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fieldMap maps every fully qualified field path of a JSON schema to its
// schema node (CatalogHelpers.getFullyQualifiedFieldNamesWithTypes): depth
// first through properties, array items as an "items" path element, nodes
// without a type (oneOf-style combinators) not descended into.
func fieldMap(raw json.RawMessage) map[string]any {
	out := map[string]any{}
	var schema map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &schema) != nil {
		return out
	}
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

func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// Summary describes a diff in one line for people: "Account: field
// Region__c added; Invoice__c: stream added".
func Summary(d airbyte.CatalogDiff) string {
	var parts []string
	for _, t := range d.Transforms {
		name := t.StreamDescriptor.Name
		if t.StreamDescriptor.Namespace != "" {
			name = t.StreamDescriptor.Namespace + "." + name
		}
		switch t.TransformType {
		case airbyte.TransformAddStream:
			parts = append(parts, name+": stream added")
		case airbyte.TransformRemoveStream:
			parts = append(parts, name+": stream removed")
		case airbyte.TransformUpdateStream:
			var changes []string
			for _, f := range t.UpdateStream.FieldTransforms {
				what := map[airbyte.FieldTransformType]string{
					airbyte.TransformAddField: "added", airbyte.TransformRemoveField: "removed",
					airbyte.TransformUpdateFieldSchema: "type changed",
				}[f.TransformType]
				c := fmt.Sprintf("field %s %s", strings.Join(f.FieldName, "."), what)
				if f.Breaking {
					c += " (breaking)"
				}
				changes = append(changes, c)
			}
			for _, a := range t.UpdateStream.StreamAttributeTransforms {
				c := "primary key changed"
				if u := a.UpdatePrimaryKey; u != nil {
					c = fmt.Sprintf("primary key %s → %s", pkString(u.OldPrimaryKey), pkString(u.NewPrimaryKey))
				}
				if a.Breaking {
					c += " (breaking)"
				}
				changes = append(changes, c)
			}
			parts = append(parts, name+": "+strings.Join(changes, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

func pkString(pk [][]string) string {
	if len(pk) == 0 {
		return "none"
	}
	var b bytes.Buffer
	for i, k := range pk {
		if i > 0 {
			b.WriteString("+")
		}
		b.WriteString(strings.Join(k, "."))
	}
	return b.String()
}
