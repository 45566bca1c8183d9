package airbyte

import (
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap/zapcore"
)

// Page is one page of a public-API list: {previous, next, data}. Previous
// and Next are links as the server built them (they may point at an internal
// host); the client computes offsets itself.
type Page[T any] struct {
	Previous string `json:"previous,omitempty"`
	Next     string `json:"next,omitempty"`
	Data     []T    `json:"data"`
}

// ListParams are the common parameters of public-API list calls.
type ListParams struct {
	// WorkspaceIDs filters by workspace; empty means every workspace the
	// application may see.
	WorkspaceIDs []string
	// IncludeDeleted includes soft-deleted objects.
	IncludeDeleted bool
	// Limit is the page size, 1–100; 0 means Airbyte's default of 20 for a
	// single page and 100 when iterating.
	Limit int
	// Offset is the first item's position.
	Offset int
}

// Workspace is a public WorkspaceResponse.
type Workspace struct {
	WorkspaceID   string `json:"workspaceId"`
	Name          string `json:"name"`
	DataResidency string `json:"dataResidency,omitempty"`
	// Notifications is the workspace's NotificationsConfig, kept raw.
	Notifications json.RawMessage `json:"notifications,omitempty"`
}

// Definition is a connector definition (public DefinitionResponse).
type Definition struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	DockerRepository string `json:"dockerRepository"`
	DockerImageTag   string `json:"dockerImageTag"`
	DocumentationURL string `json:"documentationUrl,omitempty"`
}

// Source is a public SourceResponse. Secret configuration fields come back
// masked ("**********").
type Source struct {
	SourceID           string          `json:"sourceId"`
	Name               string          `json:"name"`
	SourceType         string          `json:"sourceType"`
	DefinitionID       string          `json:"definitionId"`
	WorkspaceID        string          `json:"workspaceId"`
	Configuration      json.RawMessage `json:"configuration,omitempty"`
	CreatedAt          EpochSeconds    `json:"createdAt"`
	ResourceAllocation json.RawMessage `json:"resourceAllocation,omitempty"`
}

// SourceCreateRequest is POST /sources' body. Either DefinitionID or
// Configuration["sourceType"] names the connector.
//
// Configuration holds connector secrets: the request's String, GoString,
// Format and MarshalLogObject never print it, and the client masks its
// values in error messages.
type SourceCreateRequest struct {
	Name          string         `json:"name"`
	DefinitionID  string         `json:"definitionId,omitempty"`
	WorkspaceID   string         `json:"workspaceId"`
	Configuration map[string]any `json:"configuration"`
	// SecretID is the id returned by Airbyte's OAuth flow, if used.
	SecretID           string          `json:"secretId,omitempty"`
	ResourceAllocation json.RawMessage `json:"resourceAllocation,omitempty"`
}

// String describes the request without its configuration.
func (r SourceCreateRequest) String() string {
	return fmt.Sprintf("SourceCreateRequest{Name:%q DefinitionID:%q WorkspaceID:%q Configuration:%s}",
		r.Name, r.DefinitionID, r.WorkspaceID, redacted)
}

// GoString implements fmt.GoStringer.
func (r SourceCreateRequest) GoString() string { return r.String() }

// Format implements fmt.Formatter so that no verb prints the configuration.
func (r SourceCreateRequest) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// MarshalLogObject implements zapcore.ObjectMarshaler without the configuration.
func (r SourceCreateRequest) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", r.Name)
	enc.AddString("definition_id", r.DefinitionID)
	enc.AddString("workspace_id", r.WorkspaceID)
	return nil
}

// SourcePatchRequest is PATCH /sources/{id}'s body; empty fields are left
// unchanged and Configuration is merged into the stored one. Like
// SourceCreateRequest it never prints its configuration.
type SourcePatchRequest struct {
	Name               string          `json:"name,omitempty"`
	WorkspaceID        string          `json:"workspaceId,omitempty"`
	Configuration      map[string]any  `json:"configuration,omitempty"`
	SecretID           string          `json:"secretId,omitempty"`
	ResourceAllocation json.RawMessage `json:"resourceAllocation,omitempty"`
}

// String describes the request without its configuration.
func (r SourcePatchRequest) String() string {
	return fmt.Sprintf("SourcePatchRequest{Name:%q WorkspaceID:%q Configuration:%s}", r.Name, r.WorkspaceID, redacted)
}

// GoString implements fmt.GoStringer.
func (r SourcePatchRequest) GoString() string { return r.String() }

// Format implements fmt.Formatter so that no verb prints the configuration.
func (r SourcePatchRequest) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// MarshalLogObject implements zapcore.ObjectMarshaler without the configuration.
func (r SourcePatchRequest) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", r.Name)
	enc.AddString("workspace_id", r.WorkspaceID)
	return nil
}

// Destination is a public DestinationResponse.
type Destination struct {
	DestinationID      string          `json:"destinationId"`
	Name               string          `json:"name"`
	DestinationType    string          `json:"destinationType"`
	DefinitionID       string          `json:"definitionId"`
	WorkspaceID        string          `json:"workspaceId"`
	Configuration      json.RawMessage `json:"configuration,omitempty"`
	CreatedAt          EpochSeconds    `json:"createdAt"`
	ResourceAllocation json.RawMessage `json:"resourceAllocation,omitempty"`
}

// Tag is a connection tag.
type Tag struct {
	TagID       string `json:"tagId"`
	WorkspaceID string `json:"workspaceId"`
	Name        string `json:"name"`
	Color       string `json:"color"`
}

// SelectedField is a path to a (top-level) field selected for a stream.
type SelectedField struct {
	FieldPath []string `json:"fieldPath"`
}

// StreamMapper is a configured stream mapper; its configuration stays raw.
type StreamMapper struct {
	ID                  string          `json:"id,omitempty"`
	Type                string          `json:"type"`
	MapperConfiguration json.RawMessage `json:"mapperConfiguration"`
}

// StreamConfiguration configures one stream of a public-API connection.
//
// SelectedFields is omitted when empty: Airbyte returns [] when field
// selection is off, and sending [] back is refused ("No fields selected").
type StreamConfiguration struct {
	Name      string             `json:"name"`
	Namespace string             `json:"namespace,omitempty"`
	SyncMode  ConnectionSyncMode `json:"syncMode,omitempty"`
	// CursorField and PrimaryKey must be omitted, or equal the source's,
	// for streams whose source defines them (Salesforce does).
	CursorField           []string        `json:"cursorField,omitempty"`
	PrimaryKey            [][]string      `json:"primaryKey,omitempty"`
	SelectedFields        []SelectedField `json:"selectedFields,omitempty"`
	Mappers               []StreamMapper  `json:"mappers,omitempty"`
	IncludeFiles          *bool           `json:"includeFiles,omitempty"`
	DestinationObjectName string          `json:"destinationObjectName,omitempty"`
}

// StreamConfigurations is the configurations object of a connection.
type StreamConfigurations struct {
	Streams []StreamConfiguration `json:"streams"`
}

// ConnectionSchedule is a connection's schedule in requests.
type ConnectionSchedule struct {
	ScheduleType ScheduleType `json:"scheduleType"`
	// CronExpression is a Quartz cron expression (seconds field first, at
	// most hourly), required for cron.
	CronExpression string `json:"cronExpression,omitempty"`
}

// ConnectionScheduleResponse is a connection's schedule in responses;
// CronExpression carries the time zone ("0 0 * * * ? UTC").
type ConnectionScheduleResponse struct {
	ScheduleType   ScheduleType `json:"scheduleType"`
	CronExpression string       `json:"cronExpression,omitempty"`
	BasicTiming    string       `json:"basicTiming,omitempty"`
}

// ConnectionCreateRequest is POST /connections' body. Without
// Configurations Airbyte selects the connector's suggested streams in
// full_refresh_overwrite; with it exactly the listed streams.
type ConnectionCreateRequest struct {
	Name                             string                           `json:"name,omitempty"`
	SourceID                         string                           `json:"sourceId"`
	DestinationID                    string                           `json:"destinationId"`
	Configurations                   *StreamConfigurations            `json:"configurations,omitempty"`
	Schedule                         *ConnectionSchedule              `json:"schedule,omitempty"`
	NamespaceDefinition              NamespaceDefinition              `json:"namespaceDefinition,omitempty"`
	NamespaceFormat                  string                           `json:"namespaceFormat,omitempty"`
	Prefix                           string                           `json:"prefix,omitempty"`
	NonBreakingSchemaUpdatesBehavior NonBreakingSchemaUpdatesBehavior `json:"nonBreakingSchemaUpdatesBehavior,omitempty"`
	Status                           ConnectionStatus                 `json:"status,omitempty"`
	Tags                             []Tag                            `json:"tags,omitempty"`
}

// ConnectionPatchRequest is PATCH /connections/{id}'s body; empty fields are
// left unchanged. A non-empty Configurations replaces the whole stream set.
type ConnectionPatchRequest struct {
	Name                             string                           `json:"name,omitempty"`
	Configurations                   *StreamConfigurations            `json:"configurations,omitempty"`
	Schedule                         *ConnectionSchedule              `json:"schedule,omitempty"`
	NamespaceDefinition              NamespaceDefinition              `json:"namespaceDefinition,omitempty"`
	NamespaceFormat                  string                           `json:"namespaceFormat,omitempty"`
	Prefix                           *string                          `json:"prefix,omitempty"`
	NonBreakingSchemaUpdatesBehavior NonBreakingSchemaUpdatesBehavior `json:"nonBreakingSchemaUpdatesBehavior,omitempty"`
	Status                           ConnectionStatus                 `json:"status,omitempty"`
	Tags                             []Tag                            `json:"tags,omitempty"`
}

// Connection is a public ConnectionResponse. Configurations lists the
// connection's stored (selected) streams only.
type Connection struct {
	ConnectionID                     string                           `json:"connectionId"`
	Name                             string                           `json:"name"`
	SourceID                         string                           `json:"sourceId"`
	DestinationID                    string                           `json:"destinationId"`
	WorkspaceID                      string                           `json:"workspaceId"`
	Status                           ConnectionStatus                 `json:"status"`
	StatusReason                     string                           `json:"statusReason,omitempty"`
	Schedule                         ConnectionScheduleResponse       `json:"schedule"`
	NonBreakingSchemaUpdatesBehavior NonBreakingSchemaUpdatesBehavior `json:"nonBreakingSchemaUpdatesBehavior,omitempty"`
	NamespaceDefinition              NamespaceDefinition              `json:"namespaceDefinition,omitempty"`
	NamespaceFormat                  string                           `json:"namespaceFormat,omitempty"`
	Prefix                           string                           `json:"prefix,omitempty"`
	Configurations                   StreamConfigurations             `json:"configurations"`
	CreatedAt                        EpochSeconds                     `json:"createdAt"`
	Tags                             []Tag                            `json:"tags"`
}

// StreamProperties is one entry of GET /streams.
type StreamProperties struct {
	StreamName string `json:"streamName"`
	// StreamNamespace is sent as "streamnamespace" (lower-case n).
	StreamNamespace          string               `json:"streamnamespace,omitempty"`
	SyncModes                []ConnectionSyncMode `json:"syncModes"`
	DefaultCursorField       []string             `json:"defaultCursorField,omitempty"`
	SourceDefinedCursorField bool                 `json:"sourceDefinedCursorField"`
	SourceDefinedPrimaryKey  [][]string           `json:"sourceDefinedPrimaryKey,omitempty"`
	PropertyFields           [][]string           `json:"propertyFields,omitempty"`
}

// StreamPropertiesParams are GET /streams' parameters.
type StreamPropertiesParams struct {
	SourceID string
	// DestinationID, when set, makes Airbyte list the valid sync modes.
	DestinationID string
	// IgnoreCache runs a fresh discover and stores the new catalog.
	IgnoreCache bool
}

// Job is a public JobResponse.
type Job struct {
	JobID        int64     `json:"jobId"`
	Status       JobStatus `json:"status"`
	JobType      JobType   `json:"jobType"`
	ConnectionID string    `json:"connectionId"`
	// StartTime is the job's creation time.
	StartTime ISOTime `json:"startTime"`
	// LastUpdatedAt is set only once the job is terminal.
	LastUpdatedAt ISOTime `json:"lastUpdatedAt,omitempty"`
	// Duration is absent while the job is pending.
	Duration    ISODuration `json:"duration,omitempty"`
	BytesSynced int64       `json:"bytesSynced,omitempty"`
	RowsSynced  int64       `json:"rowsSynced,omitempty"`
}

// JobCreateRequest is POST /jobs' body.
type JobCreateRequest struct {
	ConnectionID string  `json:"connectionId"`
	JobType      JobType `json:"jobType"`
}

// JobListParams are GET /jobs' parameters.
type JobListParams struct {
	ConnectionID string
	WorkspaceIDs []string
	JobType      JobType
	Status       JobStatus
	// Created/Updated bounds filter by time; zero values are not sent.
	CreatedAtStart, CreatedAtEnd time.Time
	UpdatedAtStart, UpdatedAtEnd time.Time
	// OrderBy is "<createdAt|updatedAt>|<ASC|DESC>"; Airbyte's default is
	// createdAt|DESC.
	OrderBy string
	Limit   int
	Offset  int
}
