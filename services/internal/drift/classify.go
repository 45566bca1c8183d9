package drift

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/aam-mesh/aam/pkg/airbyte"
)

// Change is one classified change of a drift.
type Change struct {
	Kind      Kind   `json:"kind"`
	Stream    string `json:"stream"`
	Namespace string `json:"namespace,omitempty"`
	// Field is the field path (array items are an "items" element); empty
	// for stream and stream attribute kinds.
	Field []string `json:"field,omitempty"`
	// OldType and NewType describe the field's type before and after
	// ("integer|null", "string(date-time)", "object", "any"), or the key,
	// cursor or sync modes for attribute kinds.
	OldType string `json:"old_type,omitempty"`
	NewType string `json:"new_type,omitempty"`
	// Breaking, Risk and Reason come from the kind's row in Table.
	Breaking bool   `json:"breaking"`
	Risk     Risk   `json:"risk"`
	Reason   string `json:"reason"`
	// AirbyteTransform is the Airbyte transform this change refines
	// ("" when Airbyte reports nothing), AirbyteBreaking its breaking flag.
	AirbyteTransform string `json:"airbyte_transform,omitempty"`
	AirbyteBreaking  bool   `json:"airbyte_breaking"`
}

// FieldPath is the change's field path joined with dots.
func (c Change) FieldPath() string { return strings.Join(c.Field, ".") }

func newChange(k Kind, d airbyte.StreamDescriptor) Change {
	cl := byKind[k]
	return Change{Kind: k, Stream: d.Name, Namespace: d.Namespace, Breaking: cl.Breaking, Risk: cl.Risk, Reason: cl.Reason}
}

// Breaking reports whether any change breaks the connection.
func Breaking(cs []Change) bool {
	return slices.ContainsFunc(cs, func(c Change) bool { return c.Breaking })
}

// AirbyteBreaking reports whether Airbyte would call any change breaking.
func AirbyteBreaking(cs []Change) bool {
	return slices.ContainsFunc(cs, func(c Change) bool { return c.AirbyteBreaking })
}

// Classify refines Airbyte's diff between a connection's configured catalog
// (a catalog version: every entry is a stream the connection syncs) and a
// discovered one into classified changes. diff is Airbyte's CatalogDiff of
// the two (the observer's Diff); Classify adds what it
// does not report for the configured streams the source still offers: a
// changed default cursor and sync modes gained or no longer supported.
//
// An update_field_schema that only reflects changes of nested fields
// (reported on their own paths) yields no change of its own. Changes are
// ordered by stream name and namespace, then as found.
func Classify(diff airbyte.CatalogDiff, configured, discovered *airbyte.AirbyteCatalog) []Change {
	out := []Change{}
	updated := map[airbyte.StreamDescriptor]bool{}
	for _, t := range diff.Transforms {
		d := t.StreamDescriptor
		old, _ := configured.Stream(d.Name, d.Namespace)
		switch t.TransformType {
		case airbyte.TransformAddStream:
			c := newChange(StreamAdded, d)
			c.AirbyteTransform = string(t.TransformType)
			out = append(out, c)
		case airbyte.TransformRemoveStream:
			k := StreamRemoved
			if old != nil {
				k = SelectedStreamRemoved
			}
			c := newChange(k, d)
			c.AirbyteTransform = string(t.TransformType)
			out = append(out, c)
		case airbyte.TransformUpdateStream:
			updated[d] = true
			now, _ := discovered.Stream(d.Name, d.Namespace)
			if old == nil || now == nil || t.UpdateStream == nil {
				continue
			}
			out = append(out, classifyStream(d, old, now, t.UpdateStream)...)
		}
	}
	for _, s := range Streams(configured) {
		d := airbyte.StreamDescriptor{Name: s.Stream.Name, Namespace: s.Stream.Namespace}
		now, ok := discovered.Stream(d.Name, d.Namespace)
		if !ok || now.Stream == nil {
			continue
		}
		out = append(out, classifyAttributes(d, &s, now)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Stream != out[j].Stream {
			return out[i].Stream < out[j].Stream
		}
		return out[i].Namespace < out[j].Namespace
	})
	return out
}

// Streams returns a catalog's entries that have a stream.
func Streams(c *airbyte.AirbyteCatalog) []airbyte.AirbyteStreamAndConfiguration {
	if c == nil {
		return nil
	}
	out := make([]airbyte.AirbyteStreamAndConfiguration, 0, len(c.Streams))
	for _, s := range c.Streams {
		if s.Stream != nil {
			out = append(out, s)
		}
	}
	return out
}

func classifyStream(d airbyte.StreamDescriptor, old, now *airbyte.AirbyteStreamAndConfiguration, u *airbyte.UpdateStream) []Change {
	cfg := airbyte.AirbyteStreamConfiguration{}
	if old.Config != nil {
		cfg = *old.Config
	}
	oldSchema, newSchema := decode(old.Stream.JSONSchema), decode(now.Stream.JSONSchema)
	var out []Change
	for _, f := range u.FieldTransforms {
		var c Change
		switch f.TransformType {
		case airbyte.TransformAddField:
			node, parent := resolve(newSchema, f.FieldName)
			k := FieldAdded
			switch {
			case len(f.FieldName) > 1:
				k = NestedFieldAdded
			case !nullable(node) || requiredIn(parent, f.FieldName[len(f.FieldName)-1]):
				k = RequiredFieldAdded
			}
			c = newChange(k, d)
			c.NewType = typeString(node)
		case airbyte.TransformRemoveField:
			node, _ := resolve(oldSchema, f.FieldName)
			c = newChange(removalKind(&cfg, old.Stream, f.FieldName), d)
			c.OldType = typeString(node)
		case airbyte.TransformUpdateFieldSchema:
			o, _ := resolve(oldSchema, f.FieldName)
			n, _ := resolve(newSchema, f.FieldName)
			k := typeChangeKind(o, n)
			if k == "" {
				continue
			}
			if isItems(oldSchema, f.FieldName) {
				k = itemsKind(k)
			}
			c = newChange(k, d)
			c.OldType, c.NewType = typeString(o), typeString(n)
		default:
			continue
		}
		c.Field = slices.Clone(f.FieldName)
		c.AirbyteTransform, c.AirbyteBreaking = string(f.TransformType), f.Breaking
		out = append(out, c)
	}
	out = dropReshaped(out)
	for _, a := range u.StreamAttributeTransforms {
		if a.TransformType != airbyte.TransformUpdatePrimaryKey || a.UpdatePrimaryKey == nil {
			continue
		}
		k := DefaultPrimaryKeyChanged
		if cfg.DestinationSyncMode.IsDedup() {
			k = PrimaryKeyChanged
		}
		c := newChange(k, d)
		c.OldType, c.NewType = keyString(a.UpdatePrimaryKey.OldPrimaryKey), keyString(a.UpdatePrimaryKey.NewPrimaryKey)
		c.AirbyteTransform, c.AirbyteBreaking = string(a.TransformType), a.Breaking
		out = append(out, c)
	}
	return out
}

// reshaping kinds replace a field's whole schema: the fields added or
// removed under it are part of that one change.
var reshaping = map[Kind]bool{ScalarToObject: true, ScalarToArray: true, ObjectToScalar: true, ArrayToScalar: true,
	ObjectArraySwap: true}

func dropReshaped(cs []Change) []Change {
	var roots [][]string
	for _, c := range cs {
		if reshaping[c.Kind] {
			roots = append(roots, c.Field)
		}
	}
	return slices.DeleteFunc(cs, func(c Change) bool {
		return slices.ContainsFunc(roots, func(r []string) bool {
			return len(c.Field) > len(r) && slices.Equal(c.Field[:len(r)], r)
		})
	})
}

// removalKind classifies a removed field by the role it had in the stream's
// configuration: primary key, then cursor, then field selection.
func removalKind(cfg *airbyte.AirbyteStreamConfiguration, old *airbyte.AirbyteStream, path []string) Kind {
	pk := cfg.PrimaryKey
	if len(pk) == 0 && cfg.DestinationSyncMode.IsDedup() {
		pk = old.SourceDefinedPrimaryKey
	}
	if slices.ContainsFunc(pk, func(k []string) bool { return slices.Equal(k, path) }) {
		return PrimaryKeyFieldRemoved
	}
	cursor := cfg.CursorField
	if len(cursor) == 0 && old.SourceDefinedCursor {
		cursor = old.DefaultCursorField
	}
	if cfg.SyncMode == airbyte.SyncModeIncremental && len(cursor) > 0 && slices.Equal(cursor, path) {
		return CursorFieldRemoved
	}
	if len(path) > 1 {
		return NestedFieldRemoved
	}
	if cfg.FieldSelectionEnabled {
		if slices.ContainsFunc(cfg.SelectedFields, func(f airbyte.SelectedField) bool {
			return len(f.FieldPath) > 0 && f.FieldPath[0] == path[0]
		}) {
			return SelectedFieldRemoved
		}
		return UnselectedFieldRemoved
	}
	return FieldRemoved
}

// classifyAttributes reports what Airbyte's diff leaves out of a configured
// stream the source still offers: its default cursor and its sync modes.
func classifyAttributes(d airbyte.StreamDescriptor, old *airbyte.AirbyteStreamAndConfiguration, now *airbyte.AirbyteStreamAndConfiguration) []Change {
	cfg := airbyte.AirbyteStreamConfiguration{}
	if old.Config != nil {
		cfg = *old.Config
	}
	var out []Change
	o, n := old.Stream, now.Stream
	if !slices.Equal(o.DefaultCursorField, n.DefaultCursorField) || o.SourceDefinedCursor != n.SourceDefinedCursor {
		k := DefaultCursorChanged
		usesDefault := len(cfg.CursorField) == 0 || slices.Equal(cfg.CursorField, o.DefaultCursorField)
		if cfg.SyncMode == airbyte.SyncModeIncremental && o.SourceDefinedCursor && usesDefault {
			k = CursorChanged
		}
		c := newChange(k, d)
		c.OldType, c.NewType = strings.Join(o.DefaultCursorField, "."), strings.Join(n.DefaultCursorField, ".")
		out = append(out, c)
	}
	if len(n.SupportedSyncModes) > 0 && cfg.SyncMode != "" && !slices.Contains(n.SupportedSyncModes, cfg.SyncMode) {
		c := newChange(SyncModeUnsupported, d)
		c.OldType, c.NewType = string(cfg.SyncMode), modesString(n.SupportedSyncModes)
		out = append(out, c)
	}
	if len(o.SupportedSyncModes) > 0 {
		for _, m := range n.SupportedSyncModes {
			if !slices.Contains(o.SupportedSyncModes, m) {
				c := newChange(SyncModeAdded, d)
				c.OldType, c.NewType = modesString(o.SupportedSyncModes), modesString(n.SupportedSyncModes)
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func modesString(ms []airbyte.SyncMode) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, "|")
}

func keyString(pk [][]string) string {
	if len(pk) == 0 {
		return "none"
	}
	parts := make([]string, len(pk))
	for i, k := range pk {
		parts[i] = strings.Join(k, ".")
	}
	return strings.Join(parts, "+")
}

func decode(raw json.RawMessage) map[string]any {
	var m map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return map[string]any{}
	}
	return m
}

// resolve walks a field path through properties and array items, returning
// the node and its parent (nil when absent).
func resolve(schema map[string]any, path []string) (node, parent map[string]any) {
	node = schema
	for _, p := range path {
		parent = node
		if props, ok := node["properties"].(map[string]any); ok {
			if c, ok := props[p].(map[string]any); ok {
				node = c
				continue
			}
		}
		if items, ok := node["items"].(map[string]any); ok && p == "items" {
			node = items
			continue
		}
		return nil, parent
	}
	return node, parent
}

// isItems reports whether path ends at the items of an array.
func isItems(schema map[string]any, path []string) bool {
	if len(path) < 2 || path[len(path)-1] != "items" {
		return false
	}
	parent, _ := resolve(schema, path[:len(path)-1])
	if props, ok := parent["properties"].(map[string]any); ok {
		if _, named := props["items"]; named {
			return false
		}
	}
	_, ok := parent["items"].(map[string]any)
	return ok
}

func requiredIn(parent map[string]any, name string) bool {
	req, _ := parent["required"].([]any)
	return slices.Contains(req, any(name))
}

// typeInfo is what compatibility depends on: the types without null,
// whether null is allowed, the format; untyped for nodes without a type.
type typeInfo struct {
	types    []string
	nullable bool
	format   string
	untyped  bool
}

func info(node map[string]any) typeInfo {
	var ti typeInfo
	if node == nil {
		ti.untyped = true
		return ti
	}
	switch t := node["type"].(type) {
	case string:
		ti.types = []string{t}
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				ti.types = append(ti.types, s)
			}
		}
	default:
		ti.untyped = true
		return ti
	}
	if i := slices.Index(ti.types, "null"); i >= 0 {
		ti.nullable = true
		ti.types = slices.Delete(ti.types, i, i+1)
	}
	at, _ := node["airbyte_type"].(string)
	if at == "integer" && slices.Equal(ti.types, []string{"number"}) {
		ti.types, at = []string{"integer"}, ""
	}
	ti.format, _ = node["format"].(string)
	if ti.format == "" {
		ti.format = at
	}
	sort.Strings(ti.types)
	ti.types = slices.Compact(ti.types)
	return ti
}

func nullable(node map[string]any) bool {
	ti := info(node)
	return ti.untyped || ti.nullable
}

func typeString(node map[string]any) string {
	ti := info(node)
	if ti.untyped {
		return "any"
	}
	s := strings.Join(ti.types, "|")
	if ti.format != "" {
		s += "(" + ti.format + ")"
	}
	if ti.nullable {
		if s == "" {
			return "null"
		}
		s += "|null"
	}
	return s
}

func (ti typeInfo) shape() string {
	switch {
	case slices.Contains(ti.types, "object"):
		return "object"
	case slices.Contains(ti.types, "array"):
		return "array"
	}
	return "scalar"
}

// accepts reports whether a value of type t is valid under types.
func accepts(types []string, t string) bool {
	return slices.Contains(types, t) || t == "integer" && slices.Contains(types, "number")
}

func covers(wide, narrow []string) bool {
	for _, t := range narrow {
		if !accepts(wide, t) {
			return false
		}
	}
	return true
}

// typeChangeKind classifies an updated field schema; "" when only nested
// properties or items differ (their own paths report them).
func typeChangeKind(o, n map[string]any) Kind {
	a, b := info(o), info(n)
	if a.untyped || b.untyped {
		if a.untyped && b.untyped && o != nil && n != nil && reflect.DeepEqual(strip(o), strip(n)) {
			return AnnotationOnly
		}
		return SchemaChanged
	}
	if sa, sb := a.shape(), b.shape(); sa != sb {
		switch {
		case sa == "scalar" && sb == "object":
			return ScalarToObject
		case sa == "scalar" && sb == "array":
			return ScalarToArray
		case sb == "scalar" && sa == "object":
			return ObjectToScalar
		case sb == "scalar" && sa == "array":
			return ArrayToScalar
		}
		return ObjectArraySwap
	}
	var kinds []Kind
	if !slices.Equal(a.types, b.types) {
		switch {
		case covers(b.types, a.types):
			kinds = append(kinds, TypeWidened)
		case covers(a.types, b.types):
			kinds = append(kinds, TypeNarrowed)
		default:
			kinds = append(kinds, TypeChanged)
		}
	}
	switch {
	case a.nullable && !b.nullable:
		kinds = append(kinds, NullDisallowed)
	case !a.nullable && b.nullable:
		kinds = append(kinds, NullAllowed)
	}
	switch {
	case a.format != "" && b.format == "":
		kinds = append(kinds, FormatDropped)
	case a.format == "" && b.format != "":
		kinds = append(kinds, FormatAdded)
	case a.format != b.format:
		kinds = append(kinds, FormatChanged)
	}
	for _, k := range kinds {
		if byKind[k].Breaking {
			return k
		}
	}
	if len(kinds) > 0 {
		return kinds[0]
	}
	if reflect.DeepEqual(strip(o), strip(n)) {
		return AnnotationOnly
	}
	return ""
}

// strip returns a schema node without its annotations.
func strip(node map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range node {
		switch k {
		case "description", "title", "examples", "$comment", "default":
			continue
		}
		out[k] = v
	}
	return out
}

func itemsKind(k Kind) Kind {
	switch {
	case k == AnnotationOnly:
		return k
	case byKind[k].Breaking:
		return ItemsNarrowed
	}
	return ItemsWidened
}
