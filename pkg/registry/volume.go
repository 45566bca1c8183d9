package registry

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// StreamStat is the records and bytes one stream moved in a job (one entry
// of the job's job_volumes row).
type StreamStat struct {
	// Stream is the stream's name, prefixed with its namespace and a dot
	// when it has one.
	Stream  string `json:"stream"`
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
}

// VolumeHistory is what judging a successful job's volume needs, read by
// SuccessRecord.
type VolumeHistory struct {
	// Policy is the connection's policy in force, nil when none was set.
	Policy *DriftPolicy
	// Records maps each of the job's streams that has a history to the
	// records it moved in the connection's last successful jobs, newest
	// first.
	Records map[string][]int64
	// Durations are the last successful jobs' durations in milliseconds,
	// newest first.
	Durations []int64
	// Open are the connection's open anomalies.
	Open []Anomaly
}

// successRecordSQL is SuccessRecord's statement: the health and volume
// writes, then, in the same snapshot (the job itself is left out of its
// history), the policy in force, the history of the job's streams ($4) as
// two parallel arrays ordered by job, newest first, then by each job's own
// order of streams, and the durations. The history is $7 jobs deep, or as
// deep as the policy's health.anomalies window or min_jobs when larger.
const successRecordSQL = `WITH h AS (` + healthSucceededSQL + `
	), v AS (
		INSERT INTO job_volumes (job_id, connection_id, completed_at, streams, records, bytes)
		VALUES ($2, $1, $3, $4, $5, $6) ON CONFLICT (job_id) DO NOTHING
	), p AS (
		SELECT ` + policyColumns + ` FROM drift_policies WHERE connection_id = $1 ORDER BY version DESC LIMIT 1
	), d AS (
		SELECT greatest($7::int, coalesce(max(greatest((policy #>> '{health,anomalies,window}')::numeric::int,
			(policy #>> '{health,anomalies,min_jobs}')::numeric::int)), 0)) AS n
		FROM p
	), hv AS (
		SELECT streams, records, row_number() OVER (ORDER BY completed_at DESC, job_id DESC) AS k FROM (
			SELECT streams, records, completed_at, job_id FROM job_volumes
			WHERE connection_id = $1 AND job_id <> $2
			ORDER BY completed_at DESC, job_id DESC LIMIT (SELECT n FROM d)) x
	), hs AS (
		SELECT array_agg(u.s ORDER BY hv.k, u.i) AS streams, array_agg(u.r ORDER BY hv.k, u.i) AS records
		FROM hv, unnest(hv.streams, hv.records) WITH ORDINALITY AS u(s, r, i)
		WHERE u.s = ANY($4)
	), hd AS (
		SELECT array_agg(ms ORDER BY completed_at DESC, id DESC) AS ms FROM (
			SELECT (extract(epoch FROM completed_at - started_at) * 1000)::bigint AS ms, completed_at, id FROM job_history
			WHERE connection_id = $1 AND status = 'succeeded' AND id <> $2 AND started_at IS NOT NULL AND completed_at IS NOT NULL
			ORDER BY completed_at DESC NULLS LAST, id DESC LIMIT (SELECT n FROM d)) y
	)
	SELECT p.*, hs.streams, hs.records, hd.ms FROM (SELECT 1) one LEFT JOIN p ON true, hs, hd`

// SuccessRecord records a successful job's end: the connection's run of
// failures ends (HealthSucceeded) and the job's per-stream volume is kept,
// one row for all its streams (the row of a job recorded before stays as it
// is). In the same round trip it reads the connection's policy, the history
// of the job's streams and of its duration (the last depth successful jobs
// other than job, or as many as the policy's health.anomalies window or
// min_jobs when larger; a stream has an entry for each of those jobs that
// synced it) and the open anomalies: two statements. Run it in the
// transaction that records the job's end.
func (q *Queries) SuccessRecord(ctx context.Context, job Job, streams []StreamStat, depth int) (VolumeHistory, error) {
	sorted := slices.SortedFunc(slices.Values(streams), func(a, b StreamStat) int { return strings.Compare(a.Stream, b.Stream) })
	names, records, bytes := make([]string, len(sorted)), make([]int64, len(sorted)), make([]int64, len(sorted))
	for i, s := range sorted {
		names[i], records[i], bytes[i] = s.Stream, s.Records, s.Bytes
	}
	completed := job.UpdatedAt
	if job.CompletedAt != nil {
		completed = *job.CompletedAt
	}
	b := &pgx.Batch{}
	b.Queue(successRecordSQL, job.ConnectionID, job.ID, completed, names, records, bytes, depth)
	b.Queue(`SELECT `+anomalyColumns+` FROM volume_anomalies WHERE connection_id = $1 AND closed_at IS NULL ORDER BY detected_at, id`,
		job.ConnectionID)
	br := q.db.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	var h VolumeHistory
	var pol struct {
		connectionID, requestSource, requestID *string
		version                                *int
		doc                                    []byte
		createdAt                              *time.Time
	}
	var histStreams []string
	var histRecords []int64
	if err := br.QueryRow().Scan(&pol.connectionID, &pol.version, &pol.doc, &pol.requestSource, &pol.requestID, &pol.createdAt,
		&histStreams, &histRecords, &h.Durations); err != nil {
		return h, translate(err)
	}
	if pol.connectionID != nil {
		h.Policy = &DriftPolicy{ConnectionID: *pol.connectionID, Version: *pol.version, Policy: pol.doc,
			RequestSource: *pol.requestSource, RequestID: *pol.requestID, CreatedAt: *pol.createdAt}
	}
	h.Records = map[string][]int64{}
	for i, s := range histStreams {
		h.Records[s] = append(h.Records[s], histRecords[i])
	}
	rows, err := br.Query()
	if err == nil {
		h.Open, err = collect(rows, scanAnomaly)
	}
	if err != nil {
		return h, translate(err)
	}
	return h, translate(br.Close())
}

// JobStats is one successful job's volume: its duration and what each of
// its streams moved.
type JobStats struct {
	JobID        string       `json:"job_id"`
	AirbyteJobID string       `json:"airbyte_job_id"`
	CompletedAt  *time.Time   `json:"completed_at,omitempty"`
	DurationMS   int64        `json:"duration_ms"`
	RowsSynced   int64        `json:"rows_synced"`
	BytesSynced  int64        `json:"bytes_synced"`
	Streams      []StreamStat `json:"streams"`
}

// StatsList lists the volume of a connection's last limit successful jobs,
// newest first, each job's streams by name.
func (q *Queries) StatsList(ctx context.Context, connectionID string, limit int) ([]JobStats, error) {
	if !validUUID(connectionID) {
		return nil, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return list(ctx, q.db, func(row pgx.Row) (JobStats, error) {
		var j JobStats
		var names []string
		var records, bytes []int64
		if err := row.Scan(&j.JobID, &j.AirbyteJobID, &j.CompletedAt, &j.DurationMS, &j.RowsSynced, &j.BytesSynced,
			&names, &records, &bytes); err != nil {
			return JobStats{}, translate(err)
		}
		j.Streams = make([]StreamStat, len(names))
		for i := range names {
			j.Streams[i] = StreamStat{Stream: names[i], Records: records[i], Bytes: bytes[i]}
		}
		return j, nil
	}, `SELECT j.id::text, j.airbyte_job_id, j.completed_at,
			coalesce((extract(epoch FROM j.completed_at - j.started_at) * 1000)::bigint, 0), j.rows_synced, j.bytes_synced,
			coalesce(v.streams, '{}'), coalesce(v.records, '{}'), coalesce(v.bytes, '{}')
		FROM (SELECT * FROM job_history WHERE connection_id = $1 AND status = 'succeeded'
			ORDER BY completed_at DESC NULLS LAST, id DESC LIMIT $2) j
		LEFT JOIN job_volumes v ON v.job_id = j.id
		ORDER BY j.completed_at DESC NULLS LAST, j.id DESC`, connectionID, limit)
}

// Anomaly is a row of volume_anomalies: a stream's volume (or a job's
// duration) outside the range its trailing history expects.
type Anomaly struct {
	ID           string `json:"id"`
	ConnectionID string `json:"connection_id"`
	// JobID and AirbyteJobID name the job that raised it.
	JobID        string `json:"job_id"`
	AirbyteJobID string `json:"airbyte_job_id"`
	// Stream is "" for a duration anomaly.
	Stream string `json:"stream,omitempty"`
	// Kind is drop, spike, zero or duration; Metric records or duration_ms.
	Kind   string `json:"kind"`
	Metric string `json:"metric"`
	// Observed is the job's value; ExpectedMin and ExpectedMax bound what
	// the history expects, from Median of HistoryJobs jobs.
	Observed    int64      `json:"observed"`
	ExpectedMin int64      `json:"expected_min"`
	ExpectedMax int64      `json:"expected_max"`
	Median      float64    `json:"median"`
	HistoryJobs int        `json:"history_jobs"`
	DetectedAt  time.Time  `json:"detected_at"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	// ClosedByJobID is the job that found the stream normal again.
	ClosedByJobID string `json:"closed_by_job_id,omitempty"`
}

const anomalyColumns = `id::text, connection_id::text, job_id::text, airbyte_job_id, stream, kind, metric,
	observed, expected_min, expected_max, median, history_jobs, detected_at, closed_at, coalesce(closed_by_job_id::text, '')`

func scanAnomaly(row pgx.Row) (Anomaly, error) {
	var a Anomaly
	err := row.Scan(&a.ID, &a.ConnectionID, &a.JobID, &a.AirbyteJobID, &a.Stream, &a.Kind, &a.Metric,
		&a.Observed, &a.ExpectedMin, &a.ExpectedMax, &a.Median, &a.HistoryJobs, &a.DetectedAt, &a.ClosedAt, &a.ClosedByJobID)
	return a, translate(err)
}

// AnomalyOpen records a as open (a new id when a.ID is empty) and returns
// it; false when its stream already has an open anomaly of its kind, which
// stays as it is.
func (q *Queries) AnomalyOpen(ctx context.Context, a Anomaly) (Anomaly, bool, error) {
	if a.ID == "" {
		a.ID = NewID()
	}
	got, err := scanAnomaly(q.db.QueryRow(ctx, `INSERT INTO volume_anomalies
			(id, connection_id, job_id, airbyte_job_id, stream, kind, metric, observed, expected_min, expected_max, median, history_jobs)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (connection_id, stream, kind) WHERE closed_at IS NULL DO NOTHING
		RETURNING `+anomalyColumns, a.ID, a.ConnectionID, a.JobID, a.AirbyteJobID, a.Stream, a.Kind, a.Metric,
		a.Observed, a.ExpectedMin, a.ExpectedMax, a.Median, a.HistoryJobs))
	if IsNotFound(err) {
		return Anomaly{}, false, nil
	}
	return got, err == nil, err
}

// AnomalyClose closes the open anomalies ids: job jobID judged their
// streams otherwise.
func (q *Queries) AnomalyClose(ctx context.Context, jobID string, ids []string) error {
	_, err := q.db.Exec(ctx, `UPDATE volume_anomalies SET closed_at = now(), closed_by_job_id = $1
		WHERE id = ANY($2::uuid[]) AND closed_at IS NULL`, jobID, ids)
	return translate(err)
}

// AnomalyListOpen lists a connection's open anomalies, oldest first.
func (q *Queries) AnomalyListOpen(ctx context.Context, connectionID string) ([]Anomaly, error) {
	if !validUUID(connectionID) {
		return nil, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	return list(ctx, q.db, scanAnomaly, `SELECT `+anomalyColumns+` FROM volume_anomalies
		WHERE connection_id = $1 AND closed_at IS NULL ORDER BY detected_at, id`, connectionID)
}
