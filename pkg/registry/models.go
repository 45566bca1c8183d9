package registry

import (
	"encoding/json"
	"time"
)

// ConnectionStatus is the registry status of a connection.
type ConnectionStatus string

// Connection statuses, as in the seed.
const (
	StatusPending ConnectionStatus = "PENDING"
	StatusActive  ConnectionStatus = "ACTIVE"
	StatusFailed  ConnectionStatus = "FAILED"
	StatusHealing ConnectionStatus = "HEALING"
	// StatusPaused: a drift policy paused the connection; it is inactive in
	// Airbyte and does not sync until a person approves or rejects the drift.
	StatusPaused ConnectionStatus = "PAUSED"
	// StatusDeleted: deleted on request; its Airbyte connection and source
	// are gone, its catalog versions and jobs are kept.
	StatusDeleted ConnectionStatus = "DELETED"
	// StatusOrphaned: its Airbyte does not know its connection any more
	// (StatusReason says what answered); requests for it fail at once.
	StatusOrphaned ConnectionStatus = "ORPHANED"
)

// JobStatus is the registry status of a sync job.
type JobStatus string

// Job statuses of job_history.
const (
	JobPending   JobStatus = "pending"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
	JobCancelled JobStatus = "cancelled"
)

// Terminal reports whether s is succeeded, failed or cancelled.
func (s JobStatus) Terminal() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled
}

// Connection is a row of connections.
type Connection struct {
	ID                        string           `json:"id"`
	Name                      string           `json:"name"`
	SourceType                string           `json:"source_type"`
	CredentialID              string           `json:"credential_id"`
	AirbyteDestinationID      string           `json:"airbyte_destination_id"`
	AirbyteSourceDefinitionID string           `json:"airbyte_source_definition_id"`
	AirbyteSourceID           string           `json:"airbyte_source_id"`
	AirbyteConnectionID       string           `json:"airbyte_connection_id"`
	AirbyteSourceCatalogID    string           `json:"airbyte_source_catalog_id"`
	Status                    ConnectionStatus `json:"status"`
	StatusReason              string           `json:"status_reason"`
	OnboardStep               string           `json:"onboard_step"`
	RequestSource             string           `json:"request_source"`
	RequestID                 string           `json:"request_id"`
	RequestedStreams          []string         `json:"requested_streams"`
	DiscoveredCatalog         json.RawMessage  `json:"discovered_catalog,omitempty"`
	CatalogVersion            int              `json:"catalog_version"`
	CreatedAt                 time.Time        `json:"created_at"`
	UpdatedAt                 time.Time        `json:"updated_at"`
}

// CatalogVersion is a row of sync_catalog_versions: one immutable catalog.
type CatalogVersion struct {
	ID              string          `json:"id"`
	ConnectionID    string          `json:"connection_id"`
	VersionNumber   int             `json:"version_number"`
	SyncCatalog     json.RawMessage `json:"sync_catalog"`
	ContentHash     string          `json:"content_hash"`
	SourceCatalogID string          `json:"source_catalog_id"`
	Reason          string          `json:"reason"`
	RequestSource   string          `json:"request_source"`
	RequestID       string          `json:"request_id"`
	CreatedAt       time.Time       `json:"created_at"`
}

// Job is a row of job_history.
type Job struct {
	ID             string     `json:"id"`
	ConnectionID   string     `json:"connection_id"`
	AirbyteJobID   string     `json:"airbyte_job_id"`
	Status         JobStatus  `json:"status"`
	CatalogVersion int        `json:"catalog_version"`
	StartedAt      *time.Time `json:"started_at"`
	CompletedAt    *time.Time `json:"completed_at"`
	RowsSynced     int64      `json:"rows_synced"`
	BytesSynced    int64      `json:"bytes_synced"`
	ErrorMessage   string     `json:"error_message"`
	NextCheckAt    *time.Time `json:"next_check_at,omitempty"`
	FollowDeadline *time.Time `json:"follow_deadline,omitempty"`
	CheckCount     int        `json:"check_count"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// StartRequestedAt is when AAM claimed the job's start, before it asked
	// Airbyte for it (nil for a job AAM found running).
	StartRequestedAt *time.Time `json:"start_requested_at,omitempty"`
	// AirbyteStatus is Airbyte's status as last seen, verbatim (a status
	// this version does not know is followed as running and kept here).
	AirbyteStatus string `json:"airbyte_status,omitempty"`
	// AirbyteSeenThrough is the instant (Airbyte's clock) up to which the
	// job's changes are known.
	AirbyteSeenThrough *time.Time `json:"airbyte_seen_through,omitempty"`
	// FailureClass is the class of a failed job's failure (credentials,
	// source, destination, transient, platform, unknown); FailureType and
	// FailureOrigin are Airbyte's failureType and failureOrigin, when it
	// reported them.
	FailureClass  string `json:"failure_class,omitempty"`
	FailureType   string `json:"failure_type,omitempty"`
	FailureOrigin string `json:"failure_origin,omitempty"`
}

// JobFailure is why a failed job failed: its class and Airbyte's
// failureType and failureOrigin.
type JobFailure struct {
	Class, Type, Origin string
}

// Failure returns the job's failure.
func (j Job) Failure() JobFailure {
	return JobFailure{Class: j.FailureClass, Type: j.FailureType, Origin: j.FailureOrigin}
}

// JobRequest links a sync request to the job that answers it.
type JobRequest struct {
	JobID         string    `json:"job_id"`
	RequestSource string    `json:"request_source"`
	RequestID     string    `json:"request_id"`
	TraceParent   string    `json:"traceparent"`
	Attached      bool      `json:"attached"`
	CreatedAt     time.Time `json:"created_at"`
}

// InboxOutcome is how a request recorded in the inbox ended (the inbox's
// outcome column).
type InboxOutcome string

// Inbox outcomes.
const (
	// OutcomeDone: the request's effect is committed.
	OutcomeDone InboxOutcome = "done"
	// OutcomeFailed: handling the request failed for good.
	OutcomeFailed InboxOutcome = "failed"
	// OutcomeRejected: the request was refused before it was handled.
	OutcomeRejected InboxOutcome = "rejected"
)

// InboxEntry is a row of inbox: a request that reached a terminal outcome.
type InboxEntry struct {
	Source     string       `json:"source"`
	ID         string       `json:"id"`
	Type       string       `json:"type"`
	Outcome    InboxOutcome `json:"outcome"`
	Reason     string       `json:"reason"`
	ReceivedAt time.Time    `json:"received_at"`
}

// OutboxRow is an event encoded for publication, as the outbox keeps it:
// the message (subject, headers, body) and the keys that order and find it.
// Package outbox encodes CloudEvents into rows; the registry stores them as
// they are.
type OutboxRow struct {
	// EventID is the event's id, unique in the outbox; the relay publishes
	// the message with it as the broker's deduplication id.
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	// Subject is the subject the message is published on.
	Subject string `json:"subject"`
	// ConnectionID is the connection the event is about, if any: the relay
	// keeps each connection's events in queue order.
	ConnectionID string `json:"connection_id"`
	// CorrelationID is the id of the request the event answers, if any.
	CorrelationID string              `json:"correlation_id"`
	Headers       map[string][]string `json:"headers"`
	Data          []byte              `json:"data"`
}

// OutboxMessage is a row of outbox: an encoded event waiting to be (or
// already) published.
type OutboxMessage struct {
	Seq int64 `json:"seq"`
	OutboxRow
	CreatedAt time.Time `json:"created_at"`
	// Published is true once the relay has the broker's acknowledgement.
	Published bool `json:"published"`
}

// Credential is a row of credentials. Only ciphertext is stored.
type Credential struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	KeyID      string    `json:"key_id"`
	Nonce      []byte    `json:"-"`
	Ciphertext []byte    `json:"-"`
	Version    int       `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}
