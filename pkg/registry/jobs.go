package registry

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

const jobColumns = `id::text, connection_id::text, airbyte_job_id, status::text, catalog_version,
	started_at, completed_at, rows_synced, bytes_synced, error_message, next_check_at,
	follow_deadline, check_count, created_at, updated_at, start_requested_at, airbyte_status,
	airbyte_seen_through, failure_class, failure_type, failure_origin`

// jobFields are the scan destinations of jobColumns, in order; the status
// is read as text into status.
func jobFields(j *Job, status *string) []any {
	return []any{&j.ID, &j.ConnectionID, &j.AirbyteJobID, status, &j.CatalogVersion,
		&j.StartedAt, &j.CompletedAt, &j.RowsSynced, &j.BytesSynced, &j.ErrorMessage,
		&j.NextCheckAt, &j.FollowDeadline, &j.CheckCount, &j.CreatedAt, &j.UpdatedAt,
		&j.StartRequestedAt, &j.AirbyteStatus, &j.AirbyteSeenThrough,
		&j.FailureClass, &j.FailureType, &j.FailureOrigin}
}

func scanJob(row pgx.Row) (Job, error) {
	var j Job
	var status string
	if err := row.Scan(jobFields(&j, &status)...); err != nil {
		return Job{}, translate(err)
	}
	j.Status = JobStatus(status)
	return j, nil
}

const jobRequestColumns = `job_id::text, request_source, request_id, traceparent, attached, created_at`

func scanJobRequest(row pgx.Row) (JobRequest, error) {
	var r JobRequest
	if err := row.Scan(&r.JobID, &r.RequestSource, &r.RequestID, &r.TraceParent, &r.Attached, &r.CreatedAt); err != nil {
		return JobRequest{}, translate(err)
	}
	return r, nil
}

// JobCreateParams are the fields of a new job_history row.
type JobCreateParams struct {
	ConnectionID   string
	AirbyteJobID   string
	Status         JobStatus
	CatalogVersion int
	StartedAt      *time.Time
	NextCheckAt    *time.Time
	FollowDeadline *time.Time
}

// JobCreate records an Airbyte job for a connection. When the job is
// already recorded, the existing row is returned with created false.
func (q *Queries) JobCreate(ctx context.Context, p JobCreateParams) (j Job, created bool, err error) {
	j, err = scanJob(q.db.QueryRow(ctx, `INSERT INTO job_history
			(id, connection_id, airbyte_job_id, status, catalog_version, started_at, next_check_at, follow_deadline)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (connection_id, airbyte_job_id) DO NOTHING
		RETURNING `+jobColumns,
		NewID(), p.ConnectionID, p.AirbyteJobID, string(p.Status), p.CatalogVersion, p.StartedAt,
		p.NextCheckAt, p.FollowDeadline))
	if err == nil {
		return j, true, nil
	}
	if !IsNotFound(err) {
		return Job{}, false, err
	}
	j, err = q.JobGetByAirbyteID(ctx, p.ConnectionID, p.AirbyteJobID)
	return j, false, err
}

// JobGet returns a job by registry id.
func (q *Queries) JobGet(ctx context.Context, id string) (Job, error) {
	if !validUUID(id) {
		return Job{}, &Error{Kind: ErrNotFound, Err: errBadID(id)}
	}
	return scanJob(q.db.QueryRow(ctx, `SELECT `+jobColumns+` FROM job_history WHERE id = $1`, id))
}

// JobGetForUpdate returns a job and locks its row.
func (q *Queries) JobGetForUpdate(ctx context.Context, id string) (Job, error) {
	if !validUUID(id) {
		return Job{}, &Error{Kind: ErrNotFound, Err: errBadID(id)}
	}
	return scanJob(q.db.QueryRow(ctx, `SELECT `+jobColumns+` FROM job_history WHERE id = $1 FOR UPDATE`, id))
}

// JobGetByAirbyteID returns a connection's job by Airbyte job id.
func (q *Queries) JobGetByAirbyteID(ctx context.Context, connectionID, airbyteJobID string) (Job, error) {
	return scanJob(q.db.QueryRow(ctx, `SELECT `+jobColumns+` FROM job_history
		WHERE connection_id = $1 AND airbyte_job_id = $2`, connectionID, airbyteJobID))
}

// JobListByConnection lists a connection's jobs, newest first.
func (q *Queries) JobListByConnection(ctx context.Context, connectionID string, limit int) ([]Job, error) {
	if !validUUID(connectionID) {
		return nil, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	if limit <= 0 {
		limit = 100
	}
	return list(ctx, q.db, scanJob, `SELECT `+jobColumns+` FROM job_history
		WHERE connection_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, connectionID, limit)
}

// JobUpdateParams are the fields JobUpdate sets.
type JobUpdateParams struct {
	Status       JobStatus
	StartedAt    *time.Time
	CompletedAt  *time.Time
	RowsSynced   int64
	BytesSynced  int64
	ErrorMessage string
	// NextCheckAt schedules the next poll; nil stops following.
	NextCheckAt *time.Time
	// AirbyteStatus and SeenThrough, when set, record Airbyte's status
	// verbatim and the instant (Airbyte's clock) it was seen through.
	AirbyteStatus string
	SeenThrough   *time.Time
	// Failure is why a failed job failed.
	Failure JobFailure
}

// JobUpdate records a job's progress.
func (q *Queries) JobUpdate(ctx context.Context, id string, p JobUpdateParams) (Job, error) {
	return scanJob(q.db.QueryRow(ctx, `UPDATE job_history SET
			status = $2, started_at = coalesce($3, started_at), completed_at = $4,
			rows_synced = $5, bytes_synced = $6, error_message = $7, next_check_at = $8,
			airbyte_status = coalesce(nullif($9, ''), airbyte_status),
			airbyte_seen_through = coalesce($10, airbyte_seen_through),
			failure_class = $11, failure_type = $12, failure_origin = $13,
			check_count = check_count + 1, updated_at = now()
		WHERE id = $1 RETURNING `+jobColumns,
		id, string(p.Status), p.StartedAt, p.CompletedAt, p.RowsSynced, p.BytesSynced,
		p.ErrorMessage, p.NextCheckAt, p.AirbyteStatus, p.SeenThrough,
		p.Failure.Class, p.Failure.Type, p.Failure.Origin))
}

// JobClaimDue claims up to limit followed jobs whose next check is due at
// now, pushing their next check to now+lease so that other followers skip
// them meanwhile. Claims by concurrent followers never overlap.
func (q *Queries) JobClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Job, error) {
	return list(ctx, q.db, scanJob, `UPDATE job_history SET next_check_at = $2
		WHERE id IN (
			SELECT id FROM job_history
			WHERE status IN ('pending', 'running') AND next_check_at <= $1
			ORDER BY next_check_at LIMIT $3
			FOR UPDATE SKIP LOCKED)
		RETURNING `+jobColumns, now, now.Add(lease), limit)
}

// JobFollowedCount returns the number of jobs followed (pending or
// running), across every follower.
func (q *Queries) JobFollowedCount(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM job_history WHERE status IN ('pending', 'running')`).Scan(&n)
	return n, translate(err)
}

// JobRequestAdd links a sync request to a job. It reports false when the
// request is already linked (to this or another job).
func (q *Queries) JobRequestAdd(ctx context.Context, r JobRequest) (bool, error) {
	tag, err := q.db.Exec(ctx, `INSERT INTO job_requests (job_id, request_source, request_id, traceparent, attached)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		r.JobID, r.RequestSource, r.RequestID, r.TraceParent, r.Attached)
	if err != nil {
		return false, translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// JobRequestGet returns the job link of a sync request.
func (q *Queries) JobRequestGet(ctx context.Context, source, id string) (JobRequest, error) {
	return scanJobRequest(q.db.QueryRow(ctx, `SELECT `+jobRequestColumns+`
		FROM job_requests WHERE request_source = $1 AND request_id = $2`, source, id))
}

// JobRequestList lists the requests a job answers, in arrival order.
func (q *Queries) JobRequestList(ctx context.Context, jobID string) ([]JobRequest, error) {
	return list(ctx, q.db, scanJobRequest, `SELECT `+jobRequestColumns+`
		FROM job_requests WHERE job_id = $1 ORDER BY created_at, request_id`, jobID)
}

// JobActiveForConnection returns the connection's newest job that is still
// pending or running.
func (q *Queries) JobActiveForConnection(ctx context.Context, connectionID string) (Job, error) {
	return scanJob(q.db.QueryRow(ctx, `SELECT `+jobColumns+` FROM job_history
		WHERE connection_id = $1 AND status IN ('pending', 'running')
		ORDER BY created_at DESC LIMIT 1`, connectionID))
}
