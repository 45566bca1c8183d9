package gateway

import (
	"encoding/json"
	"time"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/registry"
)

// The bodies the gateway answers with. The CLI decodes the same types when
// it reads the registry through the gateway, and builds them from
// registry rows when it reads PostgreSQL directly.

// Accepted is the 202 answer to a request: JetStream stored it and a worker
// will answer it.
type Accepted struct {
	// RequestID is the CloudEvent id of the request (the Idempotency-Key
	// when one was given) and the correlationid of its answers.
	RequestID string `json:"request_id"`
	// StatusURL reads the request's state: /v1/requests/{request_id}.
	StatusURL string `json:"status_url"`
	// Type is the request's CloudEvent type.
	Type string `json:"type"`
	// Subject is the NATS subject the request was published on.
	Subject string `json:"subject"`
}

// Error is the body of every error answer.
type Error struct {
	// Error says what is wrong.
	Error string `json:"error"`
	// Field names the offending field, header, parameter or attribute.
	Field string `json:"field,omitempty"`
	// RequestID, Status, Type and Event describe the request when the error
	// is its outcome: Status "rejected" (400) or "failed" (422), Type the
	// fact type, Event the fact as a structured CloudEvent.
	RequestID    string          `json:"request_id,omitempty"`
	Status       string          `json:"status,omitempty"`
	Type         string          `json:"type,omitempty"`
	ConnectionID string          `json:"connection_id,omitempty"`
	Event        json.RawMessage `json:"event,omitempty"`
}

// SeedConnection is the seed API's connection object: the answer to an
// onboard request and the items of GET /connections.
type SeedConnection struct {
	ID                  string    `json:"id"`
	Name                string    `json:"name"`
	SourceType          string    `json:"source_type"`
	Status              string    `json:"status"`
	AirbyteSourceID     string    `json:"airbyte_source_id"`
	AirbyteConnectionID string    `json:"airbyte_connection_id"`
	CreatedAt           time.Time `json:"created_at"`
}

// SeedSync is the seed API's answer to a sync request.
type SeedSync struct {
	ConnectionID string `json:"connection_id"`
	JobID        string `json:"job_id"`
	Status       string `json:"status"`
	Message      string `json:"message"`
}

// SeedRepair is the seed API's answer to a catalog update.
type SeedRepair struct {
	ConnectionID    string `json:"connection_id"`
	PreviousVersion int    `json:"previous_version"`
	NewVersion      int    `json:"new_version"`
	Status          string `json:"status"`
	Message         string `json:"message"`
}

// Connection is a registry connection as /v1 shows it.
type Connection struct {
	ID                        string    `json:"id"`
	Name                      string    `json:"name"`
	SourceType                string    `json:"source_type"`
	Status                    string    `json:"status"`
	StatusReason              string    `json:"status_reason"`
	CredentialID              string    `json:"credential_id"`
	CatalogVersion            int       `json:"catalog_version"`
	RequestedStreams          []string  `json:"requested_streams"`
	OnboardStep               string    `json:"onboard_step"`
	AirbyteSourceID           string    `json:"airbyte_source_id"`
	AirbyteConnectionID       string    `json:"airbyte_connection_id"`
	AirbyteDestinationID      string    `json:"airbyte_destination_id"`
	AirbyteSourceDefinitionID string    `json:"airbyte_source_definition_id"`
	RequestID                 string    `json:"request_id"`
	CreatedAt                 time.Time `json:"created_at"`
	UpdatedAt                 time.Time `json:"updated_at"`
}

// ConnectionList is a page of connections.
type ConnectionList struct {
	Connections []Connection `json:"connections"`
	// Next is the cursor of the following page (pass it as ?after=), empty
	// on the last page.
	Next string `json:"next,omitempty"`
}

// CatalogVersion is one immutable catalog version of a connection. The
// list leaves SyncCatalog out; the single version carries it.
type CatalogVersion struct {
	ConnectionID  string          `json:"connection_id"`
	VersionNumber int             `json:"version_number"`
	ContentHash   string          `json:"content_hash"`
	Streams       []string        `json:"streams"`
	Reason        string          `json:"reason"`
	RequestSource string          `json:"request_source"`
	RequestID     string          `json:"request_id"`
	CreatedAt     time.Time       `json:"created_at"`
	SyncCatalog   json.RawMessage `json:"sync_catalog,omitempty"`
}

// CatalogVersionList lists a connection's versions, oldest first.
type CatalogVersionList struct {
	Versions []CatalogVersion `json:"versions"`
}

// Job is one sync job of a connection.
type Job struct {
	ID             string     `json:"id"`
	ConnectionID   string     `json:"connection_id"`
	AirbyteJobID   string     `json:"airbyte_job_id"`
	Status         string     `json:"status"`
	CatalogVersion int        `json:"catalog_version"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
	RowsSynced     int64      `json:"rows_synced"`
	BytesSynced    int64      `json:"bytes_synced"`
	ErrorMessage   string     `json:"error_message,omitempty"`
	// FailureClass is a failed job's failure class (credentials, source,
	// destination, transient, platform, unknown).
	FailureClass string    `json:"failure_class,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// ConnectionHealth is a connection's health at a glance: its run of failed
// syncs, its last success and failure, the failure classes of its recent
// jobs and whether it is quarantined.
type ConnectionHealth struct {
	ConnectionID string `json:"connection_id"`
	Status       string `json:"status"`
	StatusReason string `json:"status_reason,omitempty"`
	Quarantined  bool   `json:"quarantined"`
	// ConsecutiveFailures counts the failed syncs since the last success.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// Warned says the current run of failures was warned about
	// (connection.health_warning).
	Warned        bool       `json:"warned"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	LastFailureAt *time.Time `json:"last_failure_at,omitempty"`
	// RecentJobs are the connection's last jobs (at most the gateway's
	// RecentJobs), newest first.
	RecentJobs []Job `json:"recent_jobs"`
	// OpenAnomalies are the connection's volume anomalies still open, oldest
	// first: each closes at the next successful job that finds its stream
	// (or, for a duration anomaly, the job's duration) otherwise.
	OpenAnomalies []Anomaly `json:"open_anomalies"`
}

// Anomaly is an open volume anomaly: sync.anomaly.detected's data and when
// it was detected.
type Anomaly struct {
	events.SyncAnomaly
	DetectedAt time.Time `json:"detected_at"`
}

// HealthFrom builds a connection's health from its registry rows.
func HealthFrom(c registry.Connection, h registry.Health, jobs []registry.Job, anomalies []registry.Anomaly) ConnectionHealth {
	out := ConnectionHealth{ConnectionID: c.ID, Status: string(c.Status), StatusReason: c.StatusReason,
		Quarantined: c.Status == registry.StatusQuarantined, ConsecutiveFailures: h.ConsecutiveFailures,
		Warned:        h.Warned(),
		LastSuccessAt: utcPtr(h.LastSuccessAt), LastFailureAt: utcPtr(h.LastFailureAt), RecentJobs: []Job{},
		OpenAnomalies: []Anomaly{}}
	for _, j := range jobs {
		out.RecentJobs = append(out.RecentJobs, JobFrom(j))
	}
	for _, a := range anomalies {
		out.OpenAnomalies = append(out.OpenAnomalies, Anomaly{DetectedAt: a.DetectedAt.UTC(), SyncAnomaly: events.SyncAnomaly{
			ConnectionID: a.ConnectionID, JobID: a.AirbyteJobID, Stream: a.Stream, Kind: a.Kind, Metric: a.Metric,
			Observed: a.Observed, Expected: events.ExpectedRange{Min: a.ExpectedMin, Max: a.ExpectedMax},
			Median: a.Median, HistoryJobs: a.HistoryJobs}})
	}
	return out
}

// JobStats is one successful job's volume: its duration and what each of
// its streams moved (records and bytes).
type JobStats = registry.JobStats

// StatsList lists a connection's successful jobs' volume, newest first.
type StatsList struct {
	Jobs []JobStats `json:"jobs"`
}

// JobList lists a connection's jobs, newest first.
type JobList struct {
	Jobs []Job `json:"jobs"`
}

// Request states of RequestStatus.Status.
const (
	// RequestPending: no answer recorded yet (also said of an unknown id:
	// the gateway cannot tell a request still queued from one never sent).
	RequestPending = "pending"
	// RequestRunning: a sync job started; its terminal state is not known yet.
	RequestRunning   = "running"
	RequestSucceeded = "succeeded"
	RequestFailed    = "failed"
	RequestCancelled = "cancelled"
	RequestRejected  = "rejected"
)

// RequestStatus is the state of a request, read from the registry.
type RequestStatus struct {
	RequestID string `json:"request_id"`
	// Status is one of pending, running, succeeded, failed, cancelled,
	// rejected.
	Status string `json:"status"`
	// Type is the request's CloudEvent type, when known.
	Type string `json:"type,omitempty"`
	// ConnectionID is the connection the answers are about, when known.
	ConnectionID string `json:"connection_id,omitempty"`
	// Reason says why a request failed or was rejected.
	Reason string `json:"reason,omitempty"`
	// Outcome is the newest answer (structured CloudEvent), if any.
	Outcome json.RawMessage `json:"outcome,omitempty"`
	// Events are every answer recorded for the request, oldest first.
	Events []json.RawMessage `json:"events"`
}

// ConnectionFrom converts a registry row.
func ConnectionFrom(c registry.Connection) Connection {
	streams := c.RequestedStreams
	if streams == nil {
		streams = []string{}
	}
	return Connection{
		ID: c.ID, Name: c.Name, SourceType: c.SourceType, Status: string(c.Status), StatusReason: c.StatusReason,
		CredentialID: c.CredentialID, CatalogVersion: c.CatalogVersion, RequestedStreams: streams,
		OnboardStep: c.OnboardStep, AirbyteSourceID: c.AirbyteSourceID, AirbyteConnectionID: c.AirbyteConnectionID,
		AirbyteDestinationID: c.AirbyteDestinationID, AirbyteSourceDefinitionID: c.AirbyteSourceDefinitionID,
		RequestID: c.RequestID, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
}

// SeedConnectionFrom converts a registry row to the seed's shape.
func SeedConnectionFrom(c registry.Connection) SeedConnection {
	return SeedConnection{ID: c.ID, Name: c.Name, SourceType: c.SourceType, Status: string(c.Status),
		AirbyteSourceID: c.AirbyteSourceID, AirbyteConnectionID: c.AirbyteConnectionID, CreatedAt: c.CreatedAt.UTC()}
}

// CatalogVersionFrom converts a registry row; withCatalog keeps the whole
// catalog.
func CatalogVersionFrom(v registry.CatalogVersion, withCatalog bool) CatalogVersion {
	out := CatalogVersion{
		ConnectionID: v.ConnectionID, VersionNumber: v.VersionNumber, ContentHash: v.ContentHash,
		Streams: StreamNames(v.SyncCatalog), Reason: v.Reason, RequestSource: v.RequestSource,
		RequestID: v.RequestID, CreatedAt: v.CreatedAt.UTC(),
	}
	if withCatalog {
		out.SyncCatalog = v.SyncCatalog
	}
	return out
}

// JobFrom converts a registry row.
func JobFrom(j registry.Job) Job {
	return Job{
		ID: j.ID, ConnectionID: j.ConnectionID, AirbyteJobID: j.AirbyteJobID, Status: string(j.Status),
		CatalogVersion: j.CatalogVersion, StartedAt: utcPtr(j.StartedAt), CompletedAt: utcPtr(j.CompletedAt),
		RowsSynced: j.RowsSynced, BytesSynced: j.BytesSynced, ErrorMessage: j.ErrorMessage, FailureClass: j.FailureClass,
		CreatedAt: j.CreatedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC(),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// StreamNames lists the stream names of a sync catalog in either form
// (Airbyte protocol or configuration API: both keep the name under
// streams[].stream.name), in catalog order.
func StreamNames(catalog json.RawMessage) []string {
	var c struct {
		Streams []struct {
			Stream struct {
				Name      string  `json:"name"`
				Namespace *string `json:"namespace"`
			} `json:"stream"`
		} `json:"streams"`
	}
	names := []string{}
	if json.Unmarshal(catalog, &c) != nil {
		return names
	}
	for _, s := range c.Streams {
		if s.Stream.Name != "" {
			names = append(names, s.Stream.Name)
		}
	}
	return names
}
