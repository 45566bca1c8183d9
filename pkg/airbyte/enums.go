package airbyte

import "slices"

// Enumerations are string types: a value Airbyte adds later (as it added the
// job status "queued") decodes without error, and Known tells whether the
// client knows it.

// JobStatus is a job's status (public JobStatusEnum, config JobStatus).
type JobStatus string

// Job statuses. Terminal: failed, succeeded, cancelled. "incomplete" means an
// attempt failed and another will follow; "queued" (2026) means the job waits
// for capacity.
const (
	JobStatusPending    JobStatus = "pending"
	JobStatusQueued     JobStatus = "queued"
	JobStatusRunning    JobStatus = "running"
	JobStatusIncomplete JobStatus = "incomplete"
	JobStatusFailed     JobStatus = "failed"
	JobStatusSucceeded  JobStatus = "succeeded"
	JobStatusCancelled  JobStatus = "cancelled"
)

// Known reports whether s is one of the statuses above.
func (s JobStatus) Known() bool {
	return slices.Contains([]JobStatus{JobStatusPending, JobStatusQueued, JobStatusRunning,
		JobStatusIncomplete, JobStatusFailed, JobStatusSucceeded, JobStatusCancelled}, s)
}

// IsTerminal reports whether the job has ended: failed, succeeded or cancelled.
// An unknown status is not terminal, so that pollers keep polling.
func (s JobStatus) IsTerminal() bool {
	return s == JobStatusFailed || s == JobStatusSucceeded || s == JobStatusCancelled
}

// JobType is a public-API job type. Airbyte reports clear jobs as "reset".
type JobType string

// Job types. The public API refuses "refresh" (422).
const (
	JobTypeSync    JobType = "sync"
	JobTypeReset   JobType = "reset"
	JobTypeRefresh JobType = "refresh"
	JobTypeClear   JobType = "clear"
)

// Known reports whether t is one of the types above.
func (t JobType) Known() bool {
	return slices.Contains([]JobType{JobTypeSync, JobTypeReset, JobTypeRefresh, JobTypeClear}, t)
}

// ConnectionStatus is a connection's status (both APIs).
type ConnectionStatus string

// Connection statuses. Deleting a connection makes it deprecated.
const (
	ConnectionActive     ConnectionStatus = "active"
	ConnectionInactive   ConnectionStatus = "inactive"
	ConnectionDeprecated ConnectionStatus = "deprecated"
	ConnectionLocked     ConnectionStatus = "locked"
)

// Known reports whether s is one of the statuses above.
func (s ConnectionStatus) Known() bool {
	return slices.Contains([]ConnectionStatus{ConnectionActive, ConnectionInactive, ConnectionDeprecated, ConnectionLocked}, s)
}

// ConnectionSyncMode is the public API's combined sync mode of a stream.
type ConnectionSyncMode string

// Public sync modes.
const (
	SyncModeFullRefreshOverwrite        ConnectionSyncMode = "full_refresh_overwrite"
	SyncModeFullRefreshOverwriteDeduped ConnectionSyncMode = "full_refresh_overwrite_deduped"
	SyncModeFullRefreshAppend           ConnectionSyncMode = "full_refresh_append"
	SyncModeFullRefreshUpdate           ConnectionSyncMode = "full_refresh_update"
	SyncModeFullRefreshSoftDelete       ConnectionSyncMode = "full_refresh_soft_delete"
	SyncModeIncrementalAppend           ConnectionSyncMode = "incremental_append"
	SyncModeIncrementalDedupedHistory   ConnectionSyncMode = "incremental_deduped_history"
	SyncModeIncrementalUpdate           ConnectionSyncMode = "incremental_update"
	SyncModeIncrementalSoftDelete       ConnectionSyncMode = "incremental_soft_delete"
)

var connectionSyncModes = map[ConnectionSyncMode][2]string{
	SyncModeFullRefreshOverwrite:        {"full_refresh", "overwrite"},
	SyncModeFullRefreshAppend:           {"full_refresh", "append"},
	SyncModeFullRefreshOverwriteDeduped: {"full_refresh", "overwrite_dedup"},
	SyncModeFullRefreshUpdate:           {"full_refresh", "update"},
	SyncModeFullRefreshSoftDelete:       {"full_refresh", "soft_delete"},
	SyncModeIncrementalAppend:           {"incremental", "append"},
	SyncModeIncrementalDedupedHistory:   {"incremental", "append_dedup"},
	SyncModeIncrementalUpdate:           {"incremental", "update"},
	SyncModeIncrementalSoftDelete:       {"incremental", "soft_delete"},
}

// Known reports whether m is one of the modes above.
func (m ConnectionSyncMode) Known() bool {
	_, ok := connectionSyncModes[m]
	return ok
}

// Split returns the configuration API's (syncMode, destinationSyncMode) pair
// of m, as Airbyte maps them; ok is false for an unknown mode.
func (m ConnectionSyncMode) Split() (SyncMode, DestinationSyncMode, bool) {
	p, ok := connectionSyncModes[m]
	return SyncMode(p[0]), DestinationSyncMode(p[1]), ok
}

// JoinSyncMode returns the public sync mode of a configuration API pair; ok
// is false when the public API has no name for it.
func JoinSyncMode(s SyncMode, d DestinationSyncMode) (ConnectionSyncMode, bool) {
	for m, p := range connectionSyncModes {
		if p[0] == string(s) && p[1] == string(d) {
			return m, true
		}
	}
	return "", false
}

// SyncMode is the configuration API's source sync mode.
type SyncMode string

// Source sync modes.
const (
	SyncModeFullRefresh SyncMode = "full_refresh"
	SyncModeIncremental SyncMode = "incremental"
)

// Known reports whether m is one of the modes above.
func (m SyncMode) Known() bool { return m == SyncModeFullRefresh || m == SyncModeIncremental }

// DestinationSyncMode is the configuration API's destination sync mode.
type DestinationSyncMode string

// Destination sync modes.
const (
	DestinationSyncAppend         DestinationSyncMode = "append"
	DestinationSyncOverwrite      DestinationSyncMode = "overwrite"
	DestinationSyncAppendDedup    DestinationSyncMode = "append_dedup"
	DestinationSyncOverwriteDedup DestinationSyncMode = "overwrite_dedup"
	DestinationSyncUpdate         DestinationSyncMode = "update"
	DestinationSyncSoftDelete     DestinationSyncMode = "soft_delete"
)

// Known reports whether m is one of the modes above.
func (m DestinationSyncMode) Known() bool {
	return slices.Contains([]DestinationSyncMode{DestinationSyncAppend, DestinationSyncOverwrite, DestinationSyncAppendDedup,
		DestinationSyncOverwriteDedup, DestinationSyncUpdate, DestinationSyncSoftDelete}, m)
}

// IsDedup reports append_dedup and overwrite_dedup, the modes that need a
// primary key.
func (m DestinationSyncMode) IsDedup() bool {
	return m == DestinationSyncAppendDedup || m == DestinationSyncOverwriteDedup
}

// NamespaceDefinition is the public API's namespace definition.
type NamespaceDefinition string

// Public namespace definitions (default destination).
const (
	NamespaceSource       NamespaceDefinition = "source"
	NamespaceDestination  NamespaceDefinition = "destination"
	NamespaceCustomFormat NamespaceDefinition = "custom_format"
)

// NamespaceDefinitionType is the configuration API's namespace definition;
// note "customformat" without the underscore.
type NamespaceDefinitionType string

// Configuration API namespace definitions.
const (
	NamespaceTypeSource       NamespaceDefinitionType = "source"
	NamespaceTypeDestination  NamespaceDefinitionType = "destination"
	NamespaceTypeCustomFormat NamespaceDefinitionType = "customformat"
)

// NonBreakingSchemaUpdatesBehavior is the public API's policy for
// non-breaking schema changes.
type NonBreakingSchemaUpdatesBehavior string

// Public policies (default ignore).
const (
	SchemaUpdatesIgnore            NonBreakingSchemaUpdatesBehavior = "ignore"
	SchemaUpdatesDisableConnection NonBreakingSchemaUpdatesBehavior = "disable_connection"
	SchemaUpdatesPropagateColumns  NonBreakingSchemaUpdatesBehavior = "propagate_columns"
	SchemaUpdatesPropagateFully    NonBreakingSchemaUpdatesBehavior = "propagate_fully"
)

// NonBreakingChangesPreference is the configuration API's name and values
// for the same policy; "disable" is the public "disable_connection".
type NonBreakingChangesPreference string

// Configuration API policies.
const (
	ChangesIgnore           NonBreakingChangesPreference = "ignore"
	ChangesDisable          NonBreakingChangesPreference = "disable"
	ChangesPropagateColumns NonBreakingChangesPreference = "propagate_columns"
	ChangesPropagateFully   NonBreakingChangesPreference = "propagate_fully"
)

// ScheduleType is a connection's schedule type.
type ScheduleType string

// Schedule types; basic appears only in responses (legacy schedules).
const (
	ScheduleManual ScheduleType = "manual"
	ScheduleCron   ScheduleType = "cron"
	ScheduleBasic  ScheduleType = "basic"
)

// JobConfigType is the configuration API's job type.
type JobConfigType string

// Configuration API job types.
const (
	JobConfigCheckConnectionSource      JobConfigType = "check_connection_source"
	JobConfigCheckConnectionDestination JobConfigType = "check_connection_destination"
	JobConfigDiscoverSchema             JobConfigType = "discover_schema"
	JobConfigGetSpec                    JobConfigType = "get_spec"
	JobConfigSync                       JobConfigType = "sync"
	JobConfigResetConnection            JobConfigType = "reset_connection"
	JobConfigRefresh                    JobConfigType = "refresh"
	JobConfigClear                      JobConfigType = "clear"
)

// Known reports whether t is one of the types above.
func (t JobConfigType) Known() bool {
	return slices.Contains([]JobConfigType{JobConfigCheckConnectionSource, JobConfigCheckConnectionDestination,
		JobConfigDiscoverSchema, JobConfigGetSpec, JobConfigSync, JobConfigResetConnection, JobConfigRefresh, JobConfigClear}, t)
}

// AttemptStatus is a job attempt's status.
type AttemptStatus string

// Attempt statuses.
const (
	AttemptRunning   AttemptStatus = "running"
	AttemptFailed    AttemptStatus = "failed"
	AttemptSucceeded AttemptStatus = "succeeded"
)

// Known reports whether s is one of the statuses above.
func (s AttemptStatus) Known() bool {
	return s == AttemptRunning || s == AttemptFailed || s == AttemptSucceeded
}

// FailureOrigin says where a failure came from.
type FailureOrigin string

// Failure origins.
const (
	FailureOriginSource          FailureOrigin = "source"
	FailureOriginDestination     FailureOrigin = "destination"
	FailureOriginReplication     FailureOrigin = "replication"
	FailureOriginPersistence     FailureOrigin = "persistence"
	FailureOriginAirbytePlatform FailureOrigin = "airbyte_platform"
	FailureOriginNormalization   FailureOrigin = "normalization"
	FailureOriginDBT             FailureOrigin = "dbt"
	FailureOriginUnknown         FailureOrigin = "unknown"
)

// FailureType categorises a failure.
type FailureType string

// Failure types.
const (
	FailureConfigError        FailureType = "config_error"
	FailureSystemError        FailureType = "system_error"
	FailureManualCancellation FailureType = "manual_cancellation"
	FailureRefreshSchema      FailureType = "refresh_schema"
	FailureHeartbeatTimeout   FailureType = "heartbeat_timeout"
	FailureDestinationTimeout FailureType = "destination_timeout"
	FailureTransientError     FailureType = "transient_error"
)

// StreamTransformType is the kind of a stream change in a CatalogDiff.
type StreamTransformType string

// Stream transforms.
const (
	TransformAddStream    StreamTransformType = "add_stream"
	TransformRemoveStream StreamTransformType = "remove_stream"
	TransformUpdateStream StreamTransformType = "update_stream"
)

// FieldTransformType is the kind of a field change in a CatalogDiff.
type FieldTransformType string

// Field transforms.
const (
	TransformAddField          FieldTransformType = "add_field"
	TransformRemoveField       FieldTransformType = "remove_field"
	TransformUpdateFieldSchema FieldTransformType = "update_field_schema"
)

// StreamAttributeTransformType is the kind of a stream attribute change.
type StreamAttributeTransformType string

// Stream attribute transforms.
const (
	TransformUpdatePrimaryKey StreamAttributeTransformType = "update_primary_key"
)

// WorkloadPriority is a discover's scheduling priority.
type WorkloadPriority string

// Workload priorities.
const (
	PriorityHigh    WorkloadPriority = "high"
	PriorityDefault WorkloadPriority = "default"
)
