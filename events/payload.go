package events

import (
	"encoding/json"
	"time"
)

// Connection status values, as in the registry.
const (
	StatusPending = "PENDING"
	StatusActive  = "ACTIVE"
	StatusFailed  = "FAILED"
	StatusHealing = "HEALING"
	StatusPaused  = "PAUSED"
	// StatusDeleted and StatusOrphaned end a connection: deleted on
	// request, or unknown to its Airbyte.
	StatusDeleted  = "DELETED"
	StatusOrphaned = "ORPHANED"
)

// Job status values of sync facts, as in the registry's job_history.
const (
	JobPending   = "pending"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// OnboardRequested is the data of io.aam.connection.onboard.requested.v1.
// Field names are the seed orchestrator's POST /connections/onboard body.
type OnboardRequested struct {
	// SourceType names the Airbyte source connector, e.g. "Salesforce"
	// (matched case-insensitively against the workspace's source definitions).
	SourceType string `json:"source_type"`
	// ConnectionName is the human-readable name of the connection.
	ConnectionName string `json:"connection_name"`
	// CredentialID is the credential broker's id of the source credentials.
	CredentialID string `json:"credential_id"`
	// DestinationID overrides AIRBYTE_DESTINATION_ID for this connection.
	DestinationID string `json:"destination_id,omitempty"`
	// Streams chooses the streams to sync; empty means the connector's
	// suggested streams (Airbyte's default).
	Streams []string `json:"streams,omitempty"`
}

// SyncRequested is the data of io.aam.connection.sync.requested.v1.
type SyncRequested struct {
	// ConnectionID is the registry id of the connection (not Airbyte's).
	ConnectionID string `json:"connection_id"`
}

// RepairRequested is the data of io.aam.connection.repair.requested.v1, the
// seed drift repair agent's POST /repair/apply_new_catalog body.
type RepairRequested struct {
	// ConnectionID is the registry id of the connection.
	ConnectionID string `json:"connection_id"`
	// NewSyncCatalog is the whole desired catalog, either in the Airbyte
	// protocol's ConfiguredAirbyteCatalog form (snake_case: stream,
	// sync_mode, destination_sync_mode, cursor_field, primary_key) as in the
	// seed, or in the Airbyte configuration API form (stream + config).
	NewSyncCatalog json.RawMessage `json:"new_sync_catalog"`
	// Reason says why the catalog changes; it is recorded with the version.
	Reason string `json:"reason,omitempty"`
	// SourceSchemaHash, when set, is the hash of the source's schema the
	// request was decided on (the schema observer sets it to the drift's
	// schema): the repair is refused, and nothing applied, when the source's
	// schema discovered for the repair is another one.
	SourceSchemaHash string `json:"source_schema_hash,omitempty"`
}

// ConnectionOnboarded is the data of io.aam.connection.onboarded.v1, the
// seed's onboard response.
type ConnectionOnboarded struct {
	ID                  string    `json:"id"`
	Name                string    `json:"name"`
	SourceType          string    `json:"source_type"`
	Status              string    `json:"status"`
	AirbyteSourceID     string    `json:"airbyte_source_id"`
	AirbyteConnectionID string    `json:"airbyte_connection_id"`
	CreatedAt           time.Time `json:"created_at"`
	CatalogVersion      int       `json:"catalog_version"`
	Streams             []string  `json:"streams,omitempty"`
}

// OnboardFailed is the data of io.aam.connection.onboard_failed.v1.
type OnboardFailed struct {
	// ID is the registry id of the connection, when one was created.
	ID              string `json:"id,omitempty"`
	Name            string `json:"name"`
	SourceType      string `json:"source_type"`
	Status          string `json:"status"`
	Step            string `json:"step"`
	Reason          string `json:"reason"`
	AirbyteSourceID string `json:"airbyte_source_id,omitempty"`
}

// SyncStarted is the data of io.aam.sync.started.v1; its first fields are
// the seed's sync response.
type SyncStarted struct {
	ConnectionID   string `json:"connection_id"`
	JobID          string `json:"job_id"`
	Status         string `json:"status"`
	Message        string `json:"message"`
	CatalogVersion int    `json:"catalog_version"`
	// Attached is true when the request did not start the job: it was
	// attached to the connection's job already pending or running (known to
	// AAM, or reported running by Airbyte), or answered by a job started for
	// another request after it arrived.
	Attached  bool      `json:"attached"`
	StartedAt time.Time `json:"started_at"`
}

// SyncFinished is the data of io.aam.sync.succeeded.v1, .failed.v1 and
// .cancelled.v1.
type SyncFinished struct {
	ConnectionID   string     `json:"connection_id"`
	JobID          string     `json:"job_id,omitempty"`
	Status         string     `json:"status"`
	CatalogVersion int        `json:"catalog_version,omitempty"`
	RowsSynced     int64      `json:"rows_synced"`
	BytesSynced    int64      `json:"bytes_synced"`
	DurationMS     int64      `json:"duration_ms"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
	// ErrorMessage is Airbyte's failure reason, or why the sync could not
	// start (unknown connection, connection not ACTIVE, timeout).
	ErrorMessage string `json:"error_message,omitempty"`
	// FailureClass classifies a failed job's failure (one of the Failure
	// constants); FailureType and FailureOrigin are Airbyte's failureType
	// and failureOrigin when it reported them. All are absent when no job
	// ran.
	FailureClass  string `json:"failure_class,omitempty"`
	FailureType   string `json:"failure_type,omitempty"`
	FailureOrigin string `json:"failure_origin,omitempty"`
}

// CatalogVersioned is the data of io.aam.catalog.versioned.v1, the seed's
// repair response.
type CatalogVersioned struct {
	ConnectionID    string `json:"connection_id"`
	PreviousVersion int    `json:"previous_version"`
	NewVersion      int    `json:"new_version"`
	Status          string `json:"status"`
	Message         string `json:"message"`
	ContentHash     string `json:"content_hash"`
	Reason          string `json:"reason,omitempty"`
	// Unchanged is true when the catalog equalled the current version and
	// no new version was created.
	Unchanged bool `json:"unchanged"`
	// RollbackTo is the version a rollback request restored (0 for a
	// repair).
	RollbackTo int `json:"rollback_to,omitempty"`
	// CatalogChanges are the changes from the previous version (absent
	// when unchanged).
	CatalogChanges
}

// CatalogChanges are the changes from one catalog version to another: in
// one line, in Airbyte's CatalogDiff form, classified (docs/drift.md), and
// the streams Airbyte needs to refresh or clear ({stream, namespace,
// action: refresh|clear, reasons}).
type CatalogChanges struct {
	Summary string          `json:"summary,omitempty"`
	Diff    json.RawMessage `json:"diff,omitempty"`
	Changes json.RawMessage `json:"changes,omitempty"`
	Refresh json.RawMessage `json:"refresh,omitempty"`
}

// RepairFailed is the data of io.aam.connection.repair_failed.v1.
type RepairFailed struct {
	ConnectionID string `json:"connection_id"`
	// Status is the connection's status after the failure (restored).
	Status string `json:"status,omitempty"`
	Reason string `json:"reason"`
	// Stream and Field name the offending part of the catalog, if any.
	Stream string `json:"stream,omitempty"`
	Field  string `json:"field,omitempty"`
	// RollbackTo is the version a refused rollback asked for (0 for a
	// repair).
	RollbackTo int `json:"rollback_to,omitempty"`
}

// RollbackRequested is the data of io.aam.connection.rollback.requested.v1:
// make catalog version ToVersion's streams and configuration the
// connection's catalog again, as its next version (reason "rollback to
// N"), validated against a fresh discover like any repair. DryRun only
// answers what would change (io.aam.catalog.rollback_planned.v1).
type RollbackRequested struct {
	ConnectionID string `json:"connection_id"`
	ToVersion    int    `json:"to_version"`
	DryRun       bool   `json:"dry_run,omitempty"`
	// Reason is added to the version's reason: "rollback to 2: …".
	Reason string `json:"reason,omitempty"`
}

// RollbackPlanned is the data of io.aam.catalog.rollback_planned.v1, the
// answer to a dry-run rollback: the changes from the current version to
// the version asked for, and whether the rollback would be applied.
type RollbackPlanned struct {
	ConnectionID   string `json:"connection_id"`
	CurrentVersion int    `json:"current_version"`
	ToVersion      int    `json:"to_version"`
	// CatalogChanges are the changes the rollback makes; Breaking is
	// AAM's verdict on them.
	CatalogChanges
	Breaking bool `json:"breaking"`
	// Applicable is false when the rollback would be refused; Reason,
	// Stream and Field then say why, as repair_failed would.
	Applicable bool   `json:"applicable"`
	Reason     string `json:"reason,omitempty"`
	Stream     string `json:"stream,omitempty"`
	Field      string `json:"field,omitempty"`
}

// DriftDetected is the data of io.aam.drift.detected.v1. Breaking is
// Airbyte's verdict on the diff; each of Changes carries AAM's.
type DriftDetected struct {
	ConnectionID   string          `json:"connection_id"`
	CatalogVersion int             `json:"catalog_version"`
	Breaking       bool            `json:"breaking"`
	Diff           json.RawMessage `json:"diff"`
	// DriftID identifies the drift in the registry and in approve or
	// reject requests.
	DriftID string `json:"drift_id,omitempty"`
	// Changes are the classified changes, Decision the connection's
	// policy's decision (when the observer decides by policy).
	Changes  json.RawMessage `json:"changes,omitempty"`
	Decision *DriftDecision  `json:"decision,omitempty"`
}

// DriftDecision is a drift policy's decision with its provenance: the
// drift's action, the rule that set it, the policy version, and every
// change's decision with the inputs its rules saw.
type DriftDecision struct {
	Action        string          `json:"action"`
	RuleID        string          `json:"rule_id"`
	PolicyVersion int             `json:"policy_version"`
	Decisions     json.RawMessage `json:"decisions,omitempty"`
}

// PolicySetRequested is the data of
// io.aam.connection.policy.set.requested.v1. Policy is a drift policy
// document: {"rules": [{"id", "when", "action"}], "streams": {name: rules},
// "labels": {name: value}} (docs/drift.md).
type PolicySetRequested struct {
	ConnectionID string          `json:"connection_id"`
	Policy       json.RawMessage `json:"policy"`
}

// PolicySet is the data of io.aam.connection.policy_set.v1.
type PolicySet struct {
	ConnectionID string          `json:"connection_id"`
	Version      int             `json:"version"`
	Policy       json.RawMessage `json:"policy"`
}

// Resolutions of a drift (ResolveRequested.Decision).
const (
	ResolveApprove = "approve"
	ResolveReject  = "reject"
)

// ResolveRequested is the data of io.aam.drift.resolve.requested.v1:
// approve (apply the source's current schema as a new catalog version;
// a paused connection resumes) or reject a drift that awaits a person;
// Resume also resumes a paused connection on a rejection.
type ResolveRequested struct {
	ConnectionID string `json:"connection_id"`
	DriftID      string `json:"drift_id"`
	Decision     string `json:"decision"`
	Resume       bool   `json:"resume,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// DriftResolved is the data of io.aam.drift.resolved.v1.
type DriftResolved struct {
	ConnectionID string `json:"connection_id"`
	DriftID      string `json:"drift_id"`
	Decision     string `json:"decision"`
	// Resumed is true when the connection went from PAUSED to ACTIVE.
	Resumed bool `json:"resumed"`
	// RepairRequestID is the repair request that applies an approved
	// drift.
	RepairRequestID string `json:"repair_request_id,omitempty"`
}

// DeleteRequested is the data of io.aam.connection.delete.requested.v1.
type DeleteRequested struct {
	ConnectionID string `json:"connection_id"`
	// Reason is kept as the connection's status reason.
	Reason string `json:"reason,omitempty"`
}

// ConnectionDeleted is the data of io.aam.connection.deleted.v1: the
// Airbyte objects that were deleted (or were found gone) and the status the
// connection had before.
type ConnectionDeleted struct {
	ConnectionID        string `json:"connection_id"`
	Name                string `json:"name"`
	Status              string `json:"status"`
	PreviousStatus      string `json:"previous_status"`
	AirbyteSourceID     string `json:"airbyte_source_id,omitempty"`
	AirbyteConnectionID string `json:"airbyte_connection_id,omitempty"`
	Reason              string `json:"reason,omitempty"`
}

// ConnectionOrphaned is the data of io.aam.connection.orphaned.v1: an
// Airbyte call made for a connection answered 404 for its Airbyte
// connection (or its source), so the registry marked it ORPHANED. It is
// emitted once per connection; sync and repair requests for it then fail
// at once with the reason, without calling Airbyte.
type ConnectionOrphaned struct {
	ConnectionID        string `json:"connection_id"`
	Name                string `json:"name"`
	Status              string `json:"status"`
	PreviousStatus      string `json:"previous_status"`
	AirbyteConnectionID string `json:"airbyte_connection_id"`
	AirbyteSourceID     string `json:"airbyte_source_id,omitempty"`
	// Resource is what Airbyte did not know: OrphanedConnection or
	// OrphanedSource; ResourceID its Airbyte id.
	Resource   string `json:"resource"`
	ResourceID string `json:"resource_id"`
	// Call is the Airbyte call that answered 404 ("POST /api/public/v1/jobs").
	Call string `json:"call"`
	// Reason is kept as the connection's status reason.
	Reason string `json:"reason"`
}

// Resources of ConnectionOrphaned.
const (
	OrphanedConnection = "connection"
	OrphanedSource     = "source"
)

// ApprovalRequested is the data of io.aam.drift.approval_requested.v1.
type ApprovalRequested struct {
	ConnectionID   string          `json:"connection_id"`
	CatalogVersion int             `json:"catalog_version"`
	DriftID        string          `json:"drift_id"`
	Summary        string          `json:"summary"`
	Changes        json.RawMessage `json:"changes"`
	Decision       DriftDecision   `json:"decision"`
}

// ConnectionPaused is the data of io.aam.connection.paused.v1.
type ConnectionPaused struct {
	ConnectionID   string        `json:"connection_id"`
	CatalogVersion int           `json:"catalog_version"`
	DriftID        string        `json:"drift_id"`
	Reason         string        `json:"reason"`
	Decision       DriftDecision `json:"decision"`
}

// RequestRejected is the data of io.aam.request.rejected.v1.
type RequestRejected struct {
	// RequestID, RequestType and RequestSource are the request's attributes,
	// when they could be read.
	RequestID     string `json:"request_id,omitempty"`
	RequestType   string `json:"request_type,omitempty"`
	RequestSource string `json:"request_source,omitempty"`
	// Subject is the NATS subject the request arrived on.
	Subject string `json:"subject"`
	// Reason says what was wrong; Field names the attribute or data field.
	Reason string `json:"reason"`
	Field  string `json:"field,omitempty"`
	// StreamSequence is the request's sequence in AAM_REQUESTS.
	StreamSequence uint64 `json:"stream_sequence,omitempty"`
}

// Failure classes of a failed sync (SyncFinished.FailureClass), from
// Airbyte's failure reason.
const (
	// FailureCredentials: the source refused its configuration
	// (config_error from the source), e.g. revoked or expired credentials.
	// Retrying does not help.
	FailureCredentials = "credentials"
	// FailureSource: the source failed otherwise.
	FailureSource = "source"
	// FailureDestination: the destination failed or refused its
	// configuration.
	FailureDestination = "destination"
	// FailureTransient: a transient error or a lost heartbeat; a retry may
	// succeed.
	FailureTransient = "transient"
	// FailurePlatform: Airbyte itself failed (replication, persistence,
	// the platform, normalization).
	FailurePlatform = "platform"
	// FailureUnknown: Airbyte gave no failure reason AAM can classify.
	FailureUnknown = "unknown"
)

// FailureClasses lists the failure classes.
func FailureClasses() []string {
	return []string{FailureCredentials, FailureSource, FailureDestination, FailureTransient, FailurePlatform, FailureUnknown}
}

// Kinds of a volume anomaly (SyncAnomaly.Kind), and the metrics it judges
// (SyncAnomaly.Metric): a stream's records, or the job's duration.
const (
	// AnomalyDrop: a stream moved fewer records than its history expects.
	AnomalyDrop = "drop"
	// AnomalySpike: a stream moved more records than its history expects.
	AnomalySpike = "spike"
	// AnomalyZero: a stream that usually moves records moved none.
	AnomalyZero = "zero"
	// AnomalyDuration: the job took longer than its history expects.
	AnomalyDuration = "duration"

	MetricRecords, MetricDurationMS = "records", "duration_ms"
)

// SyncAnomaly is the data of io.aam.sync.anomaly.detected.v1: a
// successful job's stream (or the job, for a duration) was outside the
// range the median of the connection's last successful jobs expects.
type SyncAnomaly struct {
	ConnectionID string `json:"connection_id"`
	// JobID is the Airbyte job id.
	JobID string `json:"job_id"`
	// Stream is the stream's name (namespace.name when it has one); absent
	// for a duration anomaly.
	Stream string `json:"stream,omitempty"`
	// Kind is one of the Anomaly constants; Metric records or duration_ms.
	Kind   string `json:"kind"`
	Metric string `json:"metric"`
	// Observed is the job's value; Expected the normal range, from Median
	// of the last HistoryJobs successful jobs.
	Observed    int64         `json:"observed"`
	Expected    ExpectedRange `json:"expected"`
	Median      float64       `json:"median"`
	HistoryJobs int           `json:"history_jobs"`
}

// ExpectedRange bounds the normal values of a metric, inclusive.
type ExpectedRange struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// ReleaseRequested is the data of io.aam.connection.release.requested.v1.
type ReleaseRequested struct {
	ConnectionID string `json:"connection_id"`
	// Reason says why (kept in connection.released).
	Reason string `json:"reason,omitempty"`
}

// FailedJob is one failed sync in a health fact: its Airbyte job id, its
// failure class and Airbyte's reason.
type FailedJob struct {
	JobID        string     `json:"job_id"`
	FailureClass string     `json:"failure_class"`
	ErrorMessage string     `json:"error_message,omitempty"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
}

// HealthWarning is the data of io.aam.connection.health_warning.v1: the
// connection's syncs failed WarnAfter times in a row; it is quarantined at
// QuarantineAfter.
type HealthWarning struct {
	ConnectionID        string      `json:"connection_id"`
	ConsecutiveFailures int         `json:"consecutive_failures"`
	WarnAfter           int         `json:"warn_after"`
	QuarantineAfter     int         `json:"quarantine_after"`
	LastFailures        []FailedJob `json:"last_failures"`
}

// ConnectionQuarantined is the data of io.aam.connection.quarantined.v1.
type ConnectionQuarantined struct {
	ConnectionID        string `json:"connection_id"`
	Status              string `json:"status"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	// Reason is kept as the connection's status reason; sync requests are
	// refused with it.
	Reason       string      `json:"reason"`
	LastFailures []FailedJob `json:"last_failures"`
}

// ConnectionReleased is the data of io.aam.connection.released.v1.
type ConnectionReleased struct {
	ConnectionID   string `json:"connection_id"`
	Status         string `json:"status"`
	PreviousStatus string `json:"previous_status"`
	// ConsecutiveFailures is the count the release reset.
	ConsecutiveFailures int    `json:"consecutive_failures"`
	Reason              string `json:"reason,omitempty"`
}
