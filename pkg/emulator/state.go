package emulator

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"
)

// Stream is a stream as a connector discovers it (the Configuration API's
// AirbyteStream).
type Stream struct {
	Name                    string         `json:"name"`
	JSONSchema              map[string]any `json:"jsonSchema"`
	SupportedSyncModes      []string       `json:"supportedSyncModes"`
	SourceDefinedCursor     bool           `json:"sourceDefinedCursor"`
	DefaultCursorField      []string       `json:"defaultCursorField"`
	SourceDefinedPrimaryKey [][]string     `json:"sourceDefinedPrimaryKey"`
	Namespace               string         `json:"namespace,omitempty"`
	IsResumable             bool           `json:"isResumable"`
}

func (s Stream) clone() Stream {
	c := s
	c.JSONSchema = deepCopy(s.JSONSchema).(map[string]any)
	c.SupportedSyncModes = slices.Clone(s.SupportedSyncModes)
	c.DefaultCursorField = cloneStrings(s.DefaultCursorField)
	c.SourceDefinedPrimaryKey = clonePK(s.SourceDefinedPrimaryKey)
	return c
}

func cloneStreams(in []Stream) []Stream {
	out := make([]Stream, len(in))
	for i, s := range in {
		out[i] = s.clone()
	}
	return out
}

func cloneStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func clonePK(pk [][]string) [][]string {
	out := make([][]string, 0, len(pk))
	for _, k := range pk {
		out = append(out, slices.Clone(k))
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	default:
		return v
	}
}

// SourceDefinition is a source connector the emulator knows. Salesforce is built
// in; tests and demos may register more with [Emulator.RegisterSourceDefinition].
type SourceDefinition struct {
	ID               string
	Name             string
	SourceType       string // public API sourceType, e.g. "salesforce"
	DockerRepository string
	DockerImageTag   string
	DocumentationURL string
	// RequiredFields must be present in a source's configuration.
	RequiredFields []string
	// SecretFields are masked as "**********" in responses.
	SecretFields []string
	// Streams is the upstream schema a new source of this type starts with.
	Streams []Stream
	// SuggestedStreams are pre-selected in a new connection.
	SuggestedStreams []string

	spec connectorSpec
}

// connectorSpec is the subset of a connector specification the emulator checks.
type connectorSpec struct {
	Required []string
	Secrets  []string
	Types    map[string]string // field -> JSON type
	Consts   map[string]string
	Patterns map[string]string
}

func salesforceDefinition() *SourceDefinition {
	return &SourceDefinition{
		ID:               SalesforceDefinitionID,
		Name:             "Salesforce",
		SourceType:       "salesforce",
		DockerRepository: "airbyte/source-salesforce",
		DockerImageTag:   "2.7.15",
		DocumentationURL: "https://docs.airbyte.com/integrations/sources/salesforce",
		RequiredFields:   salesforceSpec.Required,
		SecretFields:     salesforceSpec.Secrets,
		Streams:          salesforceCatalog(),
		SuggestedStreams: salesforceSuggested,
		spec:             salesforceSpec,
	}
}

// sourceNameToDefinitionID is the public API's hard-coded sourceType map
// (NameToDefinitionMapper.kt), abridged to the common connectors.
var sourceNameToDefinitionID = map[string]string{
	"salesforce": SalesforceDefinitionID,
	"postgres":   "decd338e-5647-4c0b-adf4-da0e75f5a750",
	"faker":      "dfd88b22-b603-4c3d-aad7-3701784586b1",
	"e2e-test":   "d53f9084-fa6b-4a5a-976c-5b8392f4ad8a",
	"hubspot":    "36c891d9-4bd9-43ac-bad2-10e12756272c",
	"stripe":     "e094cb9a-26de-4645-8761-65c0c425d1de",
	"github":     "ef69ef6e-aa7f-4af1-a01d-ef775033524e",
	"mysql":      "435bb9a5-7887-4809-aa58-28c27df0d7ad",
}

type workspaceRec struct {
	ID   string
	Name string
}

type destinationRec struct {
	ID, Name, WorkspaceID, DefinitionID, DestinationType string
	Config                                               map[string]any
	CreatedAt                                            time.Time
	// SyncModes are the destination sync modes the connector supports.
	SyncModes []string
}

type sourceRec struct {
	ID, Name, WorkspaceID, DefinitionID string
	Config                              map[string]any // unmasked, without sourceType
	CreatedAt                           time.Time
	Deleted                             bool
	// upstream is the schema the emulated connector would discover right now.
	upstream []Stream
	// cache maps a catalog cache key (connector version + md5(config)) to the
	// actor catalog last discovered under it.
	cache map[string]string
	// autoBucket / autoCatalog remember the last automatic pre-sync discover.
	autoBucket  int64
	autoCatalog string
	// lastFetch is the catalog id of the most recent discover of this source.
	lastFetch string
}

func (s *sourceRec) cacheKey(def *SourceDefinition) string {
	b, _ := json.Marshal(s.Config) // map keys are sorted: stable
	sum := md5.Sum(b)
	return def.DockerImageTag + "/" + hex.EncodeToString(sum[:])
}

type actorCatalog struct {
	ID        string
	Streams   []Stream
	CreatedAt time.Time
}

// StreamConfig is a stream's configuration in a connection (the Configuration
// API's AirbyteStreamConfiguration).
type StreamConfig struct {
	SyncMode              string           `json:"syncMode"`
	CursorField           []string         `json:"cursorField"`
	DestinationSyncMode   string           `json:"destinationSyncMode"`
	PrimaryKey            [][]string       `json:"primaryKey"`
	AliasName             string           `json:"aliasName,omitempty"`
	Selected              bool             `json:"selected"`
	Suggested             bool             `json:"suggested"`
	FieldSelectionEnabled *bool            `json:"fieldSelectionEnabled,omitempty"`
	SelectedFields        *[]SelectedField `json:"selectedFields,omitempty"`
	HashedFields          *[]SelectedField `json:"hashedFields,omitempty"`
	Mappers               *[]any           `json:"mappers,omitempty"`
	GenerationID          *int64           `json:"generationId,omitempty"`
	MinimumGenerationID   *int64           `json:"minimumGenerationId,omitempty"`
	SyncID                *int64           `json:"syncId,omitempty"`
}

// SelectedField is one selected field path.
type SelectedField struct {
	FieldPath []string `json:"fieldPath"`
}

// StreamAndConfig pairs a stream with its configuration (AirbyteStreamAndConfiguration).
type StreamAndConfig struct {
	Stream Stream       `json:"stream"`
	Config StreamConfig `json:"config"`
}

type connectionRec struct {
	ID, Name, SourceID, DestinationID, WorkspaceID string
	Status                                         string // active|inactive|deprecated|locked
	StatusReason                                   string
	ScheduleType                                   string // manual|cron|basic
	CronExpression                                 string
	CronTimeZone                                   string
	BasicUnits                                     int64
	BasicTimeUnit                                  string
	NamespaceDefinition                            string // config vocabulary: source|destination|customformat
	NamespaceFormat                                string
	Prefix                                         string
	NonBreakingPreference                          string // ignore|disable|propagate_columns|propagate_fully
	BackfillPreference                             string
	NotifySchemaChanges                            bool
	Catalog                                        []StreamAndConfig // selected streams only
	SourceCatalogID                                string
	BreakingChange                                 bool
	CreatedAt                                      time.Time
	Tags                                           []any
	// lastDiff is the diff computed by the last discover/pre-sync check.
	lastDiff *CatalogDiff
}

// state is everything the emulator stores. Guarded by Emulator.mu.
type state struct {
	workspace      workspaceRec
	sourceDefs     map[string]*SourceDefinition
	sourceDefOrder []string
	destinations   map[string]*destinationRec
	destOrder      []string
	sources        map[string]*sourceRec
	sourceOrder    []string
	connections    map[string]*connectionRec
	connOrder      []string
	catalogs       map[string]*actorCatalog
	catalogByHash  map[string]string
	jobs           map[int64]*jobRec
	jobOrder       []int64
	jobsByConn     map[string][]int64
	active         map[string]int64 // connection -> non-terminal job
	nextJobID      int64
}

func newState(e *Emulator) *state {
	now := e.clock.Now()
	st := &state{
		workspace:     workspaceRec{ID: e.cfg.WorkspaceID, Name: "Default Workspace"},
		sourceDefs:    map[string]*SourceDefinition{},
		destinations:  map[string]*destinationRec{},
		sources:       map[string]*sourceRec{},
		connections:   map[string]*connectionRec{},
		catalogs:      map[string]*actorCatalog{},
		catalogByHash: map[string]string{},
		jobs:          map[int64]*jobRec{},
		jobsByConn:    map[string][]int64{},
		active:        map[string]int64{},
		nextJobID:     1,
	}
	sf := salesforceDefinition()
	st.sourceDefs[sf.ID] = sf
	st.sourceDefOrder = append(st.sourceDefOrder, sf.ID)
	st.destinations[e.cfg.DestinationID] = &destinationRec{
		ID:              e.cfg.DestinationID,
		Name:            "warehouse",
		WorkspaceID:     e.cfg.WorkspaceID,
		DefinitionID:    PostgresDestinationDefinitionID,
		DestinationType: "postgres",
		Config: map[string]any{
			"host": "localhost", "port": 5432, "database": "warehouse", "schema": "public",
			"username": "airbyte", "password": secretMask, "ssl_mode": map[string]any{"mode": "disable"},
		},
		CreatedAt: now,
		SyncModes: []string{"overwrite", "append", "append_dedup"},
	}
	st.destOrder = append(st.destOrder, e.cfg.DestinationID)
	return st
}

// secretMask is Airbyte's AirbyteSecretConstants.SECRETS_MASK.
const secretMask = "**********"
