package repair

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aam-mesh/aam/pkg/airbyte"
)

// RejectError reports a catalog the repair worker refuses before touching
// Airbyte, naming the offending stream and field. Its messages follow
// Airbyte's own for the same mistakes (AirbyteCatalogHelper).
type RejectError struct {
	// Stream is the stream at fault ("" when the catalog as a whole is).
	Stream string
	// Field is the request field at fault, in the request's own spelling:
	// sync_mode, destination_sync_mode, cursor_field, primary_key and
	// stream.name in the Airbyte protocol form; config.syncMode,
	// config.destinationSyncMode, config.cursorField, config.primaryKey in
	// the configuration API form.
	Field  string
	Reason string
}

func (e *RejectError) Error() string { return e.Reason }

func reject(stream, field, format string, args ...any) *RejectError {
	return &RejectError{Stream: stream, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// form is the spelling of a requested stream.
type form int

const (
	formProtocol form = iota // ConfiguredAirbyteStream: snake_case
	formConfig               // AirbyteStreamAndConfiguration: stream + config
)

// field names the request field f (a protocol name) in the stream's form.
func (f form) field(name string) string {
	if f == formProtocol {
		return name
	}
	switch name {
	case "sync_mode":
		return "config.syncMode"
	case "destination_sync_mode":
		return "config.destinationSyncMode"
	case "cursor_field":
		return "config.cursorField"
	case "primary_key":
		return "config.primaryKey"
	case "selected_fields":
		return "config.selectedFields"
	}
	return name
}

// desiredStream is one requested stream, normalised from either form.
type desiredStream struct {
	form      form
	name      string
	namespace string

	syncMode            airbyte.SyncMode
	destinationSyncMode airbyte.DestinationSyncMode
	// cursorField and primaryKey are nil when the request gives none.
	cursorField []string
	primaryKey  [][]string
	selected    bool

	// Configuration API extras, carried over when given.
	aliasName             string
	fieldSelectionEnabled bool
	selectedFields        []airbyte.SelectedField
	hashedFields          []airbyte.SelectedField
	mappers               []airbyte.StreamMapper
	destinationObjectName string
	includeFiles          *bool
	generationID          *int64
	minimumGenerationID   *int64
	syncID                *int64
}

// protocolStream is a ConfiguredAirbyteStream (Airbyte protocol form).
type protocolStream struct {
	Stream struct {
		Name      string  `json:"name"`
		Namespace *string `json:"namespace"`
	} `json:"stream"`
	SyncMode              airbyte.SyncMode            `json:"sync_mode"`
	DestinationSyncMode   airbyte.DestinationSyncMode `json:"destination_sync_mode"`
	CursorField           []string                    `json:"cursor_field"`
	PrimaryKey            [][]string                  `json:"primary_key"`
	GenerationID          *int64                      `json:"generation_id"`
	MinimumGenerationID   *int64                      `json:"minimum_generation_id"`
	SyncID                *int64                      `json:"sync_id"`
	IncludeFiles          *bool                       `json:"include_files"`
	DestinationObjectName string                      `json:"destination_object_name"`
}

// configStream is an AirbyteStreamAndConfiguration (configuration API form).
type configStream struct {
	Stream struct {
		Name      string  `json:"name"`
		Namespace *string `json:"namespace"`
	} `json:"stream"`
	Config struct {
		SyncMode              airbyte.SyncMode            `json:"syncMode"`
		DestinationSyncMode   airbyte.DestinationSyncMode `json:"destinationSyncMode"`
		CursorField           []string                    `json:"cursorField"`
		PrimaryKey            [][]string                  `json:"primaryKey"`
		AliasName             string                      `json:"aliasName"`
		Selected              *bool                       `json:"selected"`
		DestinationObjectName string                      `json:"destinationObjectName"`
		IncludeFiles          *bool                       `json:"includeFiles"`
		FieldSelectionEnabled bool                        `json:"fieldSelectionEnabled"`
		SelectedFields        []airbyte.SelectedField     `json:"selectedFields"`
		HashedFields          []airbyte.SelectedField     `json:"hashedFields"`
		Mappers               []airbyte.StreamMapper      `json:"mappers"`
		MinimumGenerationID   *int64                      `json:"minimumGenerationId"`
		GenerationID          *int64                      `json:"generationId"`
		SyncID                *int64                      `json:"syncId"`
	} `json:"config"`
}

// parseCatalog reads a requested catalog in either form (each stream may use
// its own) and returns its selected streams. Streams the request marks
// selected false are dropped, as Airbyte drops them when it saves a catalog.
func parseCatalog(raw json.RawMessage) ([]desiredStream, error) {
	var cat struct {
		Streams []json.RawMessage `json:"streams"`
	}
	if err := json.Unmarshal(raw, &cat); err != nil {
		return nil, reject("", "new_sync_catalog", "new_sync_catalog is not a catalog object: %v", err)
	}
	var out []desiredStream
	seen := map[[2]string]bool{}
	for i, rs := range cat.Streams {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(rs, &probe); err != nil {
			return nil, reject("", fmt.Sprintf("new_sync_catalog.streams[%d]", i), "stream %d is not an object", i)
		}
		var d desiredStream
		if _, ok := probe["config"]; ok {
			var s configStream
			if err := json.Unmarshal(rs, &s); err != nil {
				return nil, reject("", fmt.Sprintf("new_sync_catalog.streams[%d]", i), "stream %d does not decode: %v", i, err)
			}
			c := s.Config
			d = desiredStream{
				form: formConfig, name: s.Stream.Name, namespace: deref(s.Stream.Namespace),
				syncMode: c.SyncMode, destinationSyncMode: c.DestinationSyncMode,
				cursorField: c.CursorField, primaryKey: c.PrimaryKey,
				selected:  c.Selected == nil || *c.Selected,
				aliasName: c.AliasName, fieldSelectionEnabled: c.FieldSelectionEnabled,
				selectedFields: c.SelectedFields, hashedFields: c.HashedFields, mappers: c.Mappers,
				destinationObjectName: c.DestinationObjectName, includeFiles: c.IncludeFiles,
				generationID: c.GenerationID, minimumGenerationID: c.MinimumGenerationID, syncID: c.SyncID,
			}
		} else {
			var s protocolStream
			if err := json.Unmarshal(rs, &s); err != nil {
				return nil, reject("", fmt.Sprintf("new_sync_catalog.streams[%d]", i), "stream %d does not decode: %v", i, err)
			}
			d = desiredStream{
				form: formProtocol, name: s.Stream.Name, namespace: deref(s.Stream.Namespace),
				syncMode: s.SyncMode, destinationSyncMode: s.DestinationSyncMode,
				cursorField: s.CursorField, primaryKey: s.PrimaryKey, selected: true,
				destinationObjectName: s.DestinationObjectName, includeFiles: s.IncludeFiles,
				generationID: s.GenerationID, minimumGenerationID: s.MinimumGenerationID, syncID: s.SyncID,
			}
		}
		if strings.TrimSpace(d.name) == "" {
			return nil, reject("", "stream.name", "stream %d has no name", i)
		}
		key := [2]string{d.namespace, d.name}
		if seen[key] {
			return nil, reject(d.name, "stream.name", "Duplicate stream found in configuration for stream name [%s] in namespace [%s].",
				d.name, nsString(d.namespace))
		}
		seen[key] = true
		if !d.selected {
			continue
		}
		if d.syncMode == "" {
			return nil, reject(d.name, d.form.field("sync_mode"), "No sync mode given for stream %s.", d.name)
		}
		if !d.syncMode.Known() {
			return nil, reject(d.name, d.form.field("sync_mode"), "Unknown sync mode %s for stream %s.", d.syncMode, d.name)
		}
		if d.destinationSyncMode == "" {
			return nil, reject(d.name, d.form.field("destination_sync_mode"), "No destination sync mode given for stream %s.", d.name)
		}
		if !d.destinationSyncMode.Known() {
			return nil, reject(d.name, d.form.field("destination_sync_mode"), "Unknown destination sync mode %s for stream %s.",
				d.destinationSyncMode, d.name)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, reject("", "new_sync_catalog.streams", "The catalog selects no stream.")
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nsString(ns string) string { return cmp.Or(ns, "null") }

// validModes are the public sync modes Airbyte allows per stream for the
// connection's destination (GET /streams with destinationId), keyed by
// namespace and name. A nil map skips the destination check.
type validModes map[[2]string][]airbyte.ConnectionSyncMode

func newValidModes(props []airbyte.StreamProperties) validModes {
	m := validModes{}
	for _, p := range props {
		if p.SyncModes != nil {
			m[[2]string{p.StreamNamespace, p.StreamName}] = p.SyncModes
		}
	}
	return m
}

// buildCatalog validates the requested streams against the source's
// discovered catalog and returns the configuration API catalog to apply:
// each stream's definition as discovered, configured as requested, with
// cursor and primary key defaulting to the source's.
func buildCatalog(want []desiredStream, discovered *airbyte.AirbyteCatalog, modes validModes) (*airbyte.AirbyteCatalog, error) {
	out := &airbyte.AirbyteCatalog{Streams: make([]airbyte.AirbyteStreamAndConfiguration, 0, len(want))}
	for _, d := range want {
		entry, ok := discovered.Stream(d.name, d.namespace)
		if !ok || entry.Stream == nil {
			return nil, reject(d.name, "stream.name",
				"No streams found with name [%s] and namespace [%s] in the source's discovered catalog.", d.name, nsString(d.namespace))
		}
		cfg, err := configure(d, *entry.Stream, entry.Config, modes)
		if err != nil {
			return nil, err
		}
		stream := *entry.Stream
		out.Streams = append(out.Streams, airbyte.AirbyteStreamAndConfiguration{Stream: &stream, Config: cfg})
	}
	return out, nil
}

// configure validates one stream's configuration and builds it.
func configure(d desiredStream, s airbyte.AirbyteStream, discovered *airbyte.AirbyteStreamConfiguration, modes validModes) (*airbyte.AirbyteStreamConfiguration, error) {
	if !slices.Contains(s.SupportedSyncModes, d.syncMode) {
		return nil, reject(d.name, d.form.field("sync_mode"), "Cannot set sync mode to %s for stream %s. Supported sync modes are: %s.",
			d.syncMode, d.name, list(s.SupportedSyncModes))
	}
	if modes != nil {
		public, ok := airbyte.JoinSyncMode(d.syncMode, d.destinationSyncMode)
		valid := modes[[2]string{d.namespace, d.name}]
		if valid != nil && (!ok || !slices.Contains(valid, public)) {
			name := cmp.Or(string(public), string(d.syncMode)+"/"+string(d.destinationSyncMode))
			return nil, reject(d.name, d.form.field("destination_sync_mode"), "Cannot set sync mode to %s for stream %s. Valid sync modes are: %s.",
				name, d.name, list(valid))
		}
	}
	props := propertyPaths(s.JSONSchema)

	cursor := d.cursorField
	if d.syncMode == airbyte.SyncModeIncremental {
		switch {
		case s.SourceDefinedCursor && len(cursor) > 0 && !slices.Equal(cursor, s.DefaultCursorField):
			return nil, reject(d.name, d.form.field("cursor_field"),
				"Cursor Field %s is already defined by source for stream: %s. Do not include a cursor field configuration for this stream.",
				list(cursor), d.name)
		case len(cursor) > 0 && !s.SourceDefinedCursor:
			if !containsPath(props, cursor) {
				return nil, reject(d.name, d.form.field("cursor_field"),
					"Invalid cursor field %s for stream: %s. The field does not exist in the stream's schema.", list(cursor), d.name)
			}
		case len(cursor) == 0 && len(s.DefaultCursorField) == 0:
			return nil, reject(d.name, d.form.field("cursor_field"),
				"No default cursor field for stream: %s. Please include a cursor field configuration for this stream.", d.name)
		}
	}
	if len(cursor) == 0 {
		cursor = s.DefaultCursorField
	}

	pk := d.primaryKey
	if len(pk) > 0 && len(s.SourceDefinedPrimaryKey) > 0 && !samePK(pk, s.SourceDefinedPrimaryKey) {
		return nil, reject(d.name, d.form.field("primary_key"),
			"Primary key for stream: %s is already pre-defined. Please remove the primaryKey or provide the value as %s.",
			d.name, pkString(s.SourceDefinedPrimaryKey))
	}
	if len(pk) == 0 {
		pk = s.SourceDefinedPrimaryKey
	}
	if needsPrimaryKey(d.destinationSyncMode) && len(pk) == 0 {
		return nil, reject(d.name, d.form.field("primary_key"),
			"No default primary key for stream: %s. Please include a primary key configuration for this stream.", d.name)
	}
	for _, k := range d.primaryKey {
		if len(k) == 0 || !containsPath(props, k) {
			return nil, reject(d.name, d.form.field("primary_key"),
				"Invalid primary key %s for stream: %s. The field does not exist in the stream's schema.", pkString([][]string{k}), d.name)
		}
	}
	for i, k := range d.primaryKey {
		for _, other := range d.primaryKey[:i] {
			if slices.Equal(k, other) {
				return nil, reject(d.name, d.form.field("primary_key"),
					"Duplicate primary key detected for stream: %s, please don't provide the same column more than once. Key: %s",
					d.name, pkString(d.primaryKey))
			}
		}
	}
	if d.fieldSelectionEnabled {
		if len(d.selectedFields) == 0 {
			return nil, reject(d.name, d.form.field("selected_fields"), "No fields selected for stream %s.", d.name)
		}
		for _, f := range d.selectedFields {
			if len(f.FieldPath) == 0 || !containsPath(props, f.FieldPath) {
				return nil, reject(d.name, d.form.field("selected_fields"),
					"Invalid field %s selected for stream %s. The field does not exist in the stream's schema.", list(f.FieldPath), d.name)
			}
		}
	}

	cfg := &airbyte.AirbyteStreamConfiguration{}
	if discovered != nil {
		*cfg = *discovered
	}
	cfg.SyncMode = d.syncMode
	cfg.DestinationSyncMode = d.destinationSyncMode
	cfg.CursorField = slices.Clone(cursor)
	cfg.PrimaryKey = clonePK(pk)
	cfg.Selected = true
	cfg.Namespace = ""
	cfg.AliasName = cmp.Or(d.aliasName, cfg.AliasName)
	cfg.FieldSelectionEnabled = d.fieldSelectionEnabled
	cfg.SelectedFields = nil
	if d.fieldSelectionEnabled {
		cfg.SelectedFields = slices.Clone(d.selectedFields)
	}
	cfg.HashedFields = slices.Clone(d.hashedFields)
	cfg.Mappers = slices.Clone(d.mappers)
	cfg.DestinationObjectName = d.destinationObjectName
	cfg.IncludeFiles = d.includeFiles
	cfg.GenerationID, cfg.MinimumGenerationID, cfg.SyncID = d.generationID, d.minimumGenerationID, d.syncID
	return cfg, nil
}

// needsPrimaryKey reports the destination modes that need a primary key.
func needsPrimaryKey(m airbyte.DestinationSyncMode) bool {
	return m.IsDedup() || m == airbyte.DestinationSyncUpdate || m == airbyte.DestinationSyncSoftDelete
}

func samePK(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

func clonePK(pk [][]string) [][]string {
	if pk == nil {
		return nil
	}
	out := make([][]string, len(pk))
	for i, k := range pk {
		out[i] = slices.Clone(k)
	}
	return out
}

func list[T ~string](s []T) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = string(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func pkString(pk [][]string) string {
	parts := make([]string, len(pk))
	for i, k := range pk {
		parts[i] = list(k)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// propertyPaths lists every property path of a stream's JSON schema, nested
// objects expanded (the propertyFields of Airbyte's GET /streams).
func propertyPaths(schema json.RawMessage) [][]string {
	var root map[string]any
	if len(schema) == 0 || json.Unmarshal(schema, &root) != nil {
		return nil
	}
	var out [][]string
	var walk func(prefix []string, node map[string]any)
	walk = func(prefix []string, node map[string]any) {
		props, _ := node["properties"].(map[string]any)
		for name, child := range props {
			p := append(slices.Clone(prefix), name)
			out = append(out, p)
			if c, ok := child.(map[string]any); ok {
				walk(p, c)
			}
		}
	}
	walk(nil, root)
	return out
}

func containsPath(paths [][]string, p []string) bool {
	return slices.ContainsFunc(paths, func(q []string) bool { return slices.Equal(q, p) })
}

// canonical renders what makes two catalogs the same catalog: per stream
// (in name order) the discovered definition and the configuration that
// changes what is synced and how. Airbyte's bookkeeping (aliasName,
// suggested, generation and sync ids) and the spelling of empty values do
// not count.
func canonical(c *airbyte.AirbyteCatalog) ([]byte, error) {
	type stream struct {
		Name                    string     `json:"name"`
		Namespace               string     `json:"namespace"`
		JSONSchema              any        `json:"json_schema"`
		SupportedSyncModes      []string   `json:"supported_sync_modes"`
		SourceDefinedCursor     bool       `json:"source_defined_cursor"`
		DefaultCursorField      []string   `json:"default_cursor_field"`
		SourceDefinedPrimaryKey [][]string `json:"source_defined_primary_key"`
		SyncMode                string     `json:"sync_mode"`
		DestinationSyncMode     string     `json:"destination_sync_mode"`
		CursorField             []string   `json:"cursor_field"`
		PrimaryKey              [][]string `json:"primary_key"`
		SelectedFields          [][]string `json:"selected_fields"`
		Mappers                 any        `json:"mappers"`
		DestinationObjectName   string     `json:"destination_object_name"`
	}
	var out []stream
	for _, e := range c.Streams {
		if e.Stream == nil || e.Config == nil || !e.Config.Selected {
			continue
		}
		s := stream{
			Name: e.Stream.Name, Namespace: e.Stream.Namespace,
			SourceDefinedCursor:     e.Stream.SourceDefinedCursor,
			DefaultCursorField:      nonNil(e.Stream.DefaultCursorField),
			SourceDefinedPrimaryKey: nonNilPK(e.Stream.SourceDefinedPrimaryKey),
			SyncMode:                string(e.Config.SyncMode), DestinationSyncMode: string(e.Config.DestinationSyncMode),
			CursorField: nonNil(e.Config.CursorField), PrimaryKey: nonNilPK(e.Config.PrimaryKey),
			SelectedFields:        [][]string{},
			DestinationObjectName: e.Config.DestinationObjectName,
		}
		for _, m := range e.Stream.SupportedSyncModes {
			s.SupportedSyncModes = append(s.SupportedSyncModes, string(m))
		}
		slices.Sort(s.SupportedSyncModes)
		if len(e.Stream.JSONSchema) > 0 {
			if err := json.Unmarshal(e.Stream.JSONSchema, &s.JSONSchema); err != nil {
				return nil, fmt.Errorf("stream %s: json schema: %w", e.Stream.Name, err)
			}
		}
		if e.Config.FieldSelectionEnabled {
			for _, f := range e.Config.SelectedFields {
				s.SelectedFields = append(s.SelectedFields, f.FieldPath)
			}
		}
		if len(e.Config.Mappers) > 0 {
			b, err := json.Marshal(e.Config.Mappers)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(b, &s.Mappers); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b stream) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return json.Marshal(out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilPK(pk [][]string) [][]string {
	if pk == nil {
		return [][]string{}
	}
	return pk
}

// sameCatalog reports whether two catalogs are the same catalog (canonical).
func sameCatalog(a, b *airbyte.AirbyteCatalog) (bool, error) {
	x, err := canonical(a)
	if err != nil {
		return false, err
	}
	y, err := canonical(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(x, y), nil
}
