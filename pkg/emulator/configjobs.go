package emulator

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Configuration API views of jobs: JobRead, AttemptRead, JobInfoRead.

func statsJSON(records, bytes int64) map[string]any {
	return map[string]any{
		"recordsEmitted": records, "bytesEmitted": bytes,
		"recordsCommitted": records, "bytesCommitted": bytes,
		"recordsRejected": int64(0),
	}
}

func configJobJSON(j *jobRec) map[string]any {
	rec, b := j.committed()
	enabled := make([]map[string]any, len(j.Streams))
	for i, s := range j.Streams {
		enabled[i] = map[string]any{"name": s}
	}
	var streamStats []map[string]any
	for i := range j.Attempts {
		for _, s := range j.attemptStats(&j.Attempts[i]) {
			st := statsJSON(s.Records, s.Bytes)
			st["streamName"] = s.Name
			streamStats = append(streamStats, st)
		}
	}
	out := map[string]any{
		"id":              j.ID,
		"configType":      j.configType(),
		"configId":        j.ConnectionID,
		"createdAt":       epoch(j.created.time()),
		"updatedAt":       epoch(j.updated.time()),
		"status":          j.Status,
		"aggregatedStats": statsJSON(rec, b),
		"enabledStreams":  enabled,
	}
	if streamStats != nil {
		out["streamAggregatedStats"] = streamStats
	}
	if j.started != 0 {
		out["startedAt"] = epoch(j.started.time())
	}
	return out
}

// attemptJSON renders attempt number n of j (AttemptRead).
func attemptJSON(j *jobRec, n int) map[string]any {
	a := &j.Attempts[n]
	records, bytes := j.attemptTotals(a)
	out := map[string]any{
		"id":            int64(n),
		"status":        a.status.String(),
		"createdAt":     epoch(a.created.time()),
		"updatedAt":     epoch(a.updated().time()),
		"bytesSynced":   bytes,
		"recordsSynced": records,
		"totalStats": map[string]any{
			"recordsEmitted": records, "bytesEmitted": bytes,
			"recordsCommitted": records, "bytesCommitted": bytes,
		},
	}
	if a.ended != 0 {
		out["endedAt"] = epoch(a.ended.time())
	}
	stats := j.attemptStats(a)
	streams := make([]map[string]any, 0, len(stats))
	for _, s := range stats {
		streams = append(streams, map[string]any{"streamName": s.Name, "stats": map[string]any{
			"recordsEmitted": s.Records, "bytesEmitted": s.Bytes, "recordsCommitted": s.Records, "bytesCommitted": s.Bytes,
		}})
	}
	out["streamStats"] = streams
	if f := j.attemptFailure(a); f != nil {
		out["failureSummary"] = map[string]any{"failures": []any{f}, "partialSuccess": false}
	}
	return out
}

func jobInfoJSON(j *jobRec) map[string]any {
	attempts := make([]map[string]any, len(j.Attempts))
	for i := range j.Attempts {
		attempts[i] = map[string]any{"attempt": attemptJSON(j, i), "logType": "formatted", "logs": map[string]any{"logLines": []string{}}}
	}
	return map[string]any{"job": configJobJSON(j), "attempts": attempts}
}

func (e *Emulator) configJob(id int64) (*jobRec, error) {
	e.advanceJobs(e.clock.Now())
	j, ok := e.st.jobs[id]
	if !ok {
		return nil, &apiError{kind: probNotFound, message: "Could not find job with id: " + strconv.FormatInt(id, 10),
			data: map[string]any{"resourceType": resJob, "resourceId": strconv.FormatInt(id, 10)}}
	}
	return j, nil
}

func (e *Emulator) configGetJob(r *http.Request) (int, any, error) {
	return e.onConfigJob(r, nil)
}

func (e *Emulator) configCancelJob(r *http.Request) (int, any, error) {
	return e.onConfigJob(r, e.cancel)
}

// onConfigJob serves a Configuration API call on one job ({"id": n}): do
// (when not nil) runs on the job with e.mu held, and the answer is the
// JobInfoRead after it.
func (e *Emulator) onConfigJob(r *http.Request, do func(*jobRec) error) (int, any, error) {
	var req struct {
		ID int64 `json:"id"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	return answerOne(e, func() (*jobRec, error) { return e.configJob(req.ID) }, do, jobInfoJSON)
}

// configListJobs serves jobs/list: one connection's jobs (configId), with
// their attempts.
func (e *Emulator) configListJobs(r *http.Request) (int, any, error) {
	return e.configJobList(r, false)
}

// configListJobsForWorkspaces serves jobs/list_for_workspaces, what the
// public GET /jobs is a façade over: the jobs of the given workspaces'
// connections, light (Airbyte's listJobsLight: no attempts), filtered by
// any number of statuses. Without workspaces it lists nothing, as Airbyte's
// query (workspace IN ()) does.
func (e *Emulator) configListJobsForWorkspaces(r *http.Request) (int, any, error) {
	return e.configJobList(r, true)
}

// configJobPageSize is the page size of the configuration API's job lists
// when the request gives none (JobHistoryHandler's DEFAULT_PAGE_SIZE).
const configJobPageSize = 200

func (e *Emulator) configJobList(r *http.Request, forWorkspaces bool) (int, any, error) {
	var req struct {
		ConfigTypes  []string `json:"configTypes"`
		ConfigID     string   `json:"configId"`
		WorkspaceIDs []string `json:"workspaceIds"`
		Pagination   *struct {
			PageSize  int `json:"pageSize"`
			RowOffset int `json:"rowOffset"`
		} `json:"pagination"`
		Statuses       []string `json:"statuses"`
		CreatedAtStart string   `json:"createdAtStart"`
		CreatedAtEnd   string   `json:"createdAtEnd"`
		UpdatedAtStart string   `json:"updatedAtStart"`
		UpdatedAtEnd   string   `json:"updatedAtEnd"`
		OrderByField   string   `json:"orderByField"`
		OrderByMethod  string   `json:"orderByMethod"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if len(req.ConfigTypes) == 0 {
		return 0, nil, &apiError{kind: probBadRequest, message: "configTypes is required"}
	}
	if err := checkJobStatuses("statuses", req.Statuses); err != nil {
		return 0, nil, err
	}
	f := jobFilter{connectionID: req.ConfigID, statuses: req.Statuses, orderBy: cmpOr(req.OrderByField, "createdAt"), asc: req.OrderByMethod == "ASC"}
	if forWorkspaces {
		f.connectionID = ""
		if err := checkWorkspaceIDs(req.WorkspaceIDs); err != nil {
			return 0, nil, err
		}
		f.workspaceIDs = req.WorkspaceIDs
	}
	for _, t := range req.ConfigTypes {
		switch t {
		case "sync":
			f.types = append(f.types, "sync")
		case "reset_connection", "clear":
			f.types = append(f.types, "reset")
		}
	}
	var err error
	for _, tf := range []struct {
		s   string
		dst *time.Time
	}{{req.CreatedAtStart, &f.createdStart}, {req.CreatedAtEnd, &f.createdEnd}, {req.UpdatedAtStart, &f.updatedStart}, {req.UpdatedAtEnd, &f.updatedEnd}} {
		if *tf.dst, err = parseTimeQuery(tf.s); err != nil {
			return 0, nil, err
		}
	}
	if len(f.types) == 0 || forWorkspaces && len(f.workspaceIDs) == 0 {
		return http.StatusOK, map[string]any{"jobs": []any{}, "totalJobCount": 0}, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	jobs := e.selectJobs(f)
	total := len(jobs)
	size, off := configJobPageSize, 0
	if p := req.Pagination; p != nil {
		off = min(max(p.RowOffset, 0), len(jobs))
		if p.PageSize > 0 {
			size = p.PageSize
		}
	}
	jobs = jobs[off:]
	if size < len(jobs) {
		jobs = jobs[:size]
	}
	if forWorkspaces {
		// listJobsForWorkspaces counts the page it answers.
		total = len(jobs)
	}
	out := make([]map[string]any, len(jobs))
	for i, j := range jobs {
		attempts := []map[string]any{}
		if !forWorkspaces {
			for k := range j.Attempts {
				attempts = append(attempts, attemptJSON(j, k))
			}
		}
		out[i] = map[string]any{"job": configJobJSON(j), "attempts": attempts}
	}
	return http.StatusOK, map[string]any{"jobs": out, "totalJobCount": total}, nil
}

func (e *Emulator) configStartJob(r *http.Request, jobType string) (int, any, error) {
	var req struct {
		ConnectionID string `json:"connectionId"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	j, err := e.startJob(req.ConnectionID, jobType)
	if err != nil {
		if ae := (*apiError)(nil); errors.As(err, &ae) && ae.kind == probStateConflict {
			ae.message = "Can only sync an active connection"
		}
		return 0, nil, err
	}
	return http.StatusOK, jobInfoJSON(j), nil
}

func (e *Emulator) configSync(r *http.Request) (int, any, error) { return e.configStartJob(r, "sync") }
func (e *Emulator) configReset(r *http.Request) (int, any, error) {
	return e.configStartJob(r, "reset")
}

// configConnectionStatus serves connections/status.
func (e *Emulator) configConnectionStatus(r *http.Request) (int, any, error) {
	var req struct {
		ConnectionIDs []string `json:"connectionIds"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	out := make([]map[string]any, 0, len(req.ConnectionIDs))
	for _, id := range req.ConnectionIDs {
		c, err := e.lookupConnection(id)
		if err != nil {
			return 0, nil, err
		}
		st := map[string]any{"connectionId": c.ID}
		e.advanceJobs(now)
		jobs := e.st.jobsByConn[c.ID]
		status := "pending"
		if c.Status == "inactive" {
			status = "paused"
		}
		lastSuccess := c.prunedSuccess
		for i := len(jobs) - 1; i >= 0; i-- {
			if j := jobs[i]; j.Status == jobSucceeded {
				lastSuccess = epoch(j.updated.time())
				break
			}
		}
		if len(jobs) > 0 {
			last := jobs[len(jobs)-1]
			st["lastSyncJobId"] = last.ID
			st["lastSyncJobCreatedAt"] = epoch(last.created.time())
			if n := len(last.Attempts); n > 0 {
				st["lastSyncAttemptNumber"] = n - 1
			}
			if !terminal(last.Status) {
				st["activeJob"] = configJobJSON(last)
			}
			if c.Status != "inactive" {
				switch last.Status {
				case jobRunning:
					status = "running"
				case jobQueued:
					status = "queued"
				case jobPending:
					status = "pending"
				case jobIncomplete:
					status = "incomplete"
				case jobFailed:
					status = "failed"
				case jobSucceeded:
					status = "synced"
				case jobCancelled:
					status = "synced"
					if lastSuccess == 0 {
						status = "pending"
					}
				}
			}
			if last.Status == jobFailed && len(last.Attempts) > 0 {
				if f := last.attemptFailure(&last.Attempts[len(last.Attempts)-1]); f != nil {
					st["failureReason"] = f
				}
			}
		}
		st["connectionSyncStatus"] = status
		if lastSuccess != 0 {
			st["lastSuccessfulSync"] = lastSuccess
		}
		out = append(out, st)
	}
	return http.StatusOK, out, nil
}
