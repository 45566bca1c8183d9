package airbyte

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DefaultPollInterval is WaitForJob's default interval between polls.
const DefaultPollInterval = 5 * time.Second

// CreateJob starts a job (POST /jobs). It is not retried once it may have
// reached Airbyte. A sync while another job of the connection runs fails
// with a 409 that IsSyncRunning recognises; "refresh" is refused with 422.
func (c *Client) CreateJob(ctx context.Context, req JobCreateRequest) (*Job, error) {
	var j Job
	r := &request{api: APIPublic, op: "createJob", method: http.MethodPost, path: "/jobs"}
	if err := c.call(ctx, r, req, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// StartSync starts a sync of a connection (POST /jobs, jobType sync).
func (c *Client) StartSync(ctx context.Context, connectionID string) (*Job, error) {
	return c.CreateJob(ctx, JobCreateRequest{ConnectionID: connectionID, JobType: JobTypeSync})
}

// StartSyncOrGetRunning starts a sync, or returns the connection's running
// job when Airbyte says a sync is already running, so that a redelivered
// request never starts a second sync. started reports whether this call
// started the job. When the start failed in a way that may hide a started
// job (a timeout, a reset connection, 500/502/504), it looks for a running
// job before it returns the error.
func (c *Client) StartSyncOrGetRunning(ctx context.Context, connectionID string) (job *Job, started bool, err error) {
	for range 2 {
		job, err = c.StartSync(ctx, connectionID)
		if err == nil {
			return job, true, nil
		}
		if !IsSyncRunning(err) && !mayHaveStarted(err) {
			return nil, false, err
		}
		running, rerr := c.RunningJob(ctx, connectionID)
		switch {
		case rerr == nil:
			return running, false, nil
		case !errors.Is(rerr, ErrNoRunningJob):
			return nil, false, errors.Join(err, rerr)
		case !IsSyncRunning(err):
			return nil, false, err // nothing runs: the start did not happen, the caller may retry
		}
		// 409, yet no running job: it ended in between; start again once.
	}
	return nil, false, err
}

// mayHaveStarted reports a create failure after which Airbyte may have
// acted on the request.
func mayHaveStarted(err error) bool {
	if errors.Is(err, ErrCircuitOpen) || errors.Is(err, context.Canceled) || isDialError(err) {
		return false
	}
	if e, ok := AsAPIError(err); ok {
		switch e.StatusCode {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

// GetJob returns a job (GET /jobs/{id}). An unknown id fails with an error
// that IsJobNotFound recognises (Airbyte may answer 404 or 409).
func (c *Client) GetJob(ctx context.Context, jobID int64) (*Job, error) {
	var j Job
	if err := c.getPublic(ctx, "getJob", "/jobs/"+strconv.FormatInt(jobID, 10), nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

func (p JobListParams) query(limit, offset int) url.Values {
	q := url.Values{}
	if p.ConnectionID != "" {
		q.Set("connectionId", p.ConnectionID)
	}
	for _, id := range p.WorkspaceIDs {
		q.Add("workspaceIds", id)
	}
	if p.JobType != "" {
		q.Set("jobType", string(p.JobType))
	}
	if p.Status != "" {
		q.Set("status", string(p.Status))
	}
	for name, t := range map[string]time.Time{
		"createdAtStart": p.CreatedAtStart, "createdAtEnd": p.CreatedAtEnd,
		"updatedAtStart": p.UpdatedAtStart, "updatedAtEnd": p.UpdatedAtEnd,
	} {
		if !t.IsZero() {
			q.Set(name, t.UTC().Format(time.RFC3339))
		}
	}
	if p.OrderBy != "" {
		q.Set("orderBy", p.OrderBy)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	return q
}

// ListJobs returns one page of jobs (GET /jobs).
func (c *Client) ListJobs(ctx context.Context, p JobListParams) (*Page[Job], error) {
	return listPage[Job](ctx, c, "listJobs", "/jobs", p.query(p.Limit, p.Offset))
}

// Jobs iterates every job matching p from p.Offset on.
func (c *Client) Jobs(ctx context.Context, p JobListParams) iter.Seq2[Job, error] {
	return paginate(ctx, p.Limit, p.Offset, func(ctx context.Context, limit, offset int) (*Page[Job], error) {
		return listPage[Job](ctx, c, "listJobs", "/jobs", p.query(limit, offset))
	})
}

// runningStatuses are the non-terminal statuses RunningJob looks for, most
// likely first.
var runningStatuses = []JobStatus{JobStatusRunning, JobStatusPending, JobStatusIncomplete, JobStatusQueued}

// RunningJob returns the connection's newest job that has not ended
// (running, pending, incomplete or queued), or an error matching
// ErrNoRunningJob. It asks GET /jobs once per status, newest first; a server
// that does not know a status (v1.8.0 has no "queued") is skipped.
func (c *Client) RunningJob(ctx context.Context, connectionID string) (*Job, error) {
	var best *Job
	for _, st := range runningStatuses {
		page, err := c.ListJobs(ctx, JobListParams{ConnectionID: connectionID, Status: st, OrderBy: "createdAt|DESC", Limit: 5})
		if err != nil {
			if IsValidation(err) {
				continue
			}
			return nil, err
		}
		for i := range page.Data {
			j := page.Data[i]
			if j.Status.IsTerminal() || (j.ConnectionID != "" && j.ConnectionID != connectionID) {
				continue
			}
			if best == nil || cmp.Compare(j.JobID, best.JobID) > 0 {
				best = &j
			}
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: connection %s", ErrNoRunningJob, connectionID)
	}
	return best, nil
}

// CancelJob cancels a job (DELETE /jobs/{id}) and returns it as Airbyte
// reports it afterwards (normally cancelled). A job that had already ended
// is returned unchanged without error, whether Airbyte answers 200 with the
// job or 409 "Job is not currently running". An unknown id fails with an
// error that IsJobNotFound recognises.
func (c *Client) CancelJob(ctx context.Context, jobID int64) (*Job, error) {
	var j Job
	r := &request{api: APIPublic, op: "cancelJob", method: http.MethodDelete, path: "/jobs/" + strconv.FormatInt(jobID, 10), idempotent: true}
	err := c.do(ctx, r, &j)
	if err == nil {
		return &j, nil
	}
	if IsJobNotRunning(err) {
		got, gerr := c.GetJob(ctx, jobID)
		if gerr != nil {
			return nil, gerr
		}
		return got, nil
	}
	return nil, err
}

// WaitOptions tune WaitForJob.
type WaitOptions struct {
	// PollInterval is the time between polls. Default: DefaultPollInterval.
	PollInterval time.Duration
	// OnPoll, if set, sees every polled state (e.g. to extend a message's
	// ack deadline or record progress).
	OnPoll func(*Job)
}

// WaitForJob polls GET /jobs/{id} until the job is terminal and returns it.
// It ends early with the context's error, or with a poll's error once the
// client's retries for that poll are spent.
func (c *Client) WaitForJob(ctx context.Context, jobID int64, opts WaitOptions) (*Job, error) {
	interval := cmp.Or(opts.PollInterval, DefaultPollInterval)
	for {
		j, err := c.GetJob(ctx, jobID)
		if err != nil {
			return nil, err
		}
		if opts.OnPoll != nil {
			opts.OnPoll(j)
		}
		if j.Status.IsTerminal() {
			return j, nil
		}
		if err := c.sleep(ctx, interval); err != nil {
			return nil, fmt.Errorf("airbyte: wait for job %d: %w", jobID, err)
		}
	}
}
