package syncer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/drift"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// healthHarness drives failing syncs of one connection.
type healthHarness struct {
	*harness
	conn testenv.Seeded
}

// syncEnd publishes a sync request, waits for its terminal fact of typ and
// returns the request id.
func (h healthHarness) syncEnd(typ string) string {
	h.T.Helper()
	id := h.sync(h.conn.ID)
	h.WaitFact(id, typ)
	return id
}

// airbyteStatus is the emulator's status of the connection.
func (h healthHarness) airbyteStatus() string {
	for _, c := range h.Emulator.Connections() {
		if c.ID == h.conn.AirbyteConnectionID {
			return c.Status
		}
	}
	return ""
}

// queued counts the facts of typ queued for the connection.
func (h healthHarness) queued(typ string) int {
	h.T.Helper()
	msgs, err := h.Store.OutboxByConnection(h.Ctx, h.conn.ID, 1000)
	require.NoError(h.T, err)
	n := 0
	for _, m := range msgs {
		if m.EventType == typ {
			n++
		}
	}
	return n
}

func (h healthHarness) health() registry.Health {
	h.T.Helper()
	got, err := h.Store.HealthGet(h.Ctx, h.conn.ID)
	require.NoError(h.T, err)
	return got
}

func (h healthHarness) status() registry.ConnectionStatus {
	h.T.Helper()
	c, err := h.Store.ConnectionGet(h.Ctx, h.conn.ID)
	require.NoError(h.T, err)
	return c.Status
}

func TestQuarantineAfterConsecutiveFailures(t *testing.T) {
	t.Parallel()
	h := healthHarness{harness: setup(t, envOptions{})}
	h.conn = h.SeedConnection()
	h.start(testConfig())
	h.Emulator.FailNextJobs(10)

	for i := 1; i <= 2; i++ {
		h.syncEnd(events.TypeSyncFailed)
	}
	require.Equal(t, 2, h.health().ConsecutiveFailures)
	require.Zero(t, h.queued(events.TypeHealthWarning), "no warning before 3 failures")

	third := h.syncEnd(events.TypeSyncFailed)
	warning := testenv.Data[events.HealthWarning](t, h.WaitFact(third, events.TypeHealthWarning))
	require.Equal(t, events.HealthWarning{ConnectionID: h.conn.ID, ConsecutiveFailures: 3, WarnAfter: 3, QuarantineAfter: 5,
		LastFailures: warning.LastFailures}, warning)
	require.Len(t, warning.LastFailures, 3)
	require.Equal(t, events.FailureSource, warning.LastFailures[0].FailureClass)
	require.Equal(t, registry.StatusActive, h.status(), "a warning does not quarantine")

	h.syncEnd(events.TypeSyncFailed)
	fifth := h.syncEnd(events.TypeSyncFailed)
	q := testenv.Data[events.ConnectionQuarantined](t, h.WaitFact(fifth, events.TypeQuarantined))
	require.Equal(t, string(registry.StatusQuarantined), q.Status)
	require.Equal(t, 5, q.ConsecutiveFailures)
	require.Len(t, q.LastFailures, 5)
	require.Contains(t, q.Reason, "5 consecutive failed syncs")
	require.Equal(t, registry.StatusQuarantined, h.status())
	require.Eventually(t, func() bool { return h.airbyteStatus() == "inactive" }, 10*time.Second, 10*time.Millisecond,
		"the Airbyte connection is made inactive")
	require.Eventually(t, func() bool { return !h.health().AirbytePausePending }, 10*time.Second, 10*time.Millisecond)

	// Sync requests are refused with the reason, without a job.
	jobs := len(h.jobsOf(h.conn.AirbyteConnectionID))
	refused := h.sync(h.conn.ID)
	failed := testenv.Data[events.SyncFinished](t, h.WaitFact(refused, events.TypeSyncFailed))
	require.Contains(t, failed.ErrorMessage, "QUARANTINED")
	require.Contains(t, failed.ErrorMessage, q.Reason)
	require.Empty(t, failed.FailureClass, "no job ran")
	require.Len(t, h.jobsOf(h.conn.AirbyteConnectionID), jobs)

	// Release: ACTIVE again, active in Airbyte, the count reset.
	rel := h.Publish(events.TypeReleaseRequested, events.ReleaseRequested{ConnectionID: h.conn.ID, Reason: "credentials renewed"})
	released := testenv.Data[events.ConnectionReleased](t, h.WaitFact(rel, events.TypeReleased))
	require.Equal(t, events.ConnectionReleased{ConnectionID: h.conn.ID, Status: "ACTIVE", PreviousStatus: "QUARANTINED",
		ConsecutiveFailures: 5, Reason: "credentials renewed"}, released)
	require.Equal(t, registry.StatusActive, h.status())
	require.Equal(t, "active", h.airbyteStatus())
	require.Zero(t, h.health().ConsecutiveFailures)

	// A release of a connection that is not quarantined is rejected.
	again := h.Publish(events.TypeReleaseRequested, events.ReleaseRequested{ConnectionID: h.conn.ID})
	rejected := testenv.Data[events.RequestRejected](t, h.WaitFact(again, events.TypeRequestRejected))
	require.Contains(t, rejected.Reason, "not QUARANTINED")

	// Failures count again from one; a success resets the count.
	h.Emulator.FailNextJobs(2)
	h.syncEnd(events.TypeSyncFailed)
	h.syncEnd(events.TypeSyncFailed)
	require.Equal(t, 2, h.health().ConsecutiveFailures)
	h.syncEnd(events.TypeSyncSucceeded)
	got := h.health()
	require.Zero(t, got.ConsecutiveFailures)
	require.NotNil(t, got.LastSuccessAt)
	require.Equal(t, 1, h.queued(events.TypeHealthWarning))
	require.Equal(t, 1, h.queued(events.TypeQuarantined))

	// A new run of failures is a new episode: its own warning.
	h.Emulator.FailNextJobs(3)
	for range 3 {
		h.syncEnd(events.TypeSyncFailed)
	}
	require.Equal(t, 2, h.queued(events.TypeHealthWarning))
	require.Equal(t, 3, h.health().WarnedEpisode, "runs: to the quarantine, two failures, three failures")
}

func TestOneWarningAndQuarantinePerEpisodeUnderRedeliveryAndRestarts(t *testing.T) {
	t.Parallel()
	h := healthHarness{harness: setup(t, envOptions{})}
	h.conn = h.SeedConnection()
	_, stop := h.start(testConfig())
	h.start(testConfig()) // a second process on the same consumers and followers
	h.Emulator.FailNextJobs(8)

	for i := 1; i <= 7; i++ {
		id := h.syncEnd(events.TypeSyncFailed)
		h.waitAcked(h.publishAgain(id, h.conn.ID)) // the same request again, after the duplicate window
		if i == 3 {
			stop() // a restart: a new process carries on
			h.start(testConfig())
		}
	}
	require.Equal(t, registry.StatusQuarantined, h.status())
	require.Equal(t, 5, h.health().ConsecutiveFailures, "refused requests do not count")
	require.Equal(t, 1, h.queued(events.TypeHealthWarning))
	require.Equal(t, 1, h.queued(events.TypeQuarantined))
	require.Eventually(t, func() bool { return len(h.FactsAbout(events.TypeQuarantined, h.conn.ID)) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Len(t, h.FactsAbout(events.TypeHealthWarning, h.conn.ID), 1)
}

func TestCredentialsFailureQuarantinesAtOnceByPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		policy string
		want   registry.ConnectionStatus
	}{
		{"default policy", "", registry.StatusQuarantined},
		{"policy says so", `{"rules":[],"health":{"quarantine_on_credentials":true}}`, registry.StatusQuarantined},
		{"policy says no", `{"rules":[],"health":{"quarantine_on_credentials":false}}`, registry.StatusActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := healthHarness{harness: setup(t, envOptions{})}
			h.conn = h.SeedConnection()
			if tc.policy != "" {
				_, _, err := h.Store.PolicyCreate(h.Ctx, h.conn.ID, []byte(tc.policy), "", "")
				require.NoError(t, err)
			}
			h.start(testConfig())
			h.Emulator.FailNextJobsWith(1, "config_error", "source") // revoked credentials

			id := h.syncEnd(events.TypeSyncFailed)
			require.Equal(t, events.FailureCredentials, h.jobOf(h.source(), id).FailureClass)
			require.Equal(t, tc.want, h.status())
			if tc.want == registry.StatusQuarantined {
				q := testenv.Data[events.ConnectionQuarantined](t, h.WaitFact(id, events.TypeQuarantined))
				require.Equal(t, 1, q.ConsecutiveFailures)
				require.Contains(t, q.Reason, "credentials")
				require.Equal(t, events.FailureCredentials, q.LastFailures[0].FailureClass)
				require.Zero(t, h.queued(events.TypeHealthWarning), "quarantined before the warning threshold")
			} else {
				require.Zero(t, h.queued(events.TypeQuarantined))
			}
		})
	}
}

// patches makes the harness's Airbyte calls pass through a StatusPatches.
func (h healthHarness) patches() *testenv.StatusPatches {
	p := testenv.NewStatusPatches()
	h.calls.setBefore(p.Before)
	return p
}

func (h healthHarness) waitHealthLockWaiter() {
	h.T.Helper()
	require.Eventually(h.T, func() bool { return h.StatusLockWaiters(h.conn.ID) > 0 }, 15*time.Second, 5*time.Millisecond,
		"a transaction waits for the connection's health lock")
}

func waitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not happen", what)
	}
}

// TestReleaseWaitsForTheMakeInactiveInFlight releases a connection while
// its quarantine's make-inactive call is on its way to Airbyte: the
// release waits for that call to land and then makes the connection
// active, so Airbyte and the registry agree on active.
func TestReleaseWaitsForTheMakeInactiveInFlight(t *testing.T) {
	t.Parallel()
	h := healthHarness{harness: setup(t, envOptions{})}
	h.conn = h.SeedConnection()
	p := h.patches()
	entered, unblock := p.HoldNext(airbyte.ConnectionInactive)
	t.Cleanup(unblock)
	h.start(testConfig())
	h.Emulator.FailNextJobsWith(1, "config_error", "source")
	h.syncEnd(events.TypeSyncFailed)
	require.Equal(t, registry.StatusQuarantined, h.status())
	waitClosed(t, entered, "the make-inactive call")

	rel := h.Publish(events.TypeReleaseRequested, events.ReleaseRequested{ConnectionID: h.conn.ID, Reason: "credentials renewed"})
	h.waitHealthLockWaiter()
	require.Zero(t, p.Count(airbyte.ConnectionActive), "no reactivation before the make-inactive call lands")
	unblock()

	h.WaitFact(rel, events.TypeReleased)
	require.Equal(t, registry.StatusActive, h.status())
	require.Equal(t, 1, p.Count(airbyte.ConnectionInactive))
	require.Equal(t, 1, p.Count(airbyte.ConnectionActive))
	require.Equal(t, "active", h.airbyteStatus())
	require.False(t, h.health().AirbytePausePending)
}

// TestMakeInactiveListedBeforeAReleaseIsNotMade lists a quarantined
// connection for its make-inactive call while a release is reactivating
// it: the call waits for the release and then, the connection ACTIVE, is
// not made, so Airbyte and the registry agree on active.
func TestMakeInactiveListedBeforeAReleaseIsNotMade(t *testing.T) {
	t.Parallel()
	h := healthHarness{harness: setup(t, envOptions{})}
	h.conn = h.SeedConnection()
	p := h.patches()
	p.SetFail(airbyte.ConnectionInactive, true) // the pause stays pending
	h.start(testConfig())
	h.Emulator.FailNextJobsWith(1, "config_error", "source")
	h.syncEnd(events.TypeSyncFailed)
	require.Equal(t, registry.StatusQuarantined, h.status())
	require.True(t, h.health().AirbytePausePending)

	entered, unblock := p.HoldNext(airbyte.ConnectionActive)
	t.Cleanup(unblock)
	rel := h.Publish(events.TypeReleaseRequested, events.ReleaseRequested{ConnectionID: h.conn.ID})
	waitClosed(t, entered, "the reactivation call")
	h.waitHealthLockWaiter() // the follower's next make-inactive waits for the release
	p.SetFail(airbyte.ConnectionInactive, false)
	unblock()

	h.WaitFact(rel, events.TypeReleased)
	require.Eventually(t, func() bool { return h.StatusLockWaiters(h.conn.ID) == 0 }, 15*time.Second, 5*time.Millisecond)
	require.Equal(t, registry.StatusActive, h.status())
	require.False(t, h.health().AirbytePausePending)
	require.Zero(t, p.Count(airbyte.ConnectionInactive), "no make-inactive call after the release")
	require.Equal(t, "active", h.airbyteStatus())
}

func TestJudgeVolume(t *testing.T) {
	t.Parallel()
	steady := func(v int64) []int64 {
		out := make([]int64, 12)
		for i := range out {
			out[i] = v + int64(i%3)
		}
		return out
	}
	hist := registry.VolumeHistory{Records: map[string][]int64{"Account": steady(1000), "Contact": steady(50), "Lead": steady(10)[:5]},
		Durations: steady(60000)}
	started := time.Now()
	job := func(d time.Duration) registry.Job {
		ended := started.Add(d)
		return registry.Job{ID: "j", ConnectionID: "c", AirbyteJobID: "7", StartedAt: &started, CompletedAt: &ended}
	}
	streams := []registry.StreamStat{{Stream: "Account", Records: 100}, {Stream: "Contact", Records: 52},
		{Stream: "Lead", Records: 0}, {Stream: "New", Records: 5}}
	a := (*drift.Anomalies)(nil).WithDefaults()

	judged, found := judgeVolume(a, job(4*time.Minute), streams, hist)
	require.Equal(t, map[string]string{"Account": events.AnomalyDrop, "Contact": "", "": events.AnomalyDuration}, judged,
		"Lead has too little history, New none")
	require.Len(t, found, 2)
	require.Equal(t, registry.Anomaly{ConnectionID: "c", JobID: "j", AirbyteJobID: "7", Stream: "Account", Kind: events.AnomalyDrop,
		Metric: events.MetricRecords, Observed: 100, ExpectedMin: 501, ExpectedMax: 3003, Median: 1001, HistoryJobs: 10}, found[0])
	require.Equal(t, registry.Anomaly{ConnectionID: "c", JobID: "j", AirbyteJobID: "7", Kind: events.AnomalyDuration,
		Metric: events.MetricDurationMS, Observed: 240000, ExpectedMin: 0, ExpectedMax: 180003, Median: 60001, HistoryJobs: 10}, found[1])

	for _, d := range []time.Duration{time.Minute, time.Second, -time.Second} {
		judged, found = judgeVolume(a, job(d), nil, hist)
		require.Equal(t, map[string]string{"": ""}, judged, "%s is no anomaly", d)
		require.Empty(t, found)
	}
	a.Disabled = true
	judged, found = judgeVolume(a, job(time.Hour), streams, hist)
	require.Empty(t, judged)
	require.Empty(t, found)
}
