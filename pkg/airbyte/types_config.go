package airbyte

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// AirbyteCatalog is the configuration API's catalog: every stream with its
// schema (stream) and its configuration (config). Discover returns every
// stream the source offers; a connection's syncCatalog holds only its
// selected streams.
type AirbyteCatalog struct {
	Streams []AirbyteStreamAndConfiguration `json:"streams"`
}

// Stream returns the entry named name in namespace ns ("" for none).
func (c *AirbyteCatalog) Stream(name, ns string) (*AirbyteStreamAndConfiguration, bool) {
	if c == nil {
		return nil, false
	}
	for i := range c.Streams {
		s := c.Streams[i].Stream
		if s != nil && s.Name == name && s.Namespace == ns {
			return &c.Streams[i], true
		}
	}
	return nil, false
}

// AirbyteStreamAndConfiguration pairs a stream's schema with its
// configuration.
type AirbyteStreamAndConfiguration struct {
	Stream *AirbyteStream              `json:"stream,omitempty"`
	Config *AirbyteStreamConfiguration `json:"config,omitempty"`
}

// AirbyteStream is the immutable part of a stream, as the source defines it.
// The configuration API refuses unknown properties here, so the type holds
// exactly the declared ones.
type AirbyteStream struct {
	Name string `json:"name"`
	// JSONSchema is the connector's JSON Schema of a record, verbatim.
	JSONSchema              json.RawMessage `json:"jsonSchema,omitempty"`
	SupportedSyncModes      []SyncMode      `json:"supportedSyncModes,omitempty"`
	SourceDefinedCursor     bool            `json:"sourceDefinedCursor,omitempty"`
	DefaultCursorField      []string        `json:"defaultCursorField,omitempty"`
	SourceDefinedPrimaryKey [][]string      `json:"sourceDefinedPrimaryKey,omitempty"`
	Namespace               string          `json:"namespace,omitempty"`
	IsResumable             *bool           `json:"isResumable,omitempty"`
	IsFileBased             *bool           `json:"isFileBased,omitempty"`
}

// AirbyteStreamConfiguration is the mutable part of a stream. Selected is
// always sent: a stream that is not selected is dropped when a catalog is
// saved.
type AirbyteStreamConfiguration struct {
	SyncMode              SyncMode            `json:"syncMode"`
	CursorField           []string            `json:"cursorField,omitempty"`
	DestinationSyncMode   DestinationSyncMode `json:"destinationSyncMode"`
	Namespace             string              `json:"namespace,omitempty"`
	PrimaryKey            [][]string          `json:"primaryKey,omitempty"`
	AliasName             string              `json:"aliasName,omitempty"`
	Selected              bool                `json:"selected"`
	Suggested             bool                `json:"suggested,omitempty"`
	DestinationObjectName string              `json:"destinationObjectName,omitempty"`
	IncludeFiles          *bool               `json:"includeFiles,omitempty"`
	FieldSelectionEnabled bool                `json:"fieldSelectionEnabled,omitempty"`
	// SelectedFields matters only with FieldSelectionEnabled.
	SelectedFields      []SelectedField `json:"selectedFields,omitempty"`
	HashedFields        []SelectedField `json:"hashedFields,omitempty"`
	Mappers             []StreamMapper  `json:"mappers,omitempty"`
	MinimumGenerationID *int64          `json:"minimumGenerationId,omitempty"`
	GenerationID        *int64          `json:"generationId,omitempty"`
	SyncID              *int64          `json:"syncId,omitempty"`
}

// StreamDescriptor names a stream.
type StreamDescriptor struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// CatalogDiff describes the difference between two catalogs.
type CatalogDiff struct {
	Transforms []StreamTransform `json:"transforms"`
}

// IsEmpty reports a diff without transforms.
func (d *CatalogDiff) IsEmpty() bool { return d == nil || len(d.Transforms) == 0 }

// HasBreakingChange reports whether any field or attribute transform is
// breaking, as Airbyte's containsBreakingChange does.
func (d *CatalogDiff) HasBreakingChange() bool {
	if d == nil {
		return false
	}
	return slices.ContainsFunc(d.Transforms, func(t StreamTransform) bool {
		u := t.UpdateStream
		return u != nil && (slices.ContainsFunc(u.FieldTransforms, func(f FieldTransform) bool { return f.Breaking }) ||
			slices.ContainsFunc(u.StreamAttributeTransforms, func(a StreamAttributeTransform) bool { return a.Breaking }))
	})
}

// StreamTransform is one stream's change.
type StreamTransform struct {
	TransformType    StreamTransformType `json:"transformType"`
	StreamDescriptor StreamDescriptor    `json:"streamDescriptor"`
	UpdateStream     *UpdateStream       `json:"updateStream,omitempty"`
}

// UpdateStream lists the changes inside an updated stream.
type UpdateStream struct {
	FieldTransforms           []FieldTransform           `json:"fieldTransforms"`
	StreamAttributeTransforms []StreamAttributeTransform `json:"streamAttributeTransforms"`
}

// FieldTransform is one field's change. FieldName is the field's path.
type FieldTransform struct {
	TransformType     FieldTransformType `json:"transformType"`
	FieldName         []string           `json:"fieldName"`
	Breaking          bool               `json:"breaking"`
	AddField          *FieldSchemaRef    `json:"addField,omitempty"`
	RemoveField       *FieldSchemaRef    `json:"removeField,omitempty"`
	UpdateFieldSchema *FieldSchemaUpdate `json:"updateFieldSchema,omitempty"`
}

// FieldSchemaRef carries the JSON Schema of an added or removed field.
type FieldSchemaRef struct {
	Schema json.RawMessage `json:"schema,omitempty"`
}

// FieldSchemaUpdate carries a field's old and new JSON Schema.
type FieldSchemaUpdate struct {
	OldSchema json.RawMessage `json:"oldSchema"`
	NewSchema json.RawMessage `json:"newSchema"`
}

// StreamAttributeTransform is a change of a stream attribute (its primary key).
type StreamAttributeTransform struct {
	TransformType    StreamAttributeTransformType `json:"transformType"`
	Breaking         bool                         `json:"breaking"`
	UpdatePrimaryKey *PrimaryKeyUpdate            `json:"updatePrimaryKey,omitempty"`
}

// PrimaryKeyUpdate carries a stream's old and new primary key.
type PrimaryKeyUpdate struct {
	OldPrimaryKey [][]string `json:"oldPrimaryKey,omitempty"`
	NewPrimaryKey [][]string `json:"newPrimaryKey,omitempty"`
}

// DiscoverSchemaRequest is the config API's sources/discover_schema request.
// The zero value of UseCache asks for a fresh discover (disable_cache true).
type DiscoverSchemaRequest struct {
	SourceID string
	// ConnectionID makes Airbyte diff the discovered catalog against the
	// connection's and persist the result: it sets the connection's
	// breakingChange flag and may disable the connection. Leave it empty
	// for a read-only discover and diff on your side.
	ConnectionID string
	// UseCache returns the cached catalog when Airbyte has one for the
	// source's current configuration (disable_cache false). A cached
	// answer carries no diff even with ConnectionID.
	UseCache bool
	Priority WorkloadPriority
}

// MarshalJSON writes the wire form, with disable_cache (snake_case: the
// camel-case spelling is silently ignored by Airbyte).
func (r DiscoverSchemaRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		SourceID     string           `json:"sourceId"`
		ConnectionID string           `json:"connectionId,omitempty"`
		DisableCache bool             `json:"disable_cache"`
		Priority     WorkloadPriority `json:"priority,omitempty"`
	}{r.SourceID, r.ConnectionID, !r.UseCache, r.Priority})
}

// SourceDiscoverSchemaRead is discover_schema's answer. A failed discover
// is an HTTP 200 with JobInfo.Succeeded false and no catalog; the client
// turns it into a *DiscoverError. With a connectionId and a fresh discover
// Airbyte fills CatalogDiff, BreakingChange and ConnectionStatus and leaves
// JobInfo out.
type SourceDiscoverSchemaRead struct {
	Catalog          *AirbyteCatalog     `json:"catalog,omitempty"`
	JobInfo          *SynchronousJobRead `json:"jobInfo,omitempty"`
	CatalogID        string              `json:"catalogId,omitempty"`
	CatalogDiff      *CatalogDiff        `json:"catalogDiff,omitempty"`
	BreakingChange   *bool               `json:"breakingChange,omitempty"`
	ConnectionStatus ConnectionStatus    `json:"connectionStatus,omitempty"`
}

// SynchronousJobRead describes a synchronous job such as a discover. A
// cached discover answers with ConfigID "NoConfiguration" and zero times.
type SynchronousJobRead struct {
	ID                            string          `json:"id"`
	ConfigType                    JobConfigType   `json:"configType"`
	ConfigID                      string          `json:"configId,omitempty"`
	CreatedAt                     EpochSeconds    `json:"createdAt"`
	EndedAt                       EpochSeconds    `json:"endedAt"`
	Succeeded                     bool            `json:"succeeded"`
	ConnectorConfigurationUpdated bool            `json:"connectorConfigurationUpdated,omitempty"`
	LogType                       string          `json:"logType,omitempty"`
	Logs                          json.RawMessage `json:"logs,omitempty"`
	FailureReason                 *FailureReason  `json:"failureReason,omitempty"`
}

// DiscoverError is a discover that ran and failed (HTTP 200 with
// jobInfo.succeeded false).
type DiscoverError struct {
	SourceID string
	JobInfo  SynchronousJobRead
}

// Error returns the failure's external message.
func (e *DiscoverError) Error() string {
	msg := "discover failed"
	if f := e.JobInfo.FailureReason; f != nil && f.ExternalMessage != "" {
		msg += ": " + f.ExternalMessage
	}
	return "airbyte: discover schema of source " + e.SourceID + ": " + msg
}

// FailureReason describes why an attempt or a synchronous job failed.
type FailureReason struct {
	FailureOrigin FailureOrigin `json:"failureOrigin,omitempty"`
	FailureType   FailureType   `json:"failureType,omitempty"`
	// ExternalMessage is meant for users; InternalMessage and Stacktrace
	// for Airbyte's developers (do not log them: connectors may put
	// configuration in them).
	ExternalMessage  string            `json:"externalMessage,omitempty"`
	InternalMessage  string            `json:"internalMessage,omitempty"`
	Stacktrace       string            `json:"stacktrace,omitempty"`
	Retryable        *bool             `json:"retryable,omitempty"`
	Timestamp        EpochMillis       `json:"timestamp"`
	FromTraceMessage bool              `json:"fromTraceMessage,omitempty"`
	StreamDescriptor *StreamDescriptor `json:"streamDescriptor,omitempty"`
}

// ConnectionScheduleData is the config API's schedule data.
type ConnectionScheduleData struct {
	BasicSchedule *BasicSchedule `json:"basicSchedule,omitempty"`
	Cron          *CronSchedule  `json:"cron,omitempty"`
}

// BasicSchedule is a legacy every-N-units schedule.
type BasicSchedule struct {
	TimeUnit string `json:"timeUnit"`
	Units    int64  `json:"units"`
}

// CronSchedule is a Quartz cron schedule with its time zone.
type CronSchedule struct {
	CronExpression string `json:"cronExpression"`
	CronTimeZone   string `json:"cronTimeZone"`
}

// ConnectionRead is the config API's connection, with its full sync
// catalog (selected streams only, each with selected true).
type ConnectionRead struct {
	ConnectionID        string                  `json:"connectionId"`
	Name                string                  `json:"name"`
	NamespaceDefinition NamespaceDefinitionType `json:"namespaceDefinition,omitempty"`
	NamespaceFormat     string                  `json:"namespaceFormat,omitempty"`
	Prefix              string                  `json:"prefix,omitempty"`
	SourceID            string                  `json:"sourceId"`
	DestinationID       string                  `json:"destinationId"`
	OperationIDs        []string                `json:"operationIds,omitempty"`
	SyncCatalog         AirbyteCatalog          `json:"syncCatalog"`
	ScheduleType        ScheduleType            `json:"scheduleType,omitempty"`
	ScheduleData        *ConnectionScheduleData `json:"scheduleData,omitempty"`
	Status              ConnectionStatus        `json:"status"`
	StatusReason        string                  `json:"statusReason,omitempty"`
	// SourceCatalogID is the discovered catalog the connection was
	// configured from; Airbyte diffs new discovers against it.
	SourceCatalogID              string                       `json:"sourceCatalogId,omitempty"`
	DestinationCatalogID         string                       `json:"destinationCatalogId,omitempty"`
	BreakingChange               bool                         `json:"breakingChange"`
	NotifySchemaChanges          *bool                        `json:"notifySchemaChanges,omitempty"`
	NotifySchemaChangesByEmail   *bool                        `json:"notifySchemaChangesByEmail,omitempty"`
	NonBreakingChangesPreference NonBreakingChangesPreference `json:"nonBreakingChangesPreference,omitempty"`
	BackfillPreference           string                       `json:"backfillPreference,omitempty"`
	// CreatedAt is sent as snake_case created_at.
	CreatedAt            EpochSeconds    `json:"created_at,omitempty"`
	WorkspaceID          string          `json:"workspaceId,omitempty"`
	DataplaneGroupID     string          `json:"dataplaneGroupId,omitempty"`
	ResourceRequirements json.RawMessage `json:"resourceRequirements,omitempty"`
	Tags                 []Tag           `json:"tags,omitempty"`
	OnDemandEnabled      *bool           `json:"onDemandEnabled,omitempty"`
}

// ConnectionUpdate is the config API's connections/update body: patch
// semantics, empty fields unchanged, but a SyncCatalog replaces the whole
// catalog (streams absent from it are dropped). To apply a new discover,
// send SourceCatalogID = the discover's catalogId and BreakingChange false
// (connections/update does not recompute it).
type ConnectionUpdate struct {
	ConnectionID                 string                       `json:"connectionId"`
	Name                         string                       `json:"name,omitempty"`
	NamespaceDefinition          NamespaceDefinitionType      `json:"namespaceDefinition,omitempty"`
	NamespaceFormat              string                       `json:"namespaceFormat,omitempty"`
	Prefix                       *string                      `json:"prefix,omitempty"`
	SyncCatalog                  *AirbyteCatalog              `json:"syncCatalog,omitempty"`
	ScheduleType                 ScheduleType                 `json:"scheduleType,omitempty"`
	ScheduleData                 *ConnectionScheduleData      `json:"scheduleData,omitempty"`
	Status                       ConnectionStatus             `json:"status,omitempty"`
	SourceCatalogID              string                       `json:"sourceCatalogId,omitempty"`
	BreakingChange               *bool                        `json:"breakingChange,omitempty"`
	NotifySchemaChanges          *bool                        `json:"notifySchemaChanges,omitempty"`
	NotifySchemaChangesByEmail   *bool                        `json:"notifySchemaChangesByEmail,omitempty"`
	NonBreakingChangesPreference NonBreakingChangesPreference `json:"nonBreakingChangesPreference,omitempty"`
	BackfillPreference           string                       `json:"backfillPreference,omitempty"`
}

// JobInfoRead is the config API's jobs/get answer: the job and its attempts.
type JobInfoRead struct {
	Job      JobRead           `json:"job"`
	Attempts []AttemptInfoRead `json:"attempts"`
}

// FailureReasons returns every failure of every attempt, last attempt first.
func (j *JobInfoRead) FailureReasons() []FailureReason {
	var out []FailureReason
	for i := len(j.Attempts) - 1; i >= 0; i-- {
		if fs := j.Attempts[i].Attempt.FailureSummary; fs != nil {
			out = append(out, fs.Failures...)
		}
	}
	return out
}

// FailureMessage returns the first external message of the last attempt
// that has one, or "".
func (j *JobInfoRead) FailureMessage() string {
	for _, f := range j.FailureReasons() {
		if f.ExternalMessage != "" {
			return f.ExternalMessage
		}
	}
	return ""
}

// StreamVolume is the records and bytes one stream of a job moved.
type StreamVolume struct {
	// Stream is the stream's name, prefixed with its namespace and a dot
	// when it has one.
	Stream         string
	Records, Bytes int64
}

// StreamVolumes returns the per-stream records and bytes of the job, in
// Airbyte's order: the job's streamAggregatedStats when Airbyte reports
// them, otherwise the sum of its attempts' streamStats. Records and bytes
// are the committed ones, or the emitted ones when Airbyte reports no
// commits for the stream. An enabled stream (enabledStreams) that has no
// stats moved nothing. Nil when the job reports neither stats nor enabled
// streams.
func (j *JobInfoRead) StreamVolumes() []StreamVolume {
	var out []StreamVolume
	at := map[string]int{}
	add := func(name, namespace string, rec, recEmitted, b, bEmitted int64) {
		if rec == 0 && b == 0 {
			rec, b = recEmitted, bEmitted
		}
		key := streamKey(name, namespace)
		i, ok := at[key]
		if !ok {
			i = len(out)
			at[key] = i
			out = append(out, StreamVolume{Stream: key})
		}
		out[i].Records += rec
		out[i].Bytes += b
	}
	if len(j.Job.StreamAggregatedStats) > 0 {
		for _, s := range j.Job.StreamAggregatedStats {
			add(s.StreamName, s.StreamNamespace, s.RecordsCommitted, s.RecordsEmitted, s.BytesCommitted, s.BytesEmitted)
		}
	} else {
		for _, a := range j.Attempts {
			for _, s := range a.Attempt.StreamStats {
				st := s.Stats
				add(s.StreamName, s.StreamNamespace, st.RecordsCommitted, st.RecordsEmitted, st.BytesCommitted, st.BytesEmitted)
			}
		}
	}
	for _, s := range j.Job.EnabledStreams {
		add(s.Name, s.Namespace, 0, 0, 0, 0)
	}
	return out
}

func streamKey(name, namespace string) string {
	if namespace == "" {
		return name
	}
	return namespace + "." + name
}

// JobRead is the config API's job. Times are epoch seconds; ID is the same
// number as the public API's jobId.
type JobRead struct {
	ID                    int64               `json:"id"`
	ConfigType            JobConfigType       `json:"configType"`
	ConfigID              string              `json:"configId"`
	CreatedAt             EpochSeconds        `json:"createdAt"`
	UpdatedAt             EpochSeconds        `json:"updatedAt"`
	StartedAt             EpochSeconds        `json:"startedAt,omitempty"`
	Status                JobStatus           `json:"status"`
	AggregatedStats       *JobAggregatedStats `json:"aggregatedStats,omitempty"`
	StreamAggregatedStats []StreamStats       `json:"streamAggregatedStats,omitempty"`
	EnabledStreams        []StreamDescriptor  `json:"enabledStreams,omitempty"`
	ResetConfig           json.RawMessage     `json:"resetConfig,omitempty"`
	RefreshConfig         json.RawMessage     `json:"refreshConfig,omitempty"`
}

// JobAggregatedStats sums a job's records and bytes.
type JobAggregatedStats struct {
	RecordsEmitted   int64 `json:"recordsEmitted"`
	BytesEmitted     int64 `json:"bytesEmitted"`
	RecordsCommitted int64 `json:"recordsCommitted"`
	BytesCommitted   int64 `json:"bytesCommitted"`
	RecordsRejected  int64 `json:"recordsRejected"`
}

// StreamStats are one stream's job totals.
type StreamStats struct {
	StreamName       string `json:"streamName"`
	StreamNamespace  string `json:"streamNamespace,omitempty"`
	RecordsEmitted   int64  `json:"recordsEmitted"`
	BytesEmitted     int64  `json:"bytesEmitted"`
	RecordsCommitted int64  `json:"recordsCommitted"`
	BytesCommitted   int64  `json:"bytesCommitted"`
	RecordsRejected  int64  `json:"recordsRejected"`
	WasBackfilled    bool   `json:"wasBackfilled,omitempty"`
	WasResumed       bool   `json:"wasResumed,omitempty"`
}

// AttemptInfoRead is one attempt with its logs (kept raw).
type AttemptInfoRead struct {
	Attempt AttemptRead     `json:"attempt"`
	LogType string          `json:"logType,omitempty"`
	Logs    json.RawMessage `json:"logs,omitempty"`
}

// AttemptRead is one attempt of a job; ID is the attempt number from 0.
type AttemptRead struct {
	ID             int64                  `json:"id"`
	Status         AttemptStatus          `json:"status"`
	CreatedAt      EpochSeconds           `json:"createdAt"`
	UpdatedAt      EpochSeconds           `json:"updatedAt"`
	EndedAt        EpochSeconds           `json:"endedAt,omitempty"`
	BytesSynced    int64                  `json:"bytesSynced,omitempty"`
	RecordsSynced  int64                  `json:"recordsSynced,omitempty"`
	TotalStats     *AttemptStats          `json:"totalStats,omitempty"`
	StreamStats    []AttemptStreamStats   `json:"streamStats,omitempty"`
	FailureSummary *AttemptFailureSummary `json:"failureSummary,omitempty"`
}

// AttemptStats are an attempt's counters.
type AttemptStats struct {
	RecordsEmitted       int64 `json:"recordsEmitted,omitempty"`
	BytesEmitted         int64 `json:"bytesEmitted,omitempty"`
	StateMessagesEmitted int64 `json:"stateMessagesEmitted,omitempty"`
	BytesCommitted       int64 `json:"bytesCommitted,omitempty"`
	RecordsCommitted     int64 `json:"recordsCommitted,omitempty"`
	RecordsRejected      int64 `json:"recordsRejected,omitempty"`
	EstimatedRecords     int64 `json:"estimatedRecords,omitempty"`
	EstimatedBytes       int64 `json:"estimatedBytes,omitempty"`
}

// AttemptStreamStats are one stream's attempt counters.
type AttemptStreamStats struct {
	StreamName      string       `json:"streamName"`
	StreamNamespace string       `json:"streamNamespace,omitempty"`
	Stats           AttemptStats `json:"stats"`
}

// AttemptFailureSummary lists an attempt's failures.
type AttemptFailureSummary struct {
	Failures       []FailureReason `json:"failures"`
	PartialSuccess *bool           `json:"partialSuccess,omitempty"`
}

// Public returns the job as the public API answers it (Airbyte's
// JobResponseMapper): startTime is createdAt, lastUpdatedAt is updatedAt
// once the job is terminal, duration is updatedAt − createdAt except while
// pending, and rowsSynced and bytesSynced are the committed totals. The
// times are whole seconds, as the configuration API sends them.
func (j *JobRead) Public() Job {
	out := Job{JobID: j.ID, Status: j.Status, JobType: JobType(j.ConfigType), ConnectionID: j.ConfigID,
		StartTime: ISOTime(j.CreatedAt.Time().Format(time.RFC3339))}
	if j.ConfigType == JobConfigResetConnection {
		out.JobType = JobTypeReset
	}
	if j.Status.IsTerminal() {
		out.LastUpdatedAt = ISOTime(j.UpdatedAt.Time().Format(time.RFC3339))
	}
	if j.Status != JobStatusPending && j.UpdatedAt >= j.CreatedAt {
		out.Duration = ISODuration(fmt.Sprintf("PT%dS", int64(j.UpdatedAt-j.CreatedAt)))
	}
	if s := j.AggregatedStats; s != nil {
		out.RowsSynced, out.BytesSynced = s.RecordsCommitted, s.BytesCommitted
	}
	return out
}
