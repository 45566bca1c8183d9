package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// catalogStream is one stream of a catalog, in either Airbyte form,
// reduced to what a reader compares.
type catalogStream struct {
	Name                string            `json:"name"`
	Namespace           string            `json:"namespace,omitempty"`
	Selected            bool              `json:"selected"`
	SyncMode            string            `json:"sync_mode,omitempty"`
	DestinationSyncMode string            `json:"destination_sync_mode,omitempty"`
	CursorField         []string          `json:"cursor_field,omitempty"`
	PrimaryKey          [][]string        `json:"primary_key,omitempty"`
	Fields              map[string]string `json:"fields"`
}

func (s catalogStream) mode() string {
	m := s.SyncMode + ", " + s.DestinationSyncMode
	if !s.Selected {
		m += ", not selected"
	}
	return m
}

func (s catalogStream) fieldNames() []string {
	names := make([]string, 0, len(s.Fields))
	for n := range s.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// normalizeCatalog reads a sync catalog in the Airbyte protocol form
// (stream.json_schema, sync_mode, destination_sync_mode, cursor_field,
// primary_key) or the configuration API form (stream.jsonSchema +
// config.{syncMode, destinationSyncMode, cursorField, primaryKey,
// selected}).
func normalizeCatalog(raw json.RawMessage) []catalogStream {
	var c struct {
		Streams []struct {
			Stream struct {
				Name        string          `json:"name"`
				Namespace   *string         `json:"namespace"`
				JSONSchema  json.RawMessage `json:"json_schema"`
				JSONSchema2 json.RawMessage `json:"jsonSchema"`
			} `json:"stream"`
			SyncMode            string     `json:"sync_mode"`
			DestinationSyncMode string     `json:"destination_sync_mode"`
			CursorField         []string   `json:"cursor_field"`
			PrimaryKey          [][]string `json:"primary_key"`
			Config              *struct {
				SyncMode            string     `json:"syncMode"`
				DestinationSyncMode string     `json:"destinationSyncMode"`
				CursorField         []string   `json:"cursorField"`
				PrimaryKey          [][]string `json:"primaryKey"`
				Selected            *bool      `json:"selected"`
			} `json:"config"`
		} `json:"streams"`
	}
	_ = json.Unmarshal(raw, &c)
	out := make([]catalogStream, 0, len(c.Streams))
	for _, s := range c.Streams {
		cs := catalogStream{Name: s.Stream.Name, Selected: true, SyncMode: s.SyncMode, DestinationSyncMode: s.DestinationSyncMode,
			CursorField: s.CursorField, PrimaryKey: s.PrimaryKey}
		if s.Stream.Namespace != nil {
			cs.Namespace = *s.Stream.Namespace
		}
		schema := s.Stream.JSONSchema
		if s.Config != nil {
			schema = s.Stream.JSONSchema2
			cs.SyncMode, cs.DestinationSyncMode = s.Config.SyncMode, s.Config.DestinationSyncMode
			cs.CursorField, cs.PrimaryKey = s.Config.CursorField, s.Config.PrimaryKey
			if s.Config.Selected != nil {
				cs.Selected = *s.Config.Selected
			}
		}
		cs.Fields = schemaFields(schema)
		out = append(out, cs)
	}
	return out
}

// schemaFields lists the top-level properties of a JSON Schema with their
// types ("string", "number|null", ...).
func schemaFields(raw json.RawMessage) map[string]string {
	var s struct {
		Properties map[string]struct {
			Type   any    `json:"type"`
			Format string `json:"format"`
		} `json:"properties"`
	}
	fields := map[string]string{}
	if json.Unmarshal(raw, &s) != nil {
		return fields
	}
	for name, p := range s.Properties {
		var t string
		switch v := p.Type.(type) {
		case string:
			t = v
		case []any:
			var parts []string
			for _, x := range v {
				parts = append(parts, fmt.Sprint(x))
			}
			t = strings.Join(parts, "|")
		}
		if p.Format != "" {
			t += " (" + p.Format + ")"
		}
		fields[name] = t
	}
	return fields
}

// catalogDiff is what changed between two catalog versions.
type catalogDiff struct {
	ConnectionID string         `json:"connection_id"`
	From         int            `json:"from"`
	To           int            `json:"to"`
	Added        []streamChange `json:"added_streams"`
	Removed      []streamChange `json:"removed_streams"`
	Changed      []streamChange `json:"changed_streams"`
}

type streamChange struct {
	Stream        string        `json:"stream"`
	Mode          string        `json:"mode,omitempty"`
	Settings      []valueChange `json:"settings,omitempty"`
	AddedFields   []fieldChange `json:"added_fields,omitempty"`
	RemovedFields []fieldChange `json:"removed_fields,omitempty"`
	ChangedFields []valueChange `json:"changed_fields,omitempty"`
}

type fieldChange struct {
	Field string `json:"field"`
	Type  string `json:"type"`
}

type valueChange struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Empty reports whether the versions are the same for every stream.
func (d catalogDiff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

func streamKey(s catalogStream) string {
	if s.Namespace != "" {
		return s.Namespace + "." + s.Name
	}
	return s.Name
}

func diffCatalogs(a, b json.RawMessage) catalogDiff {
	d := catalogDiff{Added: []streamChange{}, Removed: []streamChange{}, Changed: []streamChange{}}
	from, to := map[string]catalogStream{}, map[string]catalogStream{}
	var order []string
	for _, s := range normalizeCatalog(a) {
		from[streamKey(s)] = s
		order = append(order, streamKey(s))
	}
	for _, s := range normalizeCatalog(b) {
		k := streamKey(s)
		to[k] = s
		if _, ok := from[k]; !ok {
			order = append(order, k)
		}
	}
	for _, k := range order {
		x, inA := from[k]
		y, inB := to[k]
		switch {
		case !inA:
			d.Added = append(d.Added, streamChange{Stream: k, Mode: y.mode(), AddedFields: fieldList(y, y.fieldNames())})
		case !inB:
			d.Removed = append(d.Removed, streamChange{Stream: k, Mode: x.mode()})
		default:
			if c, changed := diffStream(k, x, y); changed {
				d.Changed = append(d.Changed, c)
			}
		}
	}
	return d
}

func fieldList(s catalogStream, names []string) []fieldChange {
	out := make([]fieldChange, 0, len(names))
	for _, n := range names {
		out = append(out, fieldChange{Field: n, Type: s.Fields[n]})
	}
	return out
}

func diffStream(name string, x, y catalogStream) (streamChange, bool) {
	c := streamChange{Stream: name}
	set := func(what, a, b string) {
		if a != b {
			c.Settings = append(c.Settings, valueChange{Name: what, From: a, To: b})
		}
	}
	set("selected", fmt.Sprint(x.Selected), fmt.Sprint(y.Selected))
	set("sync mode", x.SyncMode, y.SyncMode)
	set("destination sync mode", x.DestinationSyncMode, y.DestinationSyncMode)
	set("cursor", strings.Join(x.CursorField, "."), strings.Join(y.CursorField, "."))
	set("primary key", keyString(x.PrimaryKey), keyString(y.PrimaryKey))
	for _, f := range y.fieldNames() {
		if t, ok := x.Fields[f]; !ok {
			c.AddedFields = append(c.AddedFields, fieldChange{Field: f, Type: y.Fields[f]})
		} else if t != y.Fields[f] {
			c.ChangedFields = append(c.ChangedFields, valueChange{Name: f, From: t, To: y.Fields[f]})
		}
	}
	for _, f := range x.fieldNames() {
		if _, ok := y.Fields[f]; !ok {
			c.RemovedFields = append(c.RemovedFields, fieldChange{Field: f, Type: x.Fields[f]})
		}
	}
	changed := len(c.Settings)+len(c.AddedFields)+len(c.RemovedFields)+len(c.ChangedFields) > 0
	return c, changed
}

func keyString(k [][]string) string {
	parts := make([]string, 0, len(k))
	for _, p := range k {
		parts = append(parts, strings.Join(p, "."))
	}
	return strings.Join(parts, ",")
}

func (d catalogDiff) print(w io.Writer) {
	fmt.Fprintf(w, "connection %s: catalog version %d → %d\n", d.ConnectionID, d.From, d.To)
	if d.Empty() {
		fmt.Fprintln(w, "no differences")
		return
	}
	for _, s := range d.Added {
		fmt.Fprintf(w, "+ stream %s (%s)\n", s.Stream, s.Mode)
		for _, f := range s.AddedFields {
			fmt.Fprintf(w, "    + %s %s\n", f.Field, f.Type)
		}
	}
	for _, s := range d.Removed {
		fmt.Fprintf(w, "- stream %s (%s)\n", s.Stream, s.Mode)
	}
	for _, s := range d.Changed {
		fmt.Fprintf(w, "~ stream %s\n", s.Stream)
		for _, v := range s.Settings {
			fmt.Fprintf(w, "    %s: %s → %s\n", v.Name, orNone(v.From), orNone(v.To))
		}
		for _, f := range s.AddedFields {
			fmt.Fprintf(w, "    + field %s %s\n", f.Field, f.Type)
		}
		for _, f := range s.RemovedFields {
			fmt.Fprintf(w, "    - field %s %s\n", f.Field, f.Type)
		}
		for _, f := range s.ChangedFields {
			fmt.Fprintf(w, "    ~ field %s: %s → %s\n", f.Name, orNone(f.From), orNone(f.To))
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
