package syncer

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// burst publishes n sync requests for connID and returns their ids.
func (h *harness) burst(connID string, n int) []string {
	h.T.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = h.sync(connID)
	}
	return ids
}

// startedOf waits for every request's sync.started and returns them.
func (h *harness) startedOf(ids []string) []events.SyncStarted {
	h.T.Helper()
	out := make([]events.SyncStarted, len(ids))
	for i, id := range ids {
		out[i] = testenv.Data[events.SyncStarted](h.T, h.WaitFact(id, events.TypeSyncStarted, 60*time.Second))
	}
	return out
}

// sharedJob waits for every request's sync.started, checks that they all
// name one job, and returns it and how many of the requests started it
// (the others attached to it).
func (h *harness) sharedJob(ids []string) (jobID string, starters int) {
	h.T.Helper()
	started := h.startedOf(ids)
	jobID = started[0].JobID
	for i, s := range started {
		require.Equal(h.T, jobID, s.JobID, "request %s", ids[i])
		if !s.Attached {
			starters++
		}
	}
	return jobID, starters
}

// requireAnsweredBy waits for every request's terminal fact and checks that
// job jobID answered each, with exactly one started and one succeeded fact.
func (h *harness) requireAnsweredBy(ids []string, jobID string) {
	h.T.Helper()
	for _, id := range ids {
		done := testenv.Data[events.SyncFinished](h.T, h.WaitFact(id, events.TypeSyncSucceeded, 60*time.Second))
		require.Equal(h.T, jobID, done.JobID, "job of request %s", id)
		require.Equal(h.T, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id), "facts of request %s", id)
	}
}

func TestBurstWhileJobRunsAttachesWithoutAirbyteCalls(t *testing.T) {
	t.Parallel()
	h, conn := withRunningJobs(t, 1)

	first := h.sync(conn.ID)
	a := testenv.Data[events.SyncStarted](t, h.WaitFact(first, events.TypeSyncStarted))
	before := h.calls.snapshot()
	require.Equal(t, 1, before["POST /jobs"])

	ids := h.burst(conn.ID, 200)
	for i, b := range h.startedOf(ids) {
		require.True(t, b.Attached, "request %s", ids[i])
		require.Equal(t, a.JobID, b.JobID, "request %s", ids[i])
	}
	after := h.calls.snapshot()
	require.Equal(t, 1, after["POST /jobs"], "the first request's POST /jobs only")
	require.Equal(t, before["GET /jobs/{id}"], after["GET /jobs/{id}"], "no job read for the burst")
	require.Zero(t, after["GET /jobs?connectionId"], "no running-job look-up")

	h.clock.Advance(time.Minute)
	h.requireAnsweredBy(append(ids, first), a.JobID)
	require.Len(t, h.jobsOf(conn.AirbyteConnectionID), 1, "one Airbyte job")
	require.Equal(t, 1, h.calls.count("POST /jobs"))
	links, err := h.Store.JobRequestList(h.Ctx, h.jobOf(h.source(), first).ID)
	require.NoError(t, err)
	require.Len(t, links, 201)
}

func TestBurstStartsOneJobAcrossInstances(t *testing.T) {
	t.Parallel()
	h, conn := withRunningJobs(t, 2)

	// No job runs: the requests of both instances take turns to start one,
	// and every other request attaches to it.
	ids := h.burst(conn.ID, 200)
	jobID, starters := h.sharedJob(ids)
	require.Equal(t, 1, starters, "one request started the job")
	require.Equal(t, 1, h.calls.count("POST /jobs"), "one POST /jobs for the burst")
	require.Zero(t, h.calls.count("GET /jobs?connectionId"), "no running-job look-up")

	h.clock.Advance(time.Minute)
	h.requireAnsweredBy(ids, jobID)
	require.Len(t, h.jobsOf(conn.AirbyteConnectionID), 1)
}

func TestRequestsAfterJobEndedStartOneNewJob(t *testing.T) {
	t.Parallel()
	h, conn := withRunningJobs(t, 2)

	first := h.sync(conn.ID)
	a := testenv.Data[events.SyncStarted](t, h.WaitFact(first, events.TypeSyncStarted))
	h.clock.Advance(time.Minute)
	h.WaitFact(first, events.TypeSyncSucceeded) // the registry knows that the job ended

	// Requests seen after that wait for the next job: exactly one starts.
	ids := h.burst(conn.ID, 50)
	jobID, starters := h.sharedJob(ids)
	require.NotEqual(t, a.JobID, jobID, "not the job that ended")
	require.Equal(t, 1, starters)
	require.Equal(t, 2, h.calls.count("POST /jobs"), "one POST /jobs per job")

	h.clock.Advance(time.Minute)
	h.requireAnsweredBy(ids, jobID)
	require.Len(t, h.jobsOf(conn.AirbyteConnectionID), 2)
}

func TestRequestsSeenBeforeStartShareJobThatEndedAtOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{}) // instant jobs: ended when first read
	conn := h.SeedConnection()
	// Both requests are seen before either takes its turn to start a job
	// (the start is claimed by someone else until both wait for it): the
	// job one of them starts begins after both were seen, so it answers
	// both, although it has ended by the time the second one looks.
	const other = "another process"
	turn, err := h.Store.SyncStartTurn(h.Ctx, conn.ID, other, time.Now(), time.Minute)
	require.NoError(t, err)
	require.True(t, turn.Claimed)
	var seen sync.WaitGroup
	seen.Add(2)
	var turns atomic.Int32
	h.start(testConfig(), func(w *Worker) {
		w.beforeTurn = func(ctx context.Context) {
			if turns.Add(1) > 2 {
				return
			}
			seen.Done()
			done := make(chan struct{})
			go func() { seen.Wait(); close(done) }()
			select {
			case <-done:
				if turns.Load() == 2 {
					_ = h.Store.SyncStartRelease(ctx, conn.ID, other)
				}
			case <-ctx.Done():
			}
		}
	})
	ids := h.burst(conn.ID, 2)
	started := h.startedOf(ids)
	require.NotEqual(t, started[0].Attached, started[1].Attached, "one started it, one was answered by it")
	h.requireOneJobThenANewOne(conn.ID, ids, started)
}

// requireOneJobThenANewOne checks that the requests ids (their sync.started
// facts started) were answered by one job, started by one POST /jobs, and
// that a request for connID sent after that job's start was claimed gets a
// job of its own, although the last one ended just now.
func (h *harness) requireOneJobThenANewOne(connID string, ids []string, started []events.SyncStarted) {
	h.T.Helper()
	for _, s := range started {
		require.Equal(h.T, started[0].JobID, s.JobID)
	}
	require.Equal(h.T, 1, h.calls.count("POST /jobs"))
	h.requireAnsweredBy(ids, started[0].JobID)

	next := testenv.Data[events.SyncStarted](h.T, h.WaitFact(h.sync(connID), events.TypeSyncStarted))
	require.False(h.T, next.Attached)
	require.NotEqual(h.T, started[0].JobID, next.JobID)
	require.Equal(h.T, 2, h.calls.count("POST /jobs"))
}

func TestFollowingListsChangesInsteadOfReadingEachJob(t *testing.T) {
	t.Parallel()
	const n = 120
	h, ids, rounds := followRunningJobs(t, n, testConfig())
	before := h.calls.snapshot()
	r0 := rounds.Load()
	h.waitChecked(ids, 3)

	h.clock.Advance(time.Minute)
	for _, id := range ids {
		h.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
	}
	after := h.calls.snapshot()
	r := rounds.Load() - r0
	lists := after[listJobChanges] - before[listJobChanges]
	t.Logf("%d jobs followed to their end in %d rounds with %d job lists and %d job reads", n, r, lists,
		after["GET /jobs/{id}"]-before["GET /jobs/{id}"])
	require.Equal(t, before["GET /jobs/{id}"], after["GET /jobs/{id}"], "no job read on its own")
	require.Positive(t, lists)
	// 120 jobs changed at the same instant of the emulator's clock: one
	// page per list, at most one list per round.
	require.LessOrEqual(t, int64(lists), int64((n+listPage-1)/listPage)*r)
	for _, id := range ids {
		j := h.jobOf(h.source(), id)
		require.Equal(t, registry.JobSucceeded, j.Status)
		require.Equal(t, "succeeded", j.AirbyteStatus)
		require.NotNil(t, j.AirbyteSeenThrough)
	}
}

func TestJobOutOfListWindowIsReadOnItsOwn(t *testing.T) {
	t.Parallel()
	h, _, stop, id := followed(t, time.Minute)
	job := h.jobOf(h.source(), id)
	require.NotNil(t, job.AirbyteSeenThrough)
	stop()

	// A job recorded before Airbyte's times were kept: the list cannot say
	// whether it changed, so it is read once, and listed from then on.
	reads := h.calls.count("GET /jobs/{id}")
	_, err := h.Store.DB().Exec(h.Ctx, `UPDATE job_history SET airbyte_seen_through = NULL WHERE id = $1`, job.ID)
	require.NoError(t, err)
	var rounds atomic.Int64
	h.start(testConfig(), func(w *Worker) {
		w.afterRound = func(int) { rounds.Add(1) }
	})
	require.Eventually(t, func() bool { return h.jobOf(h.source(), id).AirbyteSeenThrough != nil },
		10*time.Second, 10*time.Millisecond)
	require.Equal(t, reads+1, h.calls.count("GET /jobs/{id}"))
	r := rounds.Load()
	require.Eventually(t, func() bool { return rounds.Load() > r+3 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, reads+1, h.calls.count("GET /jobs/{id}"), "listed again")

	h.clock.Advance(time.Minute)
	h.WaitFact(id, events.TypeSyncSucceeded)
	require.Equal(t, reads+1, h.calls.count("GET /jobs/{id}"))
}

func TestUnknownJobStatusIsFollowedToItsEnd(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{manual: true, emulator: emulator.Config{JobQueued: time.Minute, JobRunning: time.Minute}})
	// A newer Airbyte with a status this version does not know.
	h.calls.setRewrite(func(b []byte) []byte {
		return bytesReplace(b, `"status":"queued"`, `"status":"waiting_for_capacity"`)
	})
	conn := h.SeedConnection()
	h.start(testConfig())

	id := h.sync(conn.ID)
	h.WaitFact(id, events.TypeSyncStarted)
	require.Eventually(t, func() bool { return h.jobOf(h.source(), id).CheckCount >= 3 }, 10*time.Second, 10*time.Millisecond)
	job := h.jobOf(h.source(), id)
	require.Equal(t, "waiting_for_capacity", job.AirbyteStatus, "kept verbatim")
	require.False(t, job.Status.Terminal(), "reported as not ended")
	require.Empty(t, h.factsOf(id)[events.TypeSyncSucceeded])

	h.clock.Advance(time.Minute) // running
	require.Eventually(t, func() bool { return h.jobOf(h.source(), id).AirbyteStatus == "running" }, 10*time.Second, 10*time.Millisecond)
	h.clock.Advance(time.Minute)
	done := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncSucceeded))
	require.Equal(t, events.JobSucceeded, done.Status)
	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))
}

func TestJobsAtCapacityWaitPendingAndAreFollowed(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{manual: true, emulator: emulator.Config{MaxSyncWorkers: 2, JobPending: time.Second, JobRunning: time.Minute}})
	const n = 5
	conns := make([]testenv.Seeded, n)
	for i := range conns {
		conns[i] = h.SeedConnection()
	}
	h.start(testConfig())
	ids := make([]string, n)
	for i, c := range conns {
		ids[i] = h.sync(c.ID)
	}
	h.startedOf(ids)
	reads := h.calls.count("GET /jobs/{id}")

	// Two workers: two jobs run, three wait pending, and are followed so.
	h.clock.Advance(time.Second)
	statuses := func() map[registry.JobStatus]int {
		out := map[registry.JobStatus]int{}
		for _, id := range ids {
			out[h.jobOf(h.source(), id).Status]++
		}
		return out
	}
	require.Eventually(t, func() bool {
		s := statuses()
		return s[registry.JobRunning] == 2 && s[registry.JobPending] == 3
	}, 10*time.Second, 10*time.Millisecond)
	rounds := func() int {
		total := 0
		for _, id := range ids {
			total += h.jobOf(h.source(), id).CheckCount
		}
		return total
	}
	checked := rounds()
	require.Eventually(t, func() bool { return rounds() >= checked+3*n }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 3, statuses()[registry.JobPending], "still waiting for a worker")
	for _, id := range ids {
		require.Empty(t, h.factsOf(id)[events.TypeSyncSucceeded])
	}

	// Each minute two more end and the waiting ones take their workers.
	for range 3 {
		h.clock.Advance(time.Minute)
	}
	for _, id := range ids {
		h.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
		require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))
	}
	require.Equal(t, n, h.calls.count("POST /jobs"))
	require.Equal(t, reads, h.calls.count("GET /jobs/{id}"), "followed by the job list alone")
	require.Equal(t, 2, h.Emulator.Capacity().Jobs.MaxRunning)
}

func TestJobsThatTakeTimeAreNotReadAfterTheirStart(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{manual: true, emulator: emulator.Config{JobRunning: time.Minute}})
	const n = 64
	conns := h.seedConnections(n)
	h.start(testConfig())
	ids := make([]string, n)
	for i, c := range conns {
		// One at a time, so that each start sees the reads before it.
		ids[i] = h.sync(c.ID)
		h.WaitFact(ids[i], events.TypeSyncStarted)
	}
	require.Equal(t, n, h.calls.count("POST /jobs"))
	// The first quickMisses starts are read and found running; after them
	// one start in quickProbe is.
	require.LessOrEqual(t, h.calls.count(readJobInfo), quickMisses+n/quickProbe+1)
	require.GreaterOrEqual(t, h.calls.count(readJobInfo), quickMisses)

	h.clock.Advance(time.Minute)
	for _, id := range ids {
		h.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
	}
	require.Zero(t, h.calls.count("GET /jobs/{id}"), "followed by the job list")
}

func TestQuickStartsReadAgainOnceJobsEndAtOnce(t *testing.T) {
	var q quickStarts
	for range quickMisses {
		require.True(t, q.reread())
		q.saw(false)
	}
	reads := 0
	for range 10 * quickProbe {
		if q.reread() {
			reads++
		}
	}
	require.Equal(t, 10, reads, "one start in quickProbe is read")
	q.saw(true)
	require.True(t, q.reread())
	require.True(t, q.reread(), "read every start again")
}

func TestRoundsOfManyBatchesShareOneJobListPerPollInterval(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.FollowBatch = 7 // many batches of due jobs per poll interval
	cfg.PollInterval = 200 * time.Millisecond
	h, ids, rounds := followRunningJobs(t, 60, cfg)
	before := h.calls.snapshot()
	start := time.Now()
	r0 := rounds.Load()
	h.waitChecked(ids, 3)
	after := h.calls.snapshot()
	elapsed := time.Since(start)
	lists := after[listJobChanges] - before[listJobChanges]
	r := rounds.Load() - r0
	t.Logf("%d rounds in %s with %d job lists", r, elapsed, lists)
	require.Equal(t, before["GET /jobs/{id}"], after["GET /jobs/{id}"], "no job read on its own")
	require.Greater(t, r, int64(lists), "rounds share lists")
	// One list per poll interval (each of one page: 60 jobs), and one for
	// the first round.
	require.LessOrEqual(t, lists, int(elapsed/cfg.PollInterval)+2)
}

func TestManyJobsAreFollowedByListsOfAllTheirChanges(t *testing.T) {
	t.Parallel()
	const n = 250
	cfg := testConfig()
	cfg.FollowBatch = 7 // batches of due jobs far smaller than what changed
	cfg.PollInterval = 200 * time.Millisecond
	// One page at least, so that a list sized by its batch (7 jobs) would
	// be cut short of the 250 changes.
	h, ids, rounds := followRunningJobs(t, n, cfg, func(w *Worker) { w.minPages = 1 })
	before := h.calls.snapshot()
	start := time.Now()
	r0 := rounds.Load()
	h.waitChecked(ids, 3)
	h.clock.Advance(time.Minute)
	for _, id := range ids {
		h.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
	}
	elapsed := time.Since(start)
	after := h.calls.snapshot()
	lists := after[listJobChanges] - before[listJobChanges]
	t.Logf("%d jobs followed to their end in %d rounds (%s) with %d job lists and %d job reads", n, rounds.Load()-r0,
		elapsed, lists, after["GET /jobs/{id}"]-before["GET /jobs/{id}"])
	require.Equal(t, before["GET /jobs/{id}"], after["GET /jobs/{id}"], "no job read on its own")
	// Every job changed at the same instant of the emulator's clock: two
	// pages per list, one list per poll interval and one for the first
	// round.
	pages := (n + listPage - 1) / listPage
	require.LessOrEqual(t, lists, pages*(int(elapsed/cfg.PollInterval)+2))
	for _, id := range ids {
		require.Equal(t, registry.JobSucceeded, h.jobOf(h.source(), id).Status)
	}
}

// followRunningJobs starts one sync on each of n connections, on an emulator
// whose jobs run for a minute of its manual clock, and a worker with cfg
// that counts its follow rounds.
func followRunningJobs(t *testing.T, n int, cfg Config, hooks ...func(*Worker)) (*harness, []string, *atomic.Int64) {
	t.Helper()
	h := setup(t, envOptions{manual: true, emulator: emulator.Config{JobRunning: time.Minute}})
	conns := h.seedConnections(n)
	rounds := &atomic.Int64{}
	h.start(cfg, append(hooks, func(w *Worker) {
		w.afterRound = func(int) { rounds.Add(1) }
	})...)
	ids := make([]string, n)
	for i, c := range conns {
		ids[i] = h.sync(c.ID)
	}
	h.startedOf(ids)
	return h, ids, rounds
}

// waitChecked waits until the follower checked every request's job at
// least k times.
func (h *harness) waitChecked(ids []string, k int) {
	h.T.Helper()
	require.Eventually(h.T, func() bool {
		for _, id := range ids {
			if h.jobOf(h.source(), id).CheckCount < k {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "every job checked %d times", k)
}

// seedConnections registers n connections.
func (h *harness) seedConnections(n int) []testenv.Seeded {
	conns := make([]testenv.Seeded, n)
	for i := range conns {
		conns[i] = h.SeedConnection()
	}
	return conns
}

// A follower asks the job list for the statuses a job it started may move
// to, never pending: running ones as well as ended ones while fewer than
// half a page (100) of jobs are followed, so that a running job is
// recorded running, and only ended ones from then on, so that each job
// shows in the lists once, at its end.
func TestFollowerListsRunningJobsOnlyWhileFewAreFollowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n           int
		wantRunning bool
	}{{5, true}, {listPage / 2, false}} {
		t.Run(strconv.Itoa(tc.n), func(t *testing.T) {
			t.Parallel()
			h := setup(t, envOptions{manual: true, emulator: emulator.Config{JobRunning: time.Minute}})
			conns := h.seedConnections(tc.n)
			var mu sync.Mutex
			var asked [][]string
			h.calls.setBefore(func(r *http.Request, body []byte) error {
				if strings.HasSuffix(r.URL.Path, "/jobs/list_for_workspaces") {
					var req struct {
						Statuses []string `json:"statuses"`
					}
					if err := json.Unmarshal(body, &req); err != nil {
						return err
					}
					mu.Lock()
					asked = append(asked, req.Statuses)
					mu.Unlock()
				}
				return nil
			})
			h.start(testConfig())
			ids := make([]string, tc.n)
			for i, c := range conns {
				ids[i] = h.sync(c.ID)
			}
			h.startedOf(ids)
			mu.Lock()
			// Lists asked (or sized) while jobs were being started; one
			// more may have been sized just before the last start.
			n := len(asked) + 1
			mu.Unlock()
			h.waitChecked(ids, 3)
			for _, id := range ids {
				st := h.jobOf(h.source(), id).Status
				if tc.wantRunning {
					require.Equal(t, registry.JobRunning, st)
				} else {
					// Running once a list that asked for running jobs saw it.
					require.Contains(t, []registry.JobStatus{registry.JobRunning, registry.JobPending}, st)
				}
			}
			// A round within a poll interval of the last list answers from
			// it, so the checks alone do not prove a list since: wait for one.
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(asked) > n
			}, 30*time.Second, 10*time.Millisecond, "lists once every job is followed")
			mu.Lock()
			for i, st := range asked {
				require.NotContains(t, st, "pending")
				require.Subset(t, st, []string{"succeeded", "failed", "cancelled"})
				if i >= n {
					require.Equal(t, tc.wantRunning, slices.Contains(st, "running"), "list %d of %d once %d jobs are followed: %v",
						i+1, len(asked), tc.n, st)
				}
			}
			mu.Unlock()

			h.clock.Advance(time.Minute)
			for _, id := range ids {
				h.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
				require.Equal(t, registry.JobSucceeded, h.jobOf(h.source(), id).Status)
			}
		})
	}
}

// An Airbyte that refuses the job list (a route it does not serve) does not
// stop following: the jobs are read one by one and recorded at their end.
func TestFollowingReadsJobsOneByOneWhenTheListIsRefused(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{manual: true, emulator: emulator.Config{JobRunning: time.Minute}})
	conns := h.seedConnections(3)
	h.calls.setBefore(func(r *http.Request, _ []byte) error {
		if strings.HasSuffix(r.URL.Path, "/jobs/list_for_workspaces") {
			r.URL.Path += "_unknown" // answered 404, as by an Airbyte without the route
		}
		return nil
	})
	h.start(testConfig())
	ids := make([]string, len(conns))
	for i, c := range conns {
		ids[i] = h.sync(c.ID)
	}
	h.startedOf(ids)
	h.waitChecked(ids, 2)
	h.clock.Advance(time.Minute)
	for _, id := range ids {
		h.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
	}
	require.Positive(t, h.calls.count(listJobChanges+"_unknown"), "the list was asked for")
	require.GreaterOrEqual(t, h.calls.count("GET /jobs/{id}"), 2*len(ids), "each job read on its own, to its end")
}

func TestRequestsThatWaitedInTheStreamShareTheJobStartedMeanwhile(t *testing.T) {
	t.Parallel()
	// waited publishes two requests while no worker runs, lets them wait in
	// the stream longer than the clock skew allowed, and then has one worker
	// handle them one at a time (instant jobs: each ended when first read).
	waited := func(t *testing.T, skew time.Duration) (*harness, testenv.Seeded, []string, []events.SyncStarted) {
		h := setup(t, envOptions{})
		conn := h.SeedConnection()
		ids := h.burst(conn.ID, 2)
		time.Sleep(50 * time.Millisecond)
		cfg := testConfig()
		cfg.Concurrency, cfg.StreamClockSkew = 1, skew
		h.start(cfg)
		return h, conn, ids, h.startedOf(ids)
	}

	t.Run("counted from their arrival", func(t *testing.T) {
		t.Parallel()
		h, conn, ids, started := waited(t, time.Millisecond)
		// The first starts a job after both arrived: it answers the second
		// too, although it ended before the second was taken.
		require.False(t, started[0].Attached)
		require.True(t, started[1].Attached)
		h.requireOneJobThenANewOne(conn.ID, ids, started)
	})

	t.Run("counted from their handling when the skew is longer than the wait", func(t *testing.T) {
		t.Parallel()
		h, _, _, started := waited(t, time.Hour)
		require.NotEqual(t, started[0].JobID, started[1].JobID)
		require.False(t, started[1].Attached)
		require.Equal(t, 2, h.calls.count("POST /jobs"))
	})
}
