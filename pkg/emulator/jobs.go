package emulator

import (
	"hash/fnv"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Job states (JobStatus) and attempt states.
const (
	jobPending    = "pending"
	jobQueued     = "queued"
	jobRunning    = "running"
	jobIncomplete = "incomplete"
	jobFailed     = "failed"
	jobSucceeded  = "succeeded"
	jobCancelled  = "cancelled"
)

func terminal(status string) bool {
	return status == jobFailed || status == jobSucceeded || status == jobCancelled
}

type attemptRec struct {
	Number    int
	Status    string // running|failed|succeeded
	CreatedAt time.Time
	UpdatedAt time.Time
	EndedAt   time.Time
	Records   int64
	Bytes     int64
	Streams   []streamStat
	Failure   map[string]any // FailureReason, nil when none
}

type streamStat struct {
	Name           string
	Records, Bytes int64
}

type jobRec struct {
	ID           int64
	ConnectionID string
	JobType      string // public: sync|reset
	ConfigType   string // config: sync|reset_connection
	Status       string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	StartedAt    time.Time
	Attempts     []*attemptRec
	Streams      []string // enabled streams
	// failAttempts is how many attempts fail (from FailNextJobs).
	failAttempts int
	// nextAt is when the next transition is due (pending/queued/incomplete).
	nextAt time.Time
}

// newJob creates a job for c. Callers hold e.mu.
func (e *Emulator) newJob(c *connectionRec, jobType string) *jobRec {
	now := e.clock.Now()
	j := &jobRec{
		ID:           e.st.nextJobID,
		ConnectionID: c.ID,
		JobType:      jobType,
		ConfigType:   "sync",
		Status:       jobPending,
		CreatedAt:    now,
		UpdatedAt:    now,
		nextAt:       now.Add(e.cfg.JobPending),
	}
	if jobType == "reset" {
		j.ConfigType = "reset_connection"
	} else {
		j.failAttempts = e.faults.takeJobFailure(e.cfg.MaxAttempts)
	}
	for _, sc := range c.Catalog {
		j.Streams = append(j.Streams, sc.Stream.Name)
	}
	e.st.nextJobID++
	e.st.jobs[j.ID] = j
	e.st.jobOrder = append(e.st.jobOrder, j.ID)
	e.st.jobsByConn[c.ID] = append(e.st.jobsByConn[c.ID], j.ID)
	e.st.active[c.ID] = j.ID
	return j
}

// advance moves j through its states up to now. Transition times come from the
// job's own timeline (creation + configured durations), never from when it is
// read, so the outcome does not depend on polling. Callers hold e.mu.
func (e *Emulator) advance(j *jobRec, now time.Time) {
	for !terminal(j.Status) {
		switch j.Status {
		case jobPending:
			if now.Before(j.nextAt) {
				return
			}
			if e.cfg.JobQueued > 0 {
				j.Status, j.UpdatedAt = jobQueued, j.nextAt
				j.nextAt = j.nextAt.Add(e.cfg.JobQueued)
				continue
			}
			e.startAttempt(j, j.nextAt)
		case jobQueued, jobIncomplete:
			if now.Before(j.nextAt) {
				return
			}
			e.startAttempt(j, j.nextAt)
		case jobRunning:
			a := j.Attempts[len(j.Attempts)-1]
			end := a.CreatedAt.Add(e.cfg.JobRunning)
			if now.Before(end) {
				return
			}
			if a.Number < j.failAttempts {
				e.failAttempt(j, a, end)
			} else {
				e.succeedAttempt(j, a, end)
			}
		}
	}
}

func (e *Emulator) finish(j *jobRec, status string, at time.Time) {
	j.Status, j.UpdatedAt = status, at
	if e.st.active[j.ConnectionID] == j.ID {
		delete(e.st.active, j.ConnectionID)
	}
}

// startAttempt begins the next attempt at `at`. A sync attempt first runs the
// pre-sync schema check (SyncWorkflowV2: discover, postprocess); if that leaves
// the connection inactive the job ends cancelled without syncing.
func (e *Emulator) startAttempt(j *jobRec, at time.Time) {
	c := e.st.connections[j.ConnectionID]
	if j.ConfigType == "sync" && c != nil {
		e.preSyncSchemaCheck(c, at)
		if c.Status != "active" {
			e.finish(j, jobCancelled, at)
			return
		}
	}
	a := &attemptRec{Number: len(j.Attempts), Status: "running", CreatedAt: at, UpdatedAt: at}
	j.Attempts = append(j.Attempts, a)
	j.Status, j.UpdatedAt = jobRunning, at
	if j.StartedAt.IsZero() {
		j.StartedAt = at
	}
}

// preSyncSchemaCheck runs the automatic discover, at most once per source and
// DiscoverWindow bucket, and postprocesses the result for c.
func (e *Emulator) preSyncSchemaCheck(c *connectionRec, at time.Time) {
	s, ok := e.st.sources[c.SourceID]
	if !ok || s.Deleted {
		return
	}
	var ac *actorCatalog
	bucket := at.UnixNano()
	if w := e.cfg.DiscoverWindow; w > 0 {
		bucket = at.Truncate(w).UnixNano()
	}
	if s.autoCatalog != "" && s.autoBucket == bucket {
		ac = e.st.catalogs[s.autoCatalog]
	} else {
		ac = e.freshDiscover(s, at)
		s.autoBucket, s.autoCatalog = bucket, ac.ID
	}
	e.postprocessDiscovered(c, ac)
}

// salesforceSyncFailure is what a failed Salesforce sync attempt reports.
func salesforceSyncFailure(at time.Time, stream string) map[string]any {
	return map[string]any{
		"failureOrigin":    "source",
		"failureType":      "system_error",
		"externalMessage":  "Salesforce API request limit exceeded: REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.",
		"internalMessage":  "requests.exceptions.HTTPError: 403 Client Error: Forbidden for url: https://acme.my.salesforce.com/services/data/v57.0/queryAll?q=SELECT+Id%2C+SystemModstamp+FROM+" + stream,
		"stacktrace":       "Traceback (most recent call last):\n  File \"/airbyte/integration_code/source_salesforce/streams.py\", line 361, in read_records\nrequests.exceptions.HTTPError: 403 Client Error: Forbidden",
		"retryable":        true,
		"timestamp":        at.UnixMilli(),
		"fromTraceMessage": true,
		"streamDescriptor": map[string]any{"name": stream},
	}
}

func (e *Emulator) failAttempt(j *jobRec, a *attemptRec, at time.Time) {
	stream := "Account"
	if len(j.Streams) > 0 {
		stream = j.Streams[0]
	}
	a.Status, a.UpdatedAt, a.EndedAt = "failed", at, at
	a.Failure = salesforceSyncFailure(at, stream)
	if len(j.Attempts) >= e.cfg.MaxAttempts {
		e.finish(j, jobFailed, at)
		return
	}
	j.Status, j.UpdatedAt = jobIncomplete, at
	j.nextAt = at.Add(e.cfg.JobRetryDelay)
}

func (e *Emulator) succeedAttempt(j *jobRec, a *attemptRec, at time.Time) {
	a.Status, a.UpdatedAt, a.EndedAt = "succeeded", at, at
	if j.ConfigType == "sync" {
		for _, name := range j.Streams {
			rec, b := streamVolume(j.ID, name)
			a.Streams = append(a.Streams, streamStat{Name: name, Records: rec, Bytes: b})
			a.Records += rec
			a.Bytes += b
		}
	}
	e.finish(j, jobSucceeded, at)
}

// streamVolume is a deterministic, plausible row and byte count for one stream of
// one job.
func streamVolume(jobID int64, stream string) (int64, int64) {
	h := fnv.New64a()
	h.Write([]byte(stream))
	h.Write([]byte(strconv.FormatInt(jobID, 10)))
	v := h.Sum64()
	records := int64(50 + v%950)
	return records, records * int64(380+(v>>20)%260)
}

// cancelLocked cancels a non-terminal job at `at`: the running attempt fails with
// a manual_cancellation failure. Callers hold e.mu.
func (e *Emulator) cancelLocked(j *jobRec, at time.Time) {
	if len(j.Attempts) > 0 {
		if a := j.Attempts[len(j.Attempts)-1]; a.Status == "running" {
			a.Status, a.UpdatedAt, a.EndedAt = "failed", at, at
			a.Failure = map[string]any{
				"failureOrigin":   "airbyte_platform",
				"failureType":     "manual_cancellation",
				"externalMessage": "The sync was cancelled.",
				"internalMessage": "Setting attempt to FAILED because the job was cancelled",
				"retryable":       false,
				"timestamp":       at.UnixMilli(),
			}
		}
	}
	e.finish(j, jobCancelled, at)
}

// committed returns the job's committed records and bytes (all attempts).
func (j *jobRec) committed() (records, bytes int64) {
	for _, a := range j.Attempts {
		records += a.Records
		bytes += a.Bytes
	}
	return
}

// publicJobJSON renders JobResponse (JobResponseMapper).
func publicJobJSON(j *jobRec) map[string]any {
	out := map[string]any{
		"jobId":        j.ID,
		"status":       j.Status,
		"jobType":      j.JobType,
		"startTime":    isoTime(j.CreatedAt),
		"connectionId": j.ConnectionID,
	}
	if terminal(j.Status) {
		out["lastUpdatedAt"] = isoTime(j.UpdatedAt)
	}
	if j.Status != jobPending {
		out["duration"] = isoDuration(j.UpdatedAt.Sub(j.CreatedAt))
	}
	rec, b := j.committed()
	out["bytesSynced"], out["rowsSynced"] = b, rec
	return out
}

// syncConflict is the answer to a sync while one runs (TemporalClient WORKFLOW_RUNNING).
func syncConflict(connectionID string) *apiError {
	return &apiError{kind: probTryAgainLater, message: "A sync is already running for: " + connectionID}
}

// startJob is the shared logic of POST /jobs and connections/sync|reset. Callers hold e.mu.
func (e *Emulator) startJob(connectionID, jobType string) (*jobRec, error) {
	c, err := e.lookupConnection(connectionID)
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	if id, ok := e.st.active[c.ID]; ok {
		running := e.st.jobs[id]
		e.advance(running, now)
		if !terminal(running.Status) {
			if jobType == "sync" {
				return nil, syncConflict(c.ID)
			}
			// reset/clear cancel the running job and start immediately.
			e.cancelLocked(running, now)
		}
	}
	if jobType == "sync" && c.Status != "active" {
		return nil, &apiError{kind: probStateConflict, message: "Could not fulfill request"}
	}
	return e.newJob(c, jobType), nil
}

func (e *Emulator) createJob(r *http.Request) (int, any, error) {
	var req struct {
		ConnectionID string `json:"connectionId"`
		JobType      string `json:"jobType"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	switch req.JobType {
	case "sync", "reset":
	case "clear":
		req.JobType = "reset"
	case "refresh":
		return 0, nil, problem(probUnprocessable, "Refreshes are not supported in the public API")
	default:
		return 0, nil, problem(probBadRequest, "jobType must be one of [sync, reset, refresh, clear]")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	j, err := e.startJob(req.ConnectionID, req.JobType)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, publicJobJSON(j), nil
}

// lookupJob returns the advanced job. An unknown id is Airbyte's
// "Could not find job with id" → 409 "Job is not currently running".
func (e *Emulator) lookupJob(idStr string) (*jobRec, error) {
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil {
		return nil, problem(probBadRequest, "jobId must be an integer")
	}
	j, ok := e.st.jobs[id]
	if !ok {
		return nil, &apiError{kind: probStateConflict, message: "Job is not currently running"}
	}
	e.advance(j, e.clock.Now())
	return j, nil
}

func (e *Emulator) getJob(r *http.Request) (int, any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	j, err := e.lookupJob(r.PathValue("jobId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, publicJobJSON(j), nil
}

// cancel implements DELETE /jobs/{id} and jobs/cancel. Callers hold e.mu.
func (e *Emulator) cancel(j *jobRec) error {
	if terminal(j.Status) {
		if e.cfg.CancelTerminalConflict {
			return &apiError{kind: probStateConflict, message: "Job is not currently running"}
		}
		return nil
	}
	e.cancelLocked(j, e.clock.Now())
	return nil
}

func (e *Emulator) cancelJob(r *http.Request) (int, any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	j, err := e.lookupJob(r.PathValue("jobId"))
	if err != nil {
		return 0, nil, err
	}
	if err := e.cancel(j); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, publicJobJSON(j), nil
}

// jobFilter selects jobs for the public and config lists.
type jobFilter struct {
	connectionID string
	types        []string // public job types
	statuses     []string
	createdStart time.Time
	createdEnd   time.Time
	updatedStart time.Time
	updatedEnd   time.Time
	orderBy      string // createdAt|updatedAt
	asc          bool
}

func (f jobFilter) match(j *jobRec) bool {
	if len(f.types) > 0 && !slices.Contains(f.types, j.JobType) {
		return false
	}
	if len(f.statuses) > 0 && !slices.Contains(f.statuses, j.Status) {
		return false
	}
	if !f.createdStart.IsZero() && j.CreatedAt.Before(f.createdStart) ||
		!f.createdEnd.IsZero() && j.CreatedAt.After(f.createdEnd) ||
		!f.updatedStart.IsZero() && j.UpdatedAt.Before(f.updatedStart) ||
		!f.updatedEnd.IsZero() && j.UpdatedAt.After(f.updatedEnd) {
		return false
	}
	return true
}

// selectJobs returns the matching, advanced jobs in order. With a connection
// filter only that connection's jobs are visited. Callers hold e.mu.
func (e *Emulator) selectJobs(f jobFilter) []*jobRec {
	ids := e.st.jobOrder
	if f.connectionID != "" {
		ids = e.st.jobsByConn[f.connectionID]
	}
	now := e.clock.Now()
	out := make([]*jobRec, 0, len(ids))
	for _, id := range ids {
		j := e.st.jobs[id]
		e.advance(j, now)
		if f.match(j) {
			out = append(out, j)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		ta, tb := out[a].CreatedAt, out[b].CreatedAt
		if f.orderBy == "updatedAt" {
			ta, tb = out[a].UpdatedAt, out[b].UpdatedAt
		}
		if ta.Equal(tb) {
			if f.asc {
				return out[a].ID < out[b].ID
			}
			return out[a].ID > out[b].ID
		}
		if f.asc {
			return ta.Before(tb)
		}
		return ta.After(tb)
	})
	return out
}

func parseTimeQuery(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, problem(probBadRequest, "Invalid date-time: "+s)
	}
	return t, nil
}

func (e *Emulator) listJobs(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return 0, nil, err
	}
	f := jobFilter{connectionID: q.Get("connectionId"), orderBy: "createdAt"}
	if t := q.Get("jobType"); t != "" {
		if t == "clear" {
			t = "reset"
		}
		f.types = []string{t}
	}
	if s := q.Get("status"); s != "" {
		f.statuses = []string{s}
	}
	for name, dst := range map[string]*time.Time{"createdAtStart": &f.createdStart, "createdAtEnd": &f.createdEnd, "updatedAtStart": &f.updatedStart, "updatedAtEnd": &f.updatedEnd} {
		if *dst, err = parseTimeQuery(q.Get(name)); err != nil {
			return 0, nil, err
		}
	}
	if ob := q.Get("orderBy"); ob != "" {
		field, dir, _ := strings.Cut(ob, "|")
		if (field != "createdAt" && field != "updatedAt") || (dir != "ASC" && dir != "DESC") {
			return 0, nil, problem(probBadRequest, "Invalid orderBy: "+ob+". Expected <createdAt|updatedAt>|<ASC|DESC>")
		}
		f.orderBy, f.asc = field, dir == "ASC"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	jobs := e.selectJobs(f)
	items := make([]map[string]any, len(jobs))
	for i, j := range jobs {
		items[i] = publicJobJSON(j)
	}
	var filters [][2]string
	if f.connectionID != "" {
		filters = append(filters, [2]string{"connectionId", f.connectionID})
	}
	if len(f.types) > 0 {
		filters = append(filters, [2]string{"jobType", f.types[0]})
	}
	return http.StatusOK, paginate(e, r, "jobs", items, p, filters), nil
}
