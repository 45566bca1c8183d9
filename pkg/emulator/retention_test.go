package emulator_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/emulator"
)

// jobIDs lists a connection's jobs, newest first, through GET /jobs.
func (b *testBundle) jobIDs(t *testing.T, connectionID string) []int64 {
	t.Helper()
	data := b.c.ok(http.StatusOK, http.MethodGet, "/api/public/v1/jobs?limit=100&connectionId="+connectionID, nil)["data"].([]any)
	ids := make([]int64, len(data))
	for i, j := range data {
		ids[i] = int64(j.(map[string]any)["jobId"].(float64))
	}
	return ids
}

// TestJobRetention: the job history keeps every non-terminal job and the newest
// JobRetention terminal jobs per connection; older jobs answer as unknown ids.
func TestJobRetention(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{JobRetention: 2, JobRunning: time.Minute})
	src := b.createSource(t)
	conn := b.createConnection(t, src, nil)
	other := b.createConnection(t, src, nil)

	run := func(connectionID string) int64 {
		id := b.startSync(t, connectionID)
		b.clock.Advance(10 * time.Minute)
		require.Contains(t, []any{"succeeded", "failed"}, b.job(t, id)["status"])
		return id
	}
	otherJob := run(other)
	first := run(conn)
	firstDone := b.clock.Now().Add(-10 * time.Minute).Add(time.Minute)
	b.emu.FailNextJobs(2)
	second, third := run(conn), run(conn)
	require.Equal(t, []int64{third, second}, b.jobIDs(t, conn), "the oldest terminal job left the history")
	require.Equal(t, []int64{otherJob}, b.jobIDs(t, other), "retention is per connection")

	// A pruned job answers exactly like a job id that never existed.
	pruned := b.c.pub(http.MethodGet, "/jobs/"+itoa(first), nil)
	unknown := b.c.pub(http.MethodGet, "/jobs/999999", nil)
	require.Equal(t, http.StatusConflict, pruned.status)
	require.JSONEq(t, string(unknown.body), string(pruned.body))
	require.Equal(t, "Job is not currently running", pruned.obj(t)["data"].(map[string]any)["message"])
	r := b.c.cfg("/jobs/get", map[string]any{"id": first})
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "Could not find job with id: "+itoa(first), r.obj(t)["message"])
	require.Equal(t, http.StatusConflict, b.c.pub(http.MethodDelete, "/jobs/"+itoa(first), nil).status)

	// connections/status still knows when the connection last synced.
	var st []map[string]any
	b.c.cfg("/connections/status", map[string]any{"connectionIds": []string{conn}}).json(t, &st)
	require.Equal(t, "failed", st[0]["connectionSyncStatus"])
	require.EqualValues(t, firstDone.Unix(), st[0]["lastSuccessfulSync"], "from the pruned succeeded job")
	require.EqualValues(t, third, st[0]["lastSyncJobId"])

	// A running job is never pruned and does not count against the retention.
	running := b.startSync(t, conn)
	b.clock.Advance(30 * time.Second)
	require.Equal(t, "running", b.job(t, running)["status"])
	require.Equal(t, []int64{running, third, second}, b.jobIDs(t, conn))
	b.clock.Advance(time.Minute)
	require.Equal(t, []int64{running, third}, b.jobIDs(t, conn), "reading the list finishes the job and prunes")
	b.c.cfg("/connections/status", map[string]any{"connectionIds": []string{conn}}).json(t, &st)
	require.Equal(t, "synced", st[0]["connectionSyncStatus"])

	var ids []int64
	for _, j := range b.emu.Jobs() {
		ids = append(ids, j.ID)
	}
	require.Equal(t, []int64{otherJob, third, running}, ids, "Jobs() is the history in creation order")
	state := b.c.ok(http.StatusOK, http.MethodGet, "/_emulator/state", nil)["jobs"].(map[string]any)
	require.EqualValues(t, 3, state["total"])
	require.EqualValues(t, 2, state["pruned"])
}

// TestJobRetentionDefaults: zero keeps DefaultJobRetention terminal jobs per
// connection, a negative retention keeps every job.
func TestJobRetentionDefaults(t *testing.T) {
	t.Parallel()
	const n = emulator.DefaultJobRetention + 5
	for _, tc := range []struct {
		name      string
		retention int
		kept      int
	}{
		{"default", 0, emulator.DefaultJobRetention},
		{"keep all", -1, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.Config{JobRetention: tc.retention})
			conn := b.createConnection(t, b.createSource(t), nil)
			var ids []int64
			for range n {
				id := b.startSync(t, conn)
				require.Equal(t, "succeeded", b.job(t, id)["status"])
				ids = append(ids, id)
			}
			require.Len(t, b.emu.Jobs(), tc.kept)
			require.Equal(t, ids[n-tc.kept], b.emu.Jobs()[0].ID, "the newest jobs stay")
			status := http.StatusOK
			if tc.kept < n {
				status = http.StatusConflict
			}
			require.Equal(t, status, b.c.pub(http.MethodGet, "/jobs/"+itoa(ids[0]), nil).status)
		})
	}
}
