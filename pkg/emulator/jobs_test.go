package emulator_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

func TestJobLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobPending: 10 * time.Second, JobRunning: 60 * time.Second})
	conn := b.createConnection(t, b.createSource(t), nil)

	id := b.startSync(t, conn)
	j := b.job(t, id)
	require.Equal(t, "pending", j["status"])
	require.Equal(t, "sync", j["jobType"])
	require.Equal(t, "2025-09-16T20:13:24Z", j["startTime"])
	require.NotContains(t, j, "duration", "duration is absent while pending")
	require.NotContains(t, j, "lastUpdatedAt", "lastUpdatedAt is set only when terminal")

	b.clock.Advance(9 * time.Second)
	require.Equal(t, "pending", b.job(t, id)["status"])
	b.clock.Advance(time.Second)
	j = b.job(t, id)
	require.Equal(t, "running", j["status"])
	require.Equal(t, "PT10S", j["duration"])
	require.NotContains(t, j, "lastUpdatedAt")

	b.clock.Advance(10 * time.Minute) // reads late: transitions keep their own times
	j = b.job(t, id)
	require.Equal(t, "succeeded", j["status"])
	require.Equal(t, "PT1M10S", j["duration"])
	require.Equal(t, "2025-09-16T20:14:34Z", j["lastUpdatedAt"])
	require.Greater(t, j["rowsSynced"].(float64), 0.0)
	require.Greater(t, j["bytesSynced"].(float64), j["rowsSynced"].(float64))

	info := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/get", map[string]any{"id": id})
	job := info["job"].(map[string]any)
	require.EqualValues(t, t0.Unix(), job["createdAt"], "config timestamps are epoch seconds")
	require.EqualValues(t, t0.Add(10*time.Second).Unix(), job["startedAt"])
	require.EqualValues(t, t0.Add(70*time.Second).Unix(), job["updatedAt"])
	require.Equal(t, "sync", job["configType"])
	attempts := info["attempts"].([]any)
	require.Len(t, attempts, 1)
	a := attempts[0].(map[string]any)["attempt"].(map[string]any)
	require.EqualValues(t, 0, a["id"])
	require.Equal(t, "succeeded", a["status"])
	require.Equal(t, j["rowsSynced"], a["recordsSynced"])
	require.Equal(t, j["rowsSynced"], job["aggregatedStats"].(map[string]any)["recordsCommitted"])
}

func TestJobZeroDurations(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	conn := b.createConnection(t, b.createSource(t), nil)
	created := b.c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/jobs", map[string]any{"connectionId": conn, "jobType": "sync"})
	require.Equal(t, "pending", created["status"], "POST /jobs answers as soon as the job exists")
	j := b.job(t, int64(created["jobId"].(float64)))
	require.Equal(t, "succeeded", j["status"])
	require.Equal(t, "PT0S", j["duration"])
	require.Equal(t, "2025-09-16T20:13:24Z", j["lastUpdatedAt"])
}

func TestJavaTimeFormats(t *testing.T) {
	t.Parallel()
	onTheMinute := emulator.NewManualClock(time.Date(2025, 9, 16, 20, 13, 0, 0, time.UTC))
	b := setup(t, emulator.Config{Clock: onTheMinute, JobRunning: 8*time.Hour + 6*time.Minute + 12*time.Second})
	conn := b.createConnection(t, b.createSource(t), nil)
	id := b.startSync(t, conn)
	require.Equal(t, "2025-09-16T20:13Z", b.job(t, id)["startTime"], "OffsetDateTime.toString drops zero seconds")
	onTheMinute.Advance(9 * time.Hour)
	require.Equal(t, "PT8H6M12S", b.job(t, id)["duration"])
}

func TestSingleFlightPerConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobPending: time.Second, JobRunning: time.Minute})
	src := b.createSource(t)
	conn := b.createConnection(t, src, nil)
	other := b.createConnection(t, src, nil)

	first := b.startSync(t, conn)
	r := b.c.pub(http.MethodPost, "/jobs", map[string]any{"connectionId": conn, "jobType": "sync"})
	require.Equal(t, http.StatusConflict, r.status)
	p := r.obj(t)
	require.Equal(t, "try-again-later", p["title"])
	require.Equal(t, "https://reference.airbyte.com/reference/errors#try-again-later", p["type"])
	require.Equal(t, "A sync is already running for: "+conn, p["data"].(map[string]any)["message"])

	r = b.c.cfg("/connections/sync", map[string]any{"connectionId": conn})
	require.Equal(t, http.StatusConflict, r.status)
	require.Equal(t, "A sync is already running for: "+conn, r.obj(t)["message"])

	b.startSync(t, other) // other connections are independent

	// reset cancels the running sync and starts at once.
	reset := b.c.ok(http.StatusOK, http.MethodPost, "/api/public/v1/jobs", map[string]any{"connectionId": conn, "jobType": "clear"})
	require.Equal(t, "reset", reset["jobType"], "clear is reported as reset")
	require.Equal(t, "cancelled", b.job(t, first)["status"])

	b.clock.Advance(2 * time.Minute)
	b.startSync(t, conn) // terminal again: a new sync is accepted
}

func TestSyncOnInactiveConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{})
	conn := b.createConnection(t, b.createSource(t), map[string]any{"status": "inactive"})
	r := b.c.pub(http.MethodPost, "/jobs", map[string]any{"connectionId": conn, "jobType": "sync"})
	require.Equal(t, http.StatusConflict, r.status)
	p := r.obj(t)
	require.Equal(t, "state-conflict", p["title"])
	require.Equal(t, "Could not fulfill request", p["data"].(map[string]any)["message"])
}

func TestFailedJobAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobPending: time.Second, JobRunning: 10 * time.Second, JobRetryDelay: 5 * time.Second})
	conn := b.createConnection(t, b.createSource(t), nil)
	b.emu.FailNextJobs(1)

	id := b.startSync(t, conn)
	b.clock.Advance(11 * time.Second) // first attempt failed
	require.Equal(t, "incomplete", b.job(t, id)["status"])
	b.clock.Advance(5 * time.Second)
	require.Equal(t, "running", b.job(t, id)["status"])
	b.clock.Advance(time.Hour)
	j := b.job(t, id)
	require.Equal(t, "failed", j["status"])
	require.Equal(t, "PT41S", j["duration"], "1 s pending + 3×10 s attempts + 2×5 s between them")

	info := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/get", map[string]any{"id": id})
	attempts := info["attempts"].([]any)
	require.Len(t, attempts, emulator.DefaultMaxAttempts)
	for i, raw := range attempts {
		a := raw.(map[string]any)["attempt"].(map[string]any)
		require.EqualValues(t, i, a["id"])
		require.Equal(t, "failed", a["status"])
		failures := a["failureSummary"].(map[string]any)["failures"].([]any)
		f := failures[0].(map[string]any)
		require.Equal(t, "source", f["failureOrigin"])
		require.Contains(t, f["externalMessage"], "REQUEST_LIMIT_EXCEEDED")
		require.Greater(t, f["timestamp"].(float64), float64(t0.Unix())*1000, "FailureReason.timestamp is epoch ms")
	}

	// The next job is not affected.
	next := b.startSync(t, conn)
	b.clock.Advance(time.Hour)
	require.Equal(t, "succeeded", b.job(t, next)["status"])
}

func TestTransientFailureThenSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobRunning: 10 * time.Second})
	conn := b.createConnection(t, b.createSource(t), nil)
	b.emu.SetFaults(emulator.Faults{FailNextJobs: 1, FailAttempts: 1})
	id := b.startSync(t, conn)
	b.clock.Advance(10 * time.Second)
	require.Equal(t, "running", b.job(t, id)["status"], "zero retry delay: the second attempt starts at once")
	b.clock.Advance(10 * time.Second)
	require.Equal(t, "succeeded", b.job(t, id)["status"])
	info := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/get", map[string]any{"id": id})
	require.Len(t, info["attempts"], 2)
}

func TestCancelJob(t *testing.T) {
	t.Parallel()
	for _, conflict := range []bool{false, true} {
		b := setup(t, emulator.Config{JobPending: time.Second, JobRunning: time.Minute, CancelTerminalConflict: conflict})
		conn := b.createConnection(t, b.createSource(t), nil)
		id := b.startSync(t, conn)
		b.clock.Advance(5 * time.Second)
		j := b.c.ok(http.StatusOK, http.MethodDelete, "/api/public/v1/jobs/"+itoa(id), nil)
		require.Equal(t, "cancelled", j["status"])
		require.Equal(t, "PT5S", j["duration"])

		info := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/get", map[string]any{"id": id})
		a := info["attempts"].([]any)[0].(map[string]any)["attempt"].(map[string]any)
		require.Equal(t, "failed", a["status"])
		f := a["failureSummary"].(map[string]any)["failures"].([]any)[0].(map[string]any)
		require.Equal(t, "manual_cancellation", f["failureType"])

		r := b.c.pub(http.MethodDelete, "/jobs/"+itoa(id), nil)
		if conflict {
			require.Equal(t, http.StatusConflict, r.status)
			require.Equal(t, "Job is not currently running", r.obj(t)["data"].(map[string]any)["message"])
		} else {
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, "cancelled", r.obj(t)["status"])
		}
		b.startSync(t, conn) // the connection is free again
	}
}

func TestListJobs(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobRunning: time.Minute})
	src := b.createSource(t)
	conn := b.createConnection(t, src, nil)
	other := b.createConnection(t, src, nil)
	var ids []int64
	for range 3 {
		ids = append(ids, b.startSync(t, conn))
		b.clock.Advance(2 * time.Minute)
	}
	b.startSync(t, other)
	b.emu.FailNextJobs(1)
	failing := b.startSync(t, conn)
	b.clock.Advance(time.Hour)

	list := func(q string) []any {
		return b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/jobs?"+q, nil)["data"].([]any)
	}
	data := list("connectionId=" + conn)
	require.Len(t, data, 4)
	require.EqualValues(t, failing, data[0].(map[string]any)["jobId"], "default order is createdAt DESC")
	data = list("connectionId=" + conn + "&orderBy=createdAt|ASC&limit=2&offset=1")
	require.Len(t, data, 2)
	require.EqualValues(t, ids[1], data[0].(map[string]any)["jobId"])
	require.Len(t, list("connectionId="+conn+"&status=failed"), 1)
	require.Len(t, list("jobType=sync"), 5)
	require.Len(t, list("jobType=reset"), 0)

	r := b.c.pub(http.MethodGet, "/jobs?orderBy=name|UP", nil)
	require.Equal(t, http.StatusBadRequest, r.status)

	cl := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/list", map[string]any{
		"configTypes": []string{"sync"}, "configId": conn, "pagination": map[string]any{"pageSize": 1, "rowOffset": 0},
	})
	require.EqualValues(t, 4, cl["totalJobCount"])
	require.Len(t, cl["jobs"], 1)

	snaps := b.emu.Jobs()
	require.Len(t, snaps, 5)
	require.Equal(t, "failed", snaps[4].Status)
	require.Equal(t, 3, snaps[4].Attempts)
}

func TestQueuedState(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobPending: time.Second, JobQueued: 5 * time.Second, JobRunning: 10 * time.Second})
	conn := b.createConnection(t, b.createSource(t), nil)
	id := b.startSync(t, conn)
	b.clock.Advance(2 * time.Second)
	require.Equal(t, "queued", b.job(t, id)["status"])
	r := b.c.cfg("/connections/status", map[string]any{"connectionIds": []string{conn}})
	var st []map[string]any
	r.json(t, &st)
	require.Equal(t, "queued", st[0]["connectionSyncStatus"])
	b.clock.Advance(4 * time.Second)
	require.Equal(t, "running", b.job(t, id)["status"])
	b.clock.Advance(10 * time.Second)
	require.Equal(t, "succeeded", b.job(t, id)["status"])
	b.c.cfg("/connections/status", map[string]any{"connectionIds": []string{conn}}).json(t, &st)
	require.Equal(t, "synced", st[0]["connectionSyncStatus"])
	require.EqualValues(t, t0.Add(16*time.Second).Unix(), st[0]["lastSuccessfulSync"])
}

func TestConfigReset(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobRunning: time.Minute})
	conn := b.createConnection(t, b.createSource(t), nil)
	sync := b.startSync(t, conn)
	info := b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/connections/reset", map[string]any{"connectionId": conn})
	require.Equal(t, "reset_connection", info["job"].(map[string]any)["configType"])
	require.Equal(t, "cancelled", b.job(t, sync)["status"])
	list := b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/jobs?connectionId="+conn+"&jobType=reset", nil)
	require.Len(t, list["data"], 1)
}

// A follower lists the jobs of its workspace that changed since its last look:
// updatedAtStart is inclusive, status and orderBy=updatedAt apply, pages hold up
// to 100 jobs and their links keep workspaceIds (not the other filters, as
// Airbyte's JobsResponseMapper builds them).
func TestListJobsByWorkspaceSinceUpdate(t *testing.T) {
	t.Parallel()
	b, jobs := threeJobsOnTwoWorkers(t)
	list := func(q string) map[string]any {
		return b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/jobs?workspaceIds="+wsID+"&"+q, nil)
	}
	ids := func(page map[string]any) []int64 {
		var out []int64
		for _, d := range page["data"].([]any) {
			out = append(out, int64(d.(map[string]any)["jobId"].(float64)))
		}
		return out
	}
	b.clock.Advance(time.Second) // jobs 1 and 2 start at t0+1; job 3 waits for a worker
	since := t0.Add(time.Second).Format(time.RFC3339)
	page := list("updatedAtStart=" + since + "&orderBy=updatedAt|ASC&limit=100")
	require.Equal(t, jobs[:2], ids(page), "updated at t0+1: inclusive bound")
	require.Equal(t, []int64{jobs[2]}, ids(list("status=pending")))
	require.Contains(t, page["next"], "workspaceIds="+wsID)
	require.NotContains(t, page["next"], "updatedAtStart")

	b.clock.Advance(10 * time.Second) // 1 and 2 end at t0+11, 3 starts then
	since = t0.Add(2 * time.Second).Format(time.RFC3339)
	page = list("updatedAtStart=" + since + "&orderBy=updatedAt|ASC&limit=100")
	require.Equal(t, jobs, ids(page), "every job changed at t0+11")
	require.Equal(t, jobs[:2], ids(list("updatedAtStart="+since+"&status=succeeded&orderBy=updatedAt|ASC")))
	require.Empty(t, ids(list("updatedAtStart="+t0.Add(12*time.Second).Format(time.RFC3339))))

	other := b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/jobs?workspaceIds=00000000-0000-4000-8000-000000000000", nil)
	require.Empty(t, other["data"], "another workspace's jobs")
	r := b.c.pub(http.MethodGet, "/jobs?workspaceIds=nope", nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	r = b.c.pub(http.MethodGet, "/jobs?status=stuck", nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	r = b.c.pub(http.MethodGet, "/jobs?limit=101", nil)
	require.Equal(t, http.StatusBadRequest, r.status)
}

// The configuration API's jobs/list_for_workspaces, what the public GET /jobs
// is a façade over, filters by several statuses at once and answers light
// jobs (no attempts); it lists nothing without workspaces, as Airbyte's
// query (workspace IN ()) does, and counts the page it answers.
func TestListJobsForWorkspacesBySeveralStatuses(t *testing.T) {
	t.Parallel()
	b, jobs := threeJobsOnTwoWorkers(t)
	b.clock.Advance(time.Second)      // jobs 1 and 2 run; job 3 waits for a worker
	b.clock.Advance(10 * time.Second) // 1 and 2 succeed, 3 runs
	list := func(body map[string]any) (ids []int64, statuses []string, page map[string]any) {
		t.Helper()
		body["configTypes"] = []string{"sync"}
		page = b.c.ok(http.StatusOK, http.MethodPost, "/api/v1/jobs/list_for_workspaces", body)
		for _, d := range page["jobs"].([]any) {
			jr := d.(map[string]any)
			require.Empty(t, jr["attempts"], "light jobs")
			j := jr["job"].(map[string]any)
			ids = append(ids, int64(j["id"].(float64)))
			statuses = append(statuses, j["status"].(string))
		}
		return ids, statuses, page
	}
	all, _, _ := list(map[string]any{"workspaceIds": []string{wsID}, "orderByField": "createdAt", "orderByMethod": "ASC"})
	require.Equal(t, jobs, all)
	ended, st, _ := list(map[string]any{"workspaceIds": []string{wsID}, "statuses": []string{"succeeded", "failed", "cancelled"}})
	require.ElementsMatch(t, jobs[:2], ended)
	require.Equal(t, []string{"succeeded", "succeeded"}, st)
	moved, _, _ := list(map[string]any{"workspaceIds": []string{wsID}, "statuses": []string{"running", "succeeded"},
		"updatedAtStart": t0.Add(11 * time.Second).Format(time.RFC3339), "orderByField": "updatedAt", "orderByMethod": "DESC"})
	require.ElementsMatch(t, jobs, moved, "updated at t0+11: inclusive bound")
	none, _, _ := list(map[string]any{"workspaceIds": []string{wsID}, "updatedAtStart": t0.Add(12 * time.Second).Format(time.RFC3339)})
	require.Empty(t, none)
	one, _, page := list(map[string]any{"workspaceIds": []string{wsID}, "pagination": map[string]any{"pageSize": 1, "rowOffset": 1},
		"orderByField": "createdAt", "orderByMethod": "ASC"})
	require.Equal(t, jobs[1:2], one)
	require.EqualValues(t, 1, page["totalJobCount"], "the page's count")
	nothing, _, _ := list(map[string]any{})
	require.Empty(t, nothing, "no workspaces, no jobs")
	other, _, _ := list(map[string]any{"workspaceIds": []string{"00000000-0000-4000-8000-000000000000"}})
	require.Empty(t, other, "another workspace's jobs")

	for _, bad := range []map[string]any{
		{"workspaceIds": []string{wsID}},                                    // no configTypes
		{"configTypes": []string{"sync"}, "workspaceIds": []string{"nope"}}, // not a UUID
		{"configTypes": []string{"sync"}, "statuses": []string{"stuck"}},    // unknown status
		{"configTypes": []string{"sync"}, "updatedAtStart": "yesterday"},    // not a date-time
	} {
		r := b.c.cfg("/jobs/list_for_workspaces", bad)
		require.Equal(t, http.StatusBadRequest, r.status, "%v", bad)
	}
}

// threeJobsOnTwoWorkers starts a sync on each of three connections of an
// emulator with two sync workers, jobs pending 1 s and running 10 s of its
// manual clock.
func threeJobsOnTwoWorkers(t *testing.T) (*testBundle, []int64) {
	t.Helper()
	b := setup(t, emulator.Config{JobPending: time.Second, JobRunning: 10 * time.Second, MaxSyncWorkers: 2})
	src := b.createSource(t)
	var jobs []int64
	for range 3 {
		jobs = append(jobs, b.startSync(t, b.createConnection(t, src, nil)))
	}
	return b, jobs
}
