package syncer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

func TestSyncFollowsJobToSuccess(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{manual: true, emulator: emulator.Config{JobRunning: 5 * time.Second}})
	conn := h.SeedConnection()
	h.start(testConfig())

	id := h.sync(conn.ID)
	started := testenv.Data[events.SyncStarted](t, h.WaitFact(id, events.TypeSyncStarted))
	require.Equal(t, conn.ID, started.ConnectionID)
	require.Equal(t, "triggered", started.Status)
	require.False(t, started.Attached)
	require.Equal(t, 1, started.CatalogVersion)
	require.NotEmpty(t, started.JobID)

	// The job runs on the emulator's clock: followed, not finished.
	job := h.jobOf(h.source(), id)
	require.Contains(t, []registry.JobStatus{registry.JobPending, registry.JobRunning}, job.Status)
	require.NotNil(t, job.NextCheckAt)
	require.NotNil(t, job.FollowDeadline)
	require.Eventually(t, func() bool { return h.jobOf(h.source(), id).CheckCount > 0 }, 5*time.Second, 10*time.Millisecond)
	require.Empty(t, h.factsOf(id)[events.TypeSyncSucceeded])

	h.clock.Advance(5 * time.Second)
	ev := h.WaitFact(id, events.TypeSyncSucceeded)
	require.Equal(t, id, events.CorrelationID(ev))
	require.Equal(t, conn.ID, ev.Subject())
	require.Equal(t, Source, ev.Source())
	done := testenv.Data[events.SyncFinished](t, ev)
	require.Equal(t, events.JobSucceeded, done.Status)
	require.Equal(t, started.JobID, done.JobID)
	require.Equal(t, 1, done.CatalogVersion)
	require.Positive(t, done.RowsSynced)
	require.Positive(t, done.BytesSynced)
	require.EqualValues(t, 5000, done.DurationMS)
	require.NotNil(t, done.StartedAt)
	require.NotNil(t, done.CompletedAt)
	require.Empty(t, done.ErrorMessage)

	job = h.jobOf(h.source(), id)
	require.Equal(t, registry.JobSucceeded, job.Status)
	require.Equal(t, 1, job.CatalogVersion)
	require.Equal(t, started.JobID, job.AirbyteJobID)
	require.NotNil(t, job.CompletedAt)
	require.Nil(t, job.NextCheckAt)
	require.Equal(t, done.RowsSynced, job.RowsSynced)
	require.Equal(t, done.BytesSynced, job.BytesSynced)
	abJobs := h.jobsOf(conn.AirbyteConnectionID)
	require.Len(t, abJobs, 1)
	require.Equal(t, abJobs[0].Rows, job.RowsSynced)
	require.Equal(t, abJobs[0].Bytes, job.BytesSynced)

	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))
	inbox, err := h.Store.InboxGet(h.Ctx, h.source(), id)
	require.NoError(t, err)
	require.Equal(t, registry.OutcomeDone, inbox.Outcome)
}

func TestQuickJobIsRecordedWithoutFollowing(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{}) // zero durations: terminal on first read
	conn := h.SeedConnection()
	h.start(testConfig())

	id := h.sync(conn.ID)
	done := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncSucceeded))
	require.Positive(t, done.RowsSynced)
	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))

	job := h.jobOf(h.source(), id)
	require.Equal(t, registry.JobSucceeded, job.Status)
	require.Zero(t, job.CheckCount, "a job that ended before it was recorded is never polled")
	require.Nil(t, job.NextCheckAt)
	require.Equal(t, 1, h.calls.count("POST /jobs"))
	require.Equal(t, 1, h.calls.count(readJobInfo), "one read after the start gives the outcome and the stream stats")
	require.Zero(t, h.calls.count("GET /jobs/{id}"))
}

// The start claim is dropped in the transaction that records the job, a
// quick one or a followed one: the connection's next request takes the turn
// at once (the claim's lease, HandlerTimeout, is far longer than the
// test's wait), and no claim is left.
func TestStartClaimIsDroppedWithTheRecord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		emu  emulator.Config
		fact string
	}{{"ended at once", emulator.Config{}, events.TypeSyncSucceeded}, {"followed", emulator.Config{JobRunning: time.Hour}, events.TypeSyncStarted}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, envOptions{emulator: tc.emu})
			conn := h.SeedConnection()
			h.start(testConfig())
			h.WaitFact(h.sync(conn.ID), tc.fact)
			var claims int
			require.NoError(t, h.Store.DB().QueryRow(h.Ctx, `SELECT count(*) FROM sync_starts WHERE connection_id = $1 AND held_until > now()`, conn.ID).Scan(&claims))
			require.Zero(t, claims, "the claim went with the record")
			if tc.emu.JobRunning == 0 {
				begun := time.Now()
				h.WaitFact(h.sync(conn.ID), tc.fact)
				require.Less(t, time.Since(begun), testConfig().HandlerTimeout/4, "the next request took the turn at once")
				require.Equal(t, 2, h.calls.count("POST /jobs"))
			}
		})
	}
}

func TestRequestsAttachToRunningJob(t *testing.T) {
	t.Parallel()
	h, conn := withRunningJobs(t, 1)

	first := h.sync(conn.ID)
	a := testenv.Data[events.SyncStarted](t, h.WaitFact(first, events.TypeSyncStarted))
	second := h.sync(conn.ID)
	b := testenv.Data[events.SyncStarted](t, h.WaitFact(second, events.TypeSyncStarted))
	require.False(t, a.Attached)
	require.True(t, b.Attached)
	require.Equal(t, a.JobID, b.JobID)
	require.Contains(t, b.Message, a.JobID)
	require.Len(t, h.jobsOf(conn.AirbyteConnectionID), 1, "one Airbyte job")

	h.clock.Advance(time.Minute)
	for _, id := range []string{first, second} {
		done := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncSucceeded))
		require.Equal(t, a.JobID, done.JobID)
		require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))
	}
	links, err := h.Store.JobRequestList(h.Ctx, h.jobOf(h.source(), first).ID)
	require.NoError(t, err)
	require.Len(t, links, 2)
	require.True(t, links[1].Attached)
}

func TestRepeatedRequestIDNeverStartsSecondJob(t *testing.T) {
	t.Parallel()
	h, conn := withRunningJobs(t, 1)

	id := h.sync(conn.ID)
	h.WaitFact(id, events.TypeSyncStarted)
	// The same id again while the job runs, and again after it ended: both
	// are stored by JetStream (no Nats-Msg-Id) and delivered.
	h.waitAcked(h.publishAgain(id, conn.ID))
	h.clock.Advance(time.Minute)
	h.WaitFact(id, events.TypeSyncSucceeded)
	h.waitAcked(h.publishAgain(id, conn.ID))

	require.Len(t, h.jobsOf(conn.AirbyteConnectionID), 1)
	require.Equal(t, 1, h.calls.count("POST /jobs"))
	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))
}

func TestCopyOfRequestInProgressWaits(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{})
	conn := h.SeedConnection()
	deferred := make(chan struct{})
	var once atomic.Bool
	h.start(testConfig(), func(w *Worker) {
		w.beforeStart = func(ctx context.Context) error {
			if once.CompareAndSwap(false, true) {
				// Hold the first copy just before it starts the job until
				// the second copy was put off.
				select {
				case <-deferred:
				case <-time.After(5 * time.Second):
				case <-ctx.Done():
				}
			}
			return nil
		}
		w.onDuplicateInFlight = func() {
			select {
			case <-deferred:
			default:
				close(deferred)
			}
		}
	})
	id := uuid.NewString()
	h.publishAgain(id, conn.ID)
	require.Eventually(t, once.Load, 10*time.Second, 5*time.Millisecond)
	h.publishAgain(id, conn.ID)
	h.WaitFact(id, events.TypeSyncSucceeded)
	select {
	case <-deferred:
	default:
		t.Fatal("the second copy was not put off")
	}
	require.Equal(t, 1, h.calls.count("POST /jobs"))
	require.Len(t, h.jobsOf(conn.AirbyteConnectionID), 1)
	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))
}

func TestCrashAfterStartingJobDoesNotStartAnother(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  emulator.Config
		// loseIntent drops the request's intent as a database crash right
		// after its asynchronous commit would.
		loseIntent bool
	}{
		// The job has ended by the time the request is delivered again.
		{"job ended", emulator.Config{}, false},
		// The job still runs when the request is delivered again.
		{"job running", emulator.Config{JobRunning: time.Hour}, false},
		// The redelivery finds no intent: the message's arrival counts.
		{"intent lost", emulator.Config{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, envOptions{manual: true, emulator: tc.cfg})
			conn := h.SeedConnection()
			// Another job of the connection, recorded before the request:
			// never taken for the one the crashed delivery started.
			earlier := h.sync(conn.ID)
			var crashed atomic.Bool
			_, stop := h.start(testConfig())
			h.WaitFact(earlier, events.TypeSyncStarted)
			stop()
			if tc.cfg.JobRunning > 0 {
				h.clock.Advance(tc.cfg.JobRunning) // let the earlier job end
			}
			h.start(testConfig(), func(w *Worker) {
				w.afterStart = func(ctx context.Context, job *airbyte.Job) error {
					if crashed.CompareAndSwap(false, true) {
						if tc.loseIntent {
							_, err := h.Store.DB().Exec(ctx, `DELETE FROM sync_intents`)
							require.NoError(t, err)
						}
						return errors.New("process killed after POST /jobs")
					}
					return nil
				}
			})
			// The registry knows that the earlier job ended: the request
			// does not attach to it.
			h.WaitFact(earlier, events.TypeSyncSucceeded)

			id := h.sync(conn.ID)
			started := testenv.Data[events.SyncStarted](t, h.WaitFact(id, events.TypeSyncStarted))
			require.True(t, crashed.Load())
			require.False(t, started.Attached, "the job is the one the crashed delivery started")
			require.Equal(t, 2, h.calls.count("POST /jobs"), "the earlier request's job and this request's")
			jobs := h.jobsOf(conn.AirbyteConnectionID)
			require.Len(t, jobs, 2)
			require.Equal(t, fmt.Sprint(jobs[1].ID), started.JobID)

			if tc.cfg.JobRunning > 0 {
				h.clock.Advance(tc.cfg.JobRunning)
			}
			h.WaitFact(id, events.TypeSyncSucceeded)
			require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))
		})
	}
}

func TestUnknownOrInactiveConnectionFailsWithoutAirbyte(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{})
	healing := h.SeedConnection()
	_, err := h.Store.ConnectionSetStatus(h.Ctx, healing.ID, registry.StatusHealing, "catalog update in progress")
	require.NoError(t, err)
	h.start(testConfig())
	before := h.calls.jobCalls()

	unknown := uuid.NewString()
	id := h.sync(unknown)
	ev := h.WaitFact(id, events.TypeSyncFailed)
	require.Equal(t, unknown, ev.Subject())
	failed := testenv.Data[events.SyncFinished](t, ev)
	require.Equal(t, events.JobFailed, failed.Status)
	require.Equal(t, unknown, failed.ConnectionID)
	require.Contains(t, failed.ErrorMessage, "not registered")
	require.Empty(t, failed.JobID)

	id2 := h.sync(healing.ID)
	ev = h.WaitFact(id2, events.TypeSyncFailed)
	require.Equal(t, healing.ID, ev.Subject())
	failed = testenv.Data[events.SyncFinished](t, ev)
	require.Contains(t, failed.ErrorMessage, "HEALING, not ACTIVE")
	require.Contains(t, failed.ErrorMessage, "catalog update in progress")

	require.Equal(t, before, h.calls.jobCalls(), "no Airbyte job call")
	require.Empty(t, h.Emulator.Jobs())
	for _, r := range []string{id, id2} {
		require.Equal(t, []string{events.TypeSyncFailed}, h.outboxTypes(r))
		e, err := h.Store.InboxGet(h.Ctx, h.source(), r)
		require.NoError(t, err)
		require.Equal(t, registry.OutcomeFailed, e.Outcome)
	}
}

func TestFailingJobReportsAirbyteReason(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{manual: true, emulator: emulator.Config{JobRunning: 10 * time.Second, JobRetryDelay: time.Second}})
	conn := h.SeedConnection()
	h.Emulator.FailNextJobs(1)
	h.start(testConfig())

	id := h.sync(conn.ID)
	h.WaitFact(id, events.TypeSyncStarted)
	// Three attempts: running, incomplete, ... failed.
	for range 3 {
		h.clock.Advance(11 * time.Second)
	}
	failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed))
	require.Equal(t, events.JobFailed, failed.Status)
	require.Contains(t, failed.ErrorMessage, "REQUEST_LIMIT_EXCEEDED")
	require.NotEmpty(t, failed.JobID)

	job := h.jobOf(h.source(), id)
	require.Equal(t, registry.JobFailed, job.Status)
	require.Equal(t, failed.ErrorMessage, job.ErrorMessage)
	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncFailed}, h.outboxTypes(id))
}

func TestQuickFailingJobReportsAirbyteReason(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{})
	conn := h.SeedConnection()
	h.Emulator.FailNextJobs(1)
	h.start(testConfig())

	id := h.sync(conn.ID)
	failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed))
	require.Contains(t, failed.ErrorMessage, "REQUEST_LIMIT_EXCEEDED")
	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncFailed}, h.outboxTypes(id))
}

func TestAirbyteErrorBurstsAreRiddenOut(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{emulator: emulator.Config{Seed: 7}})
	const n = 8
	conns := make([]testenv.Seeded, n)
	for i := range conns {
		conns[i] = h.SeedConnection()
	}
	// Half the jobs calls fail: 500 (the start may or may not have
	// happened), 503 and 429 (it did not).
	h.Emulator.SetFaults(emulator.Faults{Path: "/api/public/v1/jobs", ErrorRate: 0.3, ErrorStatus: 500, RateLimitRate: 0.2})
	h.start(testConfig())

	ids := make([]string, n)
	for i, c := range conns {
		ids[i] = h.sync(c.ID)
	}
	for i, id := range ids {
		h.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
		require.Len(t, h.jobsOf(conns[i].AirbyteConnectionID), 1, "one job per request")
		require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))
	}
	h.Emulator.SetFaults(emulator.Faults{Path: "/api/public/v1/jobs", ErrorRate: 1, ErrorStatus: 503})
	id := h.sync(conns[0].ID)
	// Still failing after every delivery: the request ends failed, once.
	failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed, 30*time.Second))
	require.Contains(t, failed.ErrorMessage, "gave up after 8 deliveries")
}

func TestAirbyteRefusalIsPermanent(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{})
	conn := h.SeedConnection()
	require.NoError(t, h.Emulator.SetConnectionStatus(conn.AirbyteConnectionID, "inactive", "breaking schema change"))
	h.start(testConfig())

	id := h.sync(conn.ID)
	failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed))
	require.Contains(t, failed.ErrorMessage, "inactive")
	require.Equal(t, 1, h.calls.count("POST /jobs"), "not retried")
}

func TestFollowingSurvivesRestart(t *testing.T) {
	t.Parallel()
	h, w1, stop, id := followed(t, time.Hour)
	require.Eventually(t, func() bool { return h.jobOf(h.source(), id).CheckCount > 0 }, 5*time.Second, 10*time.Millisecond)
	stop()

	h.clock.Advance(time.Hour)
	w2, _ := h.start(testConfig())
	require.NotSame(t, w1, w2)
	h.WaitFact(id, events.TypeSyncSucceeded)
	require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id))
	require.Len(t, h.factsOf(id)[events.TypeSyncSucceeded], 1)
}

func TestFollowTimeoutCancelsJob(t *testing.T) {
	t.Parallel()
	for _, conflict := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancel conflict %v", conflict), func(t *testing.T) {
			t.Parallel()
			h := setup(t, envOptions{manual: true, emulator: emulator.Config{JobRunning: time.Hour, CancelTerminalConflict: conflict}})
			conn := h.SeedConnection()
			cfg := testConfig()
			cfg.FollowTimeout = 200 * time.Millisecond
			h.start(cfg)

			id := h.sync(conn.ID)
			h.WaitFact(id, events.TypeSyncStarted)
			cancelled := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncCancelled))
			require.Equal(t, events.JobCancelled, cancelled.Status)
			require.Contains(t, cancelled.ErrorMessage, "follow timeout (200ms)")
			jobs := h.jobsOf(conn.AirbyteConnectionID)
			require.Len(t, jobs, 1)
			require.Equal(t, "cancelled", jobs[0].Status)
			require.Equal(t, registry.JobCancelled, h.jobOf(h.source(), id).Status)
		})
	}
}

func TestTwoInstancesShareWork(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{emulator: emulator.Config{JobRunning: 150 * time.Millisecond}})
	conns := make([]testenv.Seeded, 4)
	for i := range conns {
		conns[i] = h.SeedConnection()
	}
	h.start(testConfig())
	h.start(testConfig())

	const perConn = 6
	var ids []string
	for range perConn {
		for _, c := range conns {
			ids = append(ids, h.sync(c.ID))
		}
	}
	jobIDs := map[string]bool{}
	for _, id := range ids {
		h.WaitFact(id, events.TypeSyncSucceeded, 30*time.Second)
	}
	for _, id := range ids {
		require.Equal(t, []string{events.TypeSyncStarted, events.TypeSyncSucceeded}, h.outboxTypes(id), "request %s", id)
		jobIDs[h.jobOf(h.source(), id).AirbyteJobID] = true
		fs := h.factsOf(id)
		assert.Len(t, fs[events.TypeSyncStarted], 1)
		assert.Len(t, fs[events.TypeSyncSucceeded], 1)
	}
	// Every Airbyte job answers some request: none was started twice.
	require.Len(t, h.Emulator.Jobs(), len(jobIDs))
	require.LessOrEqual(t, len(jobIDs), len(ids))
}

// TestRequestWaitingForTheTurnOfAForgottenConnection holds the request
// that starts a connection's sync until another request waits for the
// turn, with Airbyte's state gone: the holder's POST /jobs answers 404 and
// marks the connection ORPHANED before it gives the turn up, so the waiter
// fails at once without asking Airbyte. A copy of a request published
// after its answer is answered by the inbox.
func TestRequestWaitingForTheTurnOfAForgottenConnection(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{})
	conn := h.SeedConnection()
	h.Emulator.Reset()
	var turns atomic.Int32
	bothTurned := make(chan struct{})
	h.start(testConfig(), func(w *Worker) {
		w.beforeTurn = func(context.Context) {
			if turns.Add(1) == 2 {
				close(bothTurned)
			}
		}
		w.beforeStart = func(ctx context.Context) error {
			select {
			case <-bothTurned:
			case <-time.After(10 * time.Second):
			case <-ctx.Done():
			}
			return nil
		}
	})
	ids := []string{h.sync(conn.ID), h.sync(conn.ID)}
	for _, id := range ids {
		failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed))
		require.Contains(t, failed.ErrorMessage, "connection "+conn.ID+" is ORPHANED (Airbyte does not know connection "+conn.AirbyteConnectionID)
	}
	require.Equal(t, 1, h.calls.count("POST /jobs"), "one start asked Airbyte")
	require.Equal(t, registry.StatusOrphaned, h.Connection(conn.ID).Status)
	require.Len(t, h.FactsAbout(events.TypeConnectionOrphaned, conn.ID), 1)

	seq := h.publishAgain(ids[0], conn.ID)
	h.waitAcked(seq)
	require.Len(t, h.factsOf(ids[0])[events.TypeSyncFailed], 1, "one answer")
	require.Equal(t, 1, h.calls.count("POST /jobs"))
	require.Len(t, h.FactsAbout(events.TypeConnectionOrphaned, conn.ID), 1)
}

// TestFollowedJobOfAForgottenConnection follows a running job whose
// Airbyte then forgets everything: at the follow deadline the job is not
// found, nor is its connection, so the job fails with the reason and the
// connection is marked ORPHANED, once; a later request fails at once.
// Airbyte forgets right after the job's start, before any later call is
// sent, so that a follow deadline reached before the test sees the start
// still meets the forgotten job.
func TestFollowedJobOfAForgottenConnection(t *testing.T) {
	t.Parallel()
	h := setup(t, envOptions{emulator: emulator.Config{JobRunning: time.Hour}})
	conn := h.SeedConnection()
	var forget sync.Once
	h.calls.setBefore(func(*http.Request, []byte) error {
		if h.calls.count("POST /jobs") > 0 {
			forget.Do(h.Emulator.Reset)
		}
		return nil
	})
	cfg := testConfig()
	cfg.FollowTimeout = 300 * time.Millisecond
	h.start(cfg)
	id := h.sync(conn.ID)
	started := testenv.Data[events.SyncStarted](t, h.WaitFact(id, events.TypeSyncStarted))

	failed := testenv.Data[events.SyncFinished](t, h.WaitFact(id, events.TypeSyncFailed))
	require.Equal(t, started.JobID, failed.JobID)
	require.Contains(t, failed.ErrorMessage, "Airbyte no longer knows job "+started.JobID)
	require.Contains(t, failed.ErrorMessage, "connection "+conn.ID+" is ORPHANED (Airbyte does not know connection "+
		conn.AirbyteConnectionID+": GET /api/public/v1/connections/"+conn.AirbyteConnectionID+" answered 404)")
	require.Equal(t, registry.StatusOrphaned, h.Connection(conn.ID).Status)
	facts := h.FactsAbout(events.TypeConnectionOrphaned, conn.ID)
	require.Len(t, facts, 1)
	require.Empty(t, events.CorrelationID(facts[0]), "no request met the 404")
	got := testenv.Data[events.ConnectionOrphaned](t, facts[0])
	require.Equal(t, "ACTIVE", got.PreviousStatus)
	require.Equal(t, events.OrphanedConnection, got.Resource)

	starts := h.calls.count("POST /jobs")
	later := h.sync(conn.ID)
	require.Contains(t, testenv.Data[events.SyncFinished](t, h.WaitFact(later, events.TypeSyncFailed)).ErrorMessage, "is ORPHANED")
	require.Equal(t, starts, h.calls.count("POST /jobs"))
	require.Len(t, h.FactsAbout(events.TypeConnectionOrphaned, conn.ID), 1)
}

// TestRequestWaitingForTheTurnStopsWhenTheConnectionIsRefused holds the
// request that starts a connection's sync while another waits for the
// turn, and changes the connection's status meanwhile: a status the start
// check refuses (PAUSED, QUARANTINED) fails the waiter with the reason
// while the holder is still held, long before the delivery's deadline;
// HEALING keeps it waiting, and it is answered once the connection is
// ACTIVE again.
func TestRequestWaitingForTheTurnStopsWhenTheConnectionIsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status registry.ConnectionStatus
		reason string
	}{
		{registry.StatusPaused, "breaking drift needs approval"},
		{registry.StatusQuarantined, "quarantined after 5 consecutive failed syncs"},
		{registry.StatusHealing, "catalog update in progress"},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			h := setup(t, envOptions{})
			conn := h.SeedConnection()
			var turns atomic.Int32
			holding, waiting, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
			var holdOnce, releaseOnce sync.Once
			releaseHolder := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(releaseHolder)
			cfg := testConfig()
			cfg.HandlerTimeout = 2 * time.Minute // far beyond the waits below
			h.start(cfg, func(w *Worker) {
				// The holder claimed the start with its intent; the waiter
				// found it claimed and takes turns.
				w.beforeTurn = func(context.Context) {
					if turns.Add(1) == 1 {
						close(waiting)
					}
				}
				w.beforeStart = func(ctx context.Context) error {
					holdOnce.Do(func() { close(holding) })
					select {
					case <-release:
					case <-ctx.Done():
					}
					return nil
				}
			})
			holder := h.sync(conn.ID)
			<-holding
			waiter := h.sync(conn.ID)
			<-waiting
			_, err := h.Store.ConnectionSetStatus(h.Ctx, conn.ID, tc.status, tc.reason)
			require.NoError(t, err)

			if tc.status != registry.StatusHealing {
				failed := testenv.Data[events.SyncFinished](t, h.WaitFact(waiter, events.TypeSyncFailed, 30*time.Second))
				require.Contains(t, failed.ErrorMessage, "connection "+conn.ID+" is "+string(tc.status)+" ("+tc.reason+")")
				require.Empty(t, failed.JobID)
				require.Zero(t, h.calls.count("POST /jobs"), "answered while the holder is held")
				releaseHolder()
				h.WaitFact(holder, events.TypeSyncStarted)
				require.Equal(t, 1, h.calls.count("POST /jobs"), "the waiter asked Airbyte for nothing")
				return
			}
			_, err = h.Store.ConnectionSetStatus(h.Ctx, conn.ID, registry.StatusActive, "")
			require.NoError(t, err)
			releaseHolder()
			h.WaitFact(holder, events.TypeSyncStarted)
			// The holder's job was claimed before the waiter was seen: the
			// waiter takes the turn after it and starts the next.
			h.WaitFact(waiter, events.TypeSyncSucceeded)
			require.Empty(t, h.factsOf(waiter)[events.TypeSyncFailed])
			require.Equal(t, 2, h.calls.count("POST /jobs"))
		})
	}
}
