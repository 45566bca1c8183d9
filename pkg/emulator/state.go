package emulator

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"
)

// Sharing. A Stream held in the emulator's state is immutable: its JSON schema and
// its slices are never changed in place, so one stream value is shared by the
// definition that declares it, every source's upstream schema, the deduplicated
// actor catalogs and the connection catalogs that use it. Data is copied only where
// it crosses the package boundary: streams handed in (RegisterSourceDefinition,
// SchemaOp.Schema) and snapshots handed out (Sources, Connections); MutateSchema
// copies a stream before changing it (copy on write). HTTP responses are
// serialised straight from the shared values.

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

// cloneConfig returns a deep copy of c.
func cloneConfig(c StreamConfig) StreamConfig {
	c.CursorField = slices.Clone(c.CursorField)
	if c.PrimaryKey != nil {
		c.PrimaryKey = clonePK(c.PrimaryKey)
	}
	clonePtr := func(p *bool) *bool {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	cloneFields := func(p *[]SelectedField) *[]SelectedField {
		if p == nil {
			return nil
		}
		v := make([]SelectedField, len(*p))
		for i, f := range *p {
			v[i] = SelectedField{FieldPath: slices.Clone(f.FieldPath)}
		}
		return &v
	}
	c.FieldSelectionEnabled = clonePtr(c.FieldSelectionEnabled)
	c.SelectedFields = cloneFields(c.SelectedFields)
	c.HashedFields = cloneFields(c.HashedFields)
	if c.Mappers != nil {
		m := deepCopy(*c.Mappers).([]any)
		c.Mappers = &m
	}
	for _, p := range []**int64{&c.GenerationID, &c.MinimumGenerationID, &c.SyncID} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	return c
}

func cloneStreams(in []Stream) []Stream {
	out := make([]Stream, len(in))
	for i, s := range in {
		out[i] = s.clone()
	}
	return out
}

// orEmpty returns s, or an empty slice for nil (JSON [] rather than null).
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
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
	// upstream is Streams as the shared schema every new source starts from.
	upstream *schema
}

// schema is an immutable list of streams, as a connector discovers them, with its
// content hash computed once. Sources created from one definition share the
// definition's schema until MutateSchema gives one of them its own.
type schema struct {
	streams []Stream
	hash    string // "" until computed; guarded by Emulator.mu
}

// contentHash is the sha256 of the streams' JSON, the key under which identical
// discovered catalogs are stored once. Callers hold e.mu.
func (s *schema) contentHash() string {
	if s.hash == "" {
		b, _ := json.Marshal(s.streams)
		sum := sha256.Sum256(b)
		s.hash = hex.EncodeToString(sum[:])
	}
	return s.hash
}

// schemaOf returns the definition's shared upstream schema.
func (d *SourceDefinition) schemaOf() *schema {
	if d.upstream == nil {
		d.upstream = &schema{streams: d.Streams}
	}
	return d.upstream
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
	ord                                 int // position in creation order
	ID, Name, WorkspaceID, DefinitionID string
	Config                              map[string]any // unmasked, without sourceType
	CreatedAt                           time.Time
	Deleted                             bool
	// upstream is the schema the emulated connector would discover right now,
	// shared with the definition (and other sources) until it is mutated.
	upstream *schema
	// cache maps a catalog cache key (connector version + md5(config)) to the
	// actor catalog last discovered under it; nearly always one entry.
	cache []catalogCacheEntry
	// autoBucket / autoCatalog remember the last automatic pre-sync discover.
	autoBucket  int64
	autoCatalog string
	// lastFetch is the catalog id of the most recent discover of this source.
	lastFetch string
}

type catalogCacheEntry struct {
	key       string
	catalogID string
}

func (s *sourceRec) cacheKey(def *SourceDefinition) string {
	b, _ := json.Marshal(s.Config) // map keys are sorted: stable
	sum := md5.Sum(b)
	return def.DockerImageTag + "/" + hex.EncodeToString(sum[:])
}

// cached returns the actor catalog id cached under key.
func (s *sourceRec) cached(key string) (string, bool) {
	for _, c := range s.cache {
		if c.key == key {
			return c.catalogID, true
		}
	}
	return "", false
}

// setCached caches catalogID under key.
func (s *sourceRec) setCached(key, catalogID string) {
	for i := range s.cache {
		if s.cache[i].key == key {
			s.cache[i].catalogID = catalogID
			return
		}
	}
	s.cache = append(s.cache, catalogCacheEntry{key: key, catalogID: catalogID})
}

type actorCatalog struct {
	ID        string
	Streams   []Stream
	CreatedAt time.Time
	hash      string // the content hash of Streams
}

// schema returns the catalog's streams as a schema (its hash known).
func (ac *actorCatalog) schema() *schema { return &schema{streams: ac.Streams, hash: ac.hash} }

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
	ord                                            int // position in creation order
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
	Catalog                                        []catalogStream // selected streams only
	SourceCatalogID                                string
	BreakingChange                                 bool
	CreatedAt                                      time.Time
	Tags                                           []any
	// lastDiff is the diff computed by the last discover/pre-sync check.
	lastDiff *CatalogDiff
	// names are the catalog's stream names, shared by the jobs created while the
	// catalog keeps them (see streamNames).
	names []string
	// prunedSuccess is the update time (epoch seconds) of the newest succeeded job
	// dropped from the job history, for connections/status' lastSuccessfulSync.
	prunedSuccess int64
}

// catalogStream is one stream of a connection's catalog: the shared, immutable
// stream and the connection's own configuration of it, kept as configured
// (storedConfig's normalisation is applied when it is read).
type catalogStream struct {
	stream *Stream
	config StreamConfig
}

// streamNames returns the names of c's streams. The slice is shared by every job
// created while the catalog holds the same streams and must not be modified.
func (c *connectionRec) streamNames() []string {
	same := len(c.names) == len(c.Catalog)
	for i := 0; same && i < len(c.Catalog); i++ {
		same = c.names[i] == c.Catalog[i].stream.Name
	}
	if !same {
		c.names = make([]string, len(c.Catalog))
		for i, cs := range c.Catalog {
			c.names[i] = cs.stream.Name
		}
	}
	return c.names
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
	// jobs holds the job history: every non-terminal job and the newest
	// Config.JobRetention terminal jobs of each connection.
	jobs       map[int64]*jobRec
	jobsByConn map[string][]*jobRec // oldest first
	active     map[string]*jobRec   // connection -> its non-terminal job
	prunedJobs int                  // terminal jobs dropped from the history
	nextJobID  int64
	// events are the jobs' scheduled transitions; waitList the jobs waiting for
	// a sync worker, oldest first (entries of jobs that ended while waiting are
	// skipped). See advanceJobs.
	events         jobEvents
	waitList       []*jobRec
	waitingJobs    int // jobs on the wait list
	runningJobs    int // jobs holding a sync worker
	maxWaitingJobs int // high-water marks since start (or ResetCalls)
	maxRunningJobs int
	// volumes are the volume changes in force, by connection and stream
	// (SetStreamVolume); they are not persisted.
	volumes map[string]map[string]*volumeRule
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
		jobsByConn:    map[string][]*jobRec{},
		active:        map[string]*jobRec{},
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

// inOrder returns the view of every record of byID in the creation order
// order keeps.
func inOrder[R, V any](order []string, byID map[string]R, view func(R) V) []V {
	out := make([]V, 0, len(order))
	for _, id := range order {
		out = append(out, view(byID[id]))
	}
	return out
}
