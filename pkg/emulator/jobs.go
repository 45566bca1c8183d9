package emulator

import (
	"cmp"
	"container/heap"
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

// jobStatuses is the public JobStatusEnum.
var jobStatuses = []string{jobPending, jobQueued, jobRunning, jobIncomplete, jobFailed, jobSucceeded, jobCancelled}

func terminal(status string) bool {
	return status == jobFailed || status == jobSucceeded || status == jobCancelled
}

// stamp is an instant as Unix nanoseconds, 0 when unset. Jobs and attempts keep
// their times as stamps: a third of a time.Time's size.
type stamp int64

func stampOf(t time.Time) stamp {
	if t.IsZero() {
		return 0
	}
	return stamp(t.UnixNano())
}

// time returns the instant in UTC (the zero Time when unset).
func (s stamp) time() time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(s)).UTC()
}

func (s stamp) add(d time.Duration) stamp { return s + stamp(d) }

// attemptStatus is an attempt's AttemptStatus.
type attemptStatus uint8

const (
	attemptRunning attemptStatus = iota
	attemptFailed
	attemptSucceeded
)

func (s attemptStatus) String() string {
	switch s {
	case attemptFailed:
		return "failed"
	case attemptSucceeded:
		return "succeeded"
	}
	return "running"
}

// failureKind says which FailureReason a failed attempt reports; the reason
// itself is built when it is read.
type failureKind uint8

const (
	noFailure     failureKind = iota
	syncFailure               // the connector failed (FailNextJobs)
	cancelFailure             // the job was cancelled while the attempt ran
	// typedFailure and above: a failure of a given failureOrigin and
	// failureType (Faults.FailType, FailOrigin), typedFailure +
	// origin*8 + type, indexes into failureOrigins and failureTypes.
	typedFailure failureKind = 16
)

// failureOrigins and failureTypes are Airbyte's FailureReason enums.
var (
	failureOrigins = []string{"source", "destination", "replication", "persistence", "airbyte_platform",
		"normalization", "dbt", "unknown"}
	failureTypes = []string{"config_error", "system_error", "manual_cancellation", "refresh_schema",
		"heartbeat_timeout", "destination_timeout", "transient_error"}
)

// failureOf is the failure kind a failed attempt reports for the given
// failureType and failureOrigin (validated by validateFaults): the
// Salesforce request-limit failure when both are empty.
func failureOf(typ, origin string) failureKind {
	if typ == "" && origin == "" {
		return syncFailure
	}
	o := max(0, slices.Index(failureOrigins, cmp.Or(origin, "source")))
	t := max(0, slices.Index(failureTypes, cmp.Or(typ, "system_error")))
	return typedFailure + failureKind(o*8+t)
}

// typedFailureJSON is the FailureReason of a typed failure.
func typedFailureJSON(k failureKind, at time.Time, stream string) map[string]any {
	n := int(k - typedFailure)
	origin, typ := failureOrigins[min(n/8, len(failureOrigins)-1)], failureTypes[min(n%8, len(failureTypes)-1)]
	msg, retryable := "Something went wrong in the "+origin+": "+typ, true
	switch {
	case typ == "config_error" && origin == "source":
		msg, retryable = "Salesforce: invalid_grant: expired access/refresh token. The source's credentials were revoked or expired; re-authenticate the source.", false
	case typ == "config_error":
		msg, retryable = "The "+origin+" configuration is invalid: permission denied.", false
	case typ == "transient_error":
		msg = "A transient error occurred in the " + origin + ": connection reset by peer."
	case typ == "heartbeat_timeout":
		msg = "The " + origin + " stopped sending heartbeats and was considered hung."
	case typ == "destination_timeout":
		msg = "The destination did not answer within its timeout."
	case origin == "destination":
		msg = "Destination process exited with non-zero exit code 1"
	}
	return map[string]any{
		"failureOrigin":    origin,
		"failureType":      typ,
		"externalMessage":  msg,
		"retryable":        retryable,
		"timestamp":        at.UnixMilli(),
		"streamDescriptor": map[string]any{"name": stream},
	}
}

// attemptRec is one attempt, kept compact: its stats and failure reason are
// computed on read from the job (see attemptStats, attemptFailure).
type attemptRec struct {
	created stamp
	ended   stamp // 0 while running
	status  attemptStatus
	failure failureKind
}

// updated is the attempt's updatedAt: when it ended, or when it started.
func (a *attemptRec) updated() stamp {
	if a.ended != 0 {
		return a.ended
	}
	return a.created
}

type streamStat struct {
	Name           string
	Records, Bytes int64
}

type jobRec struct {
	ID           int64
	ConnectionID string
	JobType      string // public: sync|reset
	Status       string
	// Streams are the enabled streams, shared with the connection and the other
	// jobs created while its catalog kept them; never modified.
	Streams  []string
	Attempts []attemptRec
	created  stamp
	updated  stamp
	started  stamp
	// nextAt is when the next transition is due (pending/queued/incomplete).
	nextAt stamp
	// failAttempts is how many attempts fail (from FailNextJobs), and
	// failWith the failure they report.
	failAttempts int
	failWith     failureKind
	// scale holds the factors of streams whose volume a test changed
	// (SetStreamVolume), nil for the usual volume.
	scale streamScale
	// due is when the job's scheduled transition is (its live event), 0 when it
	// has none: waiting for a worker, or ended.
	due stamp
	// waiting is set while the job is on the wait list for a sync worker.
	waiting bool
}

// configType is the job's Configuration API JobConfigType.
func (j *jobRec) configType() string {
	if j.JobType == "reset" {
		return "reset_connection"
	}
	return "sync"
}

// attemptStats returns the per-stream stats of attempt a: a succeeded sync
// attempt moved a deterministic volume per enabled stream (streamVolume); any
// other attempt moved nothing.
func (j *jobRec) attemptStats(a *attemptRec) []streamStat {
	if a.status != attemptSucceeded || j.JobType != "sync" {
		return nil
	}
	out := make([]streamStat, len(j.Streams))
	for i, name := range j.Streams {
		rec, b := j.volume(name)
		out[i] = streamStat{Name: name, Records: rec, Bytes: b}
	}
	return out
}

// attemptTotals returns the records and bytes attempt a moved.
func (j *jobRec) attemptTotals(a *attemptRec) (records, bytes int64) {
	if a.status != attemptSucceeded || j.JobType != "sync" {
		return 0, 0
	}
	for _, name := range j.Streams {
		rec, b := j.volume(name)
		records += rec
		bytes += b
	}
	return records, bytes
}

// attemptFailure returns attempt a's FailureReason, nil when it has none.
func (j *jobRec) attemptFailure(a *attemptRec) map[string]any {
	stream := "Account"
	if len(j.Streams) > 0 {
		stream = j.Streams[0]
	}
	switch a.failure {
	case noFailure:
		return nil
	case syncFailure:
		return salesforceSyncFailure(a.ended.time(), stream)
	case cancelFailure:
		return map[string]any{
			"failureOrigin":   "airbyte_platform",
			"failureType":     "manual_cancellation",
			"externalMessage": "The sync was cancelled.",
			"internalMessage": "Setting attempt to FAILED because the job was cancelled",
			"retryable":       false,
			"timestamp":       a.ended.time().UnixMilli(),
		}
	}
	return typedFailureJSON(a.failure, a.ended.time(), stream)
}

// newJob creates a job for c. Callers hold e.mu.
func (e *Emulator) newJob(c *connectionRec, jobType string) *jobRec {
	now := stampOf(e.clock.Now())
	j := &jobRec{
		ID:           e.st.nextJobID,
		ConnectionID: c.ID,
		JobType:      jobType,
		Status:       jobPending,
		Streams:      c.streamNames(),
		created:      now,
		updated:      now,
		nextAt:       now.add(e.cfg.JobPending),
	}
	if jobType != "reset" {
		j.failAttempts, j.failWith = e.faults.takeJobFailure(e.cfg.MaxAttempts)
		j.scale = e.takeVolume(c.ID)
	}
	e.st.nextJobID++
	e.st.jobs[j.ID] = j
	e.st.jobsByConn[c.ID] = append(e.st.jobsByConn[c.ID], j)
	e.st.active[c.ID] = j
	e.schedule(j, j.nextAt)
	e.touchJob(j)
	return j
}

// Job slots. Every non-terminal job has either one transition due at a known
// time (an entry in the state's event heap: pending or queued ends, a failed
// attempt's retry delay ends, a running attempt ends) or is waiting for a sync
// worker (the FIFO wait list). advanceJobs replays the due transitions in time
// order, so that when a running attempt ends at t its worker goes to the job
// that has waited longest, which starts at t. Transition times come from the
// jobs' own timelines (creation + configured durations, slot hand-overs), never
// from when they are read, so outcomes do not depend on polling.

// jobEvent is a job transition due at `at`. An event is stale (skipped) when the
// job has ended or was rescheduled since: j.due != at.
type jobEvent struct {
	at stamp
	j  *jobRec
}

// jobEvents is a min-heap of events by (at, job id).
type jobEvents []jobEvent

func (h jobEvents) Len() int { return len(h) }
func (h jobEvents) Less(a, b int) bool {
	if h[a].at != h[b].at {
		return h[a].at < h[b].at
	}
	return h[a].j.ID < h[b].j.ID
}
func (h jobEvents) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *jobEvents) Push(x any)   { *h = append(*h, x.(jobEvent)) }
func (h *jobEvents) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = jobEvent{}
	*h = old[:n-1]
	return x
}

// schedule makes j's next transition due at `at`. Callers hold e.mu.
func (e *Emulator) schedule(j *jobRec, at stamp) {
	j.due = at
	heap.Push(&e.st.events, jobEvent{at: at, j: j})
}

// slotFree reports whether a sync worker is free (Config.MaxSyncWorkers).
func (e *Emulator) slotFree() bool {
	return e.cfg.MaxSyncWorkers <= 0 || e.st.runningJobs < e.cfg.MaxSyncWorkers
}

// advanceJobs replays every job transition due up to now. Callers hold e.mu.
func (e *Emulator) advanceJobs(now time.Time) {
	t := stampOf(now)
	for len(e.st.events) > 0 && e.st.events[0].at <= t {
		ev := heap.Pop(&e.st.events).(jobEvent)
		j := ev.j
		if terminal(j.Status) || j.due != ev.at {
			continue
		}
		j.due = 0
		e.step(j, ev.at)
	}
}

// step applies j's transition due at `at`.
func (e *Emulator) step(j *jobRec, at stamp) {
	e.touchJob(j)
	switch j.Status {
	case jobPending:
		if e.cfg.JobQueued > 0 {
			j.Status, j.updated = jobQueued, at
			j.nextAt = at.add(e.cfg.JobQueued)
			e.schedule(j, j.nextAt)
			return
		}
		e.ready(j, at)
	case jobQueued, jobIncomplete:
		e.ready(j, at)
	case jobRunning:
		e.st.runningJobs--
		if n := len(j.Attempts); n-1 < j.failAttempts {
			e.failAttempt(j, at)
		} else {
			e.succeedAttempt(j, at)
		}
		if j.Status == jobIncomplete {
			e.schedule(j, j.nextAt)
		}
		e.dispatch(at)
	}
}

// ready starts j's next attempt at `at` if a sync worker is free, else puts j
// at the end of the wait list (it keeps its status: pending, queued or
// incomplete).
func (e *Emulator) ready(j *jobRec, at stamp) {
	if e.slotFree() {
		e.run(j, at)
		return
	}
	j.waiting = true
	e.touchJob(j)
	e.st.waitList = append(e.st.waitList, j)
	e.st.waitingJobs++
	e.st.maxWaitingJobs = max(e.st.maxWaitingJobs, e.st.waitingJobs)
}

// run starts j's next attempt at `at` on a free worker.
func (e *Emulator) run(j *jobRec, at stamp) {
	e.touchJob(j)
	e.startAttempt(j, at)
	if j.Status != jobRunning {
		return // the pre-sync check cancelled it
	}
	e.st.runningJobs++
	e.st.maxRunningJobs = max(e.st.maxRunningJobs, e.st.runningJobs)
	e.schedule(j, at.add(e.cfg.JobRunning))
}

// dispatch hands free workers to the jobs that waited longest, starting them
// at `at`.
func (e *Emulator) dispatch(at stamp) {
	for e.slotFree() && len(e.st.waitList) > 0 {
		j := e.st.waitList[0]
		e.st.waitList[0] = nil
		e.st.waitList = e.st.waitList[1:]
		if !j.waiting {
			continue // cancelled while waiting
		}
		j.waiting = false
		e.st.waitingJobs--
		e.run(j, at)
	}
	if len(e.st.waitList) == 0 {
		e.st.waitList = nil // release the backing array
	}
}

// finish ends j with status at `at`, releasing its wait-list place.
func (e *Emulator) finish(j *jobRec, status string, at stamp) {
	e.touchJob(j)
	j.Status, j.updated = status, at
	if j.waiting {
		j.waiting = false
		e.st.waitingJobs--
	}
	if e.st.active[j.ConnectionID] == j {
		delete(e.st.active, j.ConnectionID)
	}
	e.pruneJobs(j.ConnectionID)
}

// pruneJobs bounds a connection's job history to the newest Config.JobRetention
// terminal jobs (non-terminal jobs always stay). A dropped job is unknown from
// then on, as in an Airbyte whose job history was cleaned up. Callers hold e.mu.
func (e *Emulator) pruneJobs(connectionID string) {
	keep := e.cfg.JobRetention
	if keep < 0 {
		return
	}
	list := e.st.jobsByConn[connectionID]
	done := 0
	for _, j := range list {
		if terminal(j.Status) {
			done++
		}
	}
	drop := done - keep
	if drop <= 0 {
		return
	}
	c := e.st.connections[connectionID]
	// Jobs are oldest first: the oldest terminal jobs go.
	e.st.jobsByConn[connectionID] = slices.DeleteFunc(list, func(j *jobRec) bool {
		if drop == 0 || !terminal(j.Status) {
			return false
		}
		drop--
		delete(e.st.jobs, j.ID)
		e.jobGone(j)
		e.st.prunedJobs++
		if j.Status == jobSucceeded && c != nil {
			c.prunedSuccess = epoch(j.updated.time())
			e.touchConnection(c)
		}
		return true
	})
}

// startAttempt begins the next attempt at `at`. A sync attempt first runs the
// pre-sync schema check (SyncWorkflowV2: discover, postprocess); if that leaves
// the connection inactive the job ends cancelled without syncing.
func (e *Emulator) startAttempt(j *jobRec, at stamp) {
	c := e.st.connections[j.ConnectionID]
	if j.JobType == "sync" && c != nil {
		e.preSyncSchemaCheck(c, at.time())
		if c.Status != "active" {
			e.finish(j, jobCancelled, at)
			return
		}
	}
	if j.Attempts == nil {
		j.Attempts = make([]attemptRec, 0, 1) // most jobs need one
	}
	j.Attempts = append(j.Attempts, attemptRec{created: at})
	j.Status, j.updated = jobRunning, at
	if j.started == 0 {
		j.started = at
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
		e.touchSource(s)
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

// failAttempt fails the running attempt at `at`.
func (e *Emulator) failAttempt(j *jobRec, at stamp) {
	a := &j.Attempts[len(j.Attempts)-1]
	a.status, a.ended, a.failure = attemptFailed, at, cmp.Or(j.failWith, syncFailure)
	if len(j.Attempts) >= e.cfg.MaxAttempts {
		e.finish(j, jobFailed, at)
		return
	}
	j.Status, j.updated = jobIncomplete, at
	j.nextAt = at.add(e.cfg.JobRetryDelay)
}

// succeedAttempt ends the running attempt at `at` and the job with it.
func (e *Emulator) succeedAttempt(j *jobRec, at stamp) {
	a := &j.Attempts[len(j.Attempts)-1]
	a.status, a.ended = attemptSucceeded, at
	e.finish(j, jobSucceeded, at)
}

// streamVolume is a deterministic, plausible row and byte count for one stream of
// one job: each stream has its own usual volume (50 to 999 records, 380 to 639
// bytes each), which varies by up to 10 % from job to job, as a steady source's
// incremental syncs do.
func streamVolume(jobID int64, stream string) (int64, int64) {
	h := fnv.New64a()
	h.Write([]byte(stream))
	base := h.Sum64()
	h.Write([]byte(strconv.FormatInt(jobID, 10)))
	v := h.Sum64()
	records := int64(50 + base%950)
	records += records * (int64(v%21) - 10) / 100
	return records, records * int64(380+(base>>20)%260)
}

// cancelLocked cancels a non-terminal job at `at`: the running attempt fails with
// a manual_cancellation failure. Callers hold e.mu.
func (e *Emulator) cancelLocked(j *jobRec, at time.Time) {
	e.advanceJobs(at)
	if terminal(j.Status) {
		return
	}
	t := stampOf(at)
	wasRunning := j.Status == jobRunning
	if n := len(j.Attempts); n > 0 {
		if a := &j.Attempts[n-1]; a.status == attemptRunning {
			a.status, a.ended, a.failure = attemptFailed, t, cancelFailure
		}
	}
	e.finish(j, jobCancelled, t)
	if wasRunning {
		e.st.runningJobs--
		e.dispatch(t)
	}
}

// committed returns the job's committed records and bytes (all attempts).
func (j *jobRec) committed() (records, bytes int64) {
	for i := range j.Attempts {
		r, b := j.attemptTotals(&j.Attempts[i])
		records += r
		bytes += b
	}
	return
}

// publicJobJSON renders JobResponse (JobResponseMapper).
func publicJobJSON(j *jobRec) map[string]any {
	out := map[string]any{
		"jobId":        j.ID,
		"status":       j.Status,
		"jobType":      j.JobType,
		"startTime":    isoTime(j.created.time()),
		"connectionId": j.ConnectionID,
	}
	if terminal(j.Status) {
		out["lastUpdatedAt"] = isoTime(j.updated.time())
	}
	if j.Status != jobPending {
		out["duration"] = isoDuration(time.Duration(j.updated - j.created))
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
	e.advanceJobs(now)
	if running, ok := e.st.active[c.ID]; ok {
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
	return answerOne(e, func() (*jobRec, error) { return e.startJob(req.ConnectionID, req.JobType) }, nil, publicJobJSON)
}

// lookupJob returns the advanced job. An unknown id (never created, or dropped from
// the job history) is Airbyte's "Could not find job with id" → 409 "Job is not
// currently running".
func (e *Emulator) lookupJob(idStr string) (*jobRec, error) {
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil {
		return nil, problem(probBadRequest, "jobId must be an integer")
	}
	e.advanceJobs(e.clock.Now())
	j, ok := e.st.jobs[id]
	if !ok {
		return nil, &apiError{kind: probStateConflict, message: "Job is not currently running"}
	}
	return j, nil
}

func (e *Emulator) getJob(r *http.Request) (int, any, error) {
	return answerOne(e, func() (*jobRec, error) { return e.lookupJob(r.PathValue("jobId")) }, nil, publicJobJSON)
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
	return answerOne(e, func() (*jobRec, error) { return e.lookupJob(r.PathValue("jobId")) }, e.cancel, publicJobJSON)
}

// checkJobStatuses answers Airbyte's 400 for a status (of the parameter
// param) outside its JobStatus enum.
func checkJobStatuses(param string, statuses []string) error {
	for _, st := range statuses {
		if !slices.Contains(jobStatuses, st) {
			return problem(probBadRequest, "Invalid value for "+param+": "+st)
		}
	}
	return nil
}

// checkWorkspaceIDs answers Airbyte's 400 for a workspace id that is not a
// UUID.
func checkWorkspaceIDs(ids []string) error {
	for _, id := range ids {
		if !validUUID(id) {
			return problem(probBadRequest, "Invalid UUID in workspaceIds: "+id)
		}
	}
	return nil
}

// jobFilter selects jobs for the public and config lists.
type jobFilter struct {
	connectionID string
	workspaceIDs []string // the jobs of these workspaces' connections (public list)
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
	created, updated := j.created.time(), j.updated.time()
	if !f.createdStart.IsZero() && created.Before(f.createdStart) ||
		!f.createdEnd.IsZero() && created.After(f.createdEnd) ||
		!f.updatedStart.IsZero() && updated.Before(f.updatedStart) ||
		!f.updatedEnd.IsZero() && updated.After(f.updatedEnd) {
		return false
	}
	return true
}

// allJobs returns every job in the history, in creation (id) order. Callers
// hold e.mu.
func (e *Emulator) allJobs() []*jobRec {
	out := make([]*jobRec, 0, len(e.st.jobs))
	for _, j := range e.st.jobs {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b *jobRec) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// selectJobs returns the matching, advanced jobs in order. With a connection
// filter only that connection's jobs are visited. Callers hold e.mu.
func (e *Emulator) selectJobs(f jobFilter) []*jobRec {
	// Advancing first: a job that finishes may drop older ones from the history.
	e.advanceJobs(e.clock.Now())
	jobs := e.st.jobsByConn[f.connectionID]
	if f.connectionID == "" {
		jobs = e.allJobs()
	}
	out := make([]*jobRec, 0, len(jobs))
	for _, j := range jobs {
		if len(f.workspaceIDs) > 0 {
			c := e.st.connections[j.ConnectionID]
			if c == nil || !slices.Contains(f.workspaceIDs, c.WorkspaceID) {
				continue
			}
		}
		if f.match(j) {
			out = append(out, j)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		ta, tb := out[a].created, out[b].created
		if f.orderBy == "updatedAt" {
			ta, tb = out[a].updated, out[b].updated
		}
		if ta == tb {
			if f.asc {
				return out[a].ID < out[b].ID
			}
			return out[a].ID > out[b].ID
		}
		if f.asc {
			return ta < tb
		}
		return ta > tb
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
		if err := checkJobStatuses("status", f.statuses); err != nil {
			return 0, nil, err
		}
	}
	// Without a connection, Airbyte lists the jobs of the given workspaces (all
	// the caller's when none are given: here, the one workspace).
	if f.connectionID == "" {
		f.workspaceIDs = multiQuery(q, "workspaceIds")
		if err := checkWorkspaceIDs(f.workspaceIDs); err != nil {
			return 0, nil, err
		}
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
	if len(f.workspaceIDs) > 0 {
		// JobsResponseMapper keeps jobType, connectionId and workspaceIds in the
		// links, not status, the time bounds or orderBy.
		filters = append(filters, [2]string{"workspaceIds", strings.Join(f.workspaceIDs, ",")})
	}
	return http.StatusOK, paginate(e, r, "jobs", items, p, filters), nil
}
