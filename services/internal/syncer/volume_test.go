package syncer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// volumeHarness drives successful syncs of one connection with two
// streams, Account and Contact.
type volumeHarness struct{ healthHarness }

func setupVolume(t *testing.T, workers int) volumeHarness {
	t.Helper()
	h := volumeHarness{healthHarness{harness: setup(t, envOptions{})}}
	h.conn = h.SeedConnection(testenv.SeedOptions{Streams: []string{"Account", "Contact"}})
	for range workers {
		h.start(testConfig())
	}
	return h
}

// steady runs n successful syncs at the streams' usual volume.
func (h volumeHarness) steady(n int) {
	h.T.Helper()
	for range n {
		h.syncEnd(events.TypeSyncSucceeded)
	}
}

// next makes the Account stream's next job move kind's volume (or factor
// times its usual volume when factor is set) and runs it.
func (h volumeHarness) next(kind string, factor *float64) string {
	h.T.Helper()
	require.NoError(h.T, h.Emulator.SetStreamVolume(h.conn.AirbyteConnectionID,
		emulator.VolumeChange{Stream: "Account", Kind: kind, Factor: factor, Jobs: 1}))
	return h.syncEnd(events.TypeSyncSucceeded)
}

// openJobs lists the registry ids of the jobs that raised the
// connection's open anomalies.
func (h volumeHarness) openJobs() []string {
	h.T.Helper()
	got, err := h.Store.AnomalyListOpen(h.Ctx, h.conn.ID)
	require.NoError(h.T, err)
	ids := make([]string, len(got))
	for i, a := range got {
		ids[i] = a.JobID
	}
	return ids
}

func TestVolumeDropRaisesOneAnomaly(t *testing.T) {
	t.Parallel()
	h := setupVolume(t, 2) // two processes on the same consumers and followers
	h.steady(10)
	require.Zero(t, h.queued(events.TypeSyncAnomaly), "steady jobs")

	id := h.next("drop", nil)
	got := testenv.Data[events.SyncAnomaly](t, h.WaitFact(id, events.TypeSyncAnomaly))
	job := h.jobOf(h.source(), id)
	require.Equal(t, job.AirbyteJobID, got.JobID)
	require.Equal(t, "Account", got.Stream)
	require.Equal(t, events.AnomalyDrop, got.Kind)
	require.Equal(t, events.MetricRecords, got.Metric)
	require.Equal(t, 10, got.HistoryJobs)
	require.InDelta(t, got.Median/10, float64(got.Observed), got.Median*0.03, "a tenth of the usual volume")
	require.Less(t, got.Observed, got.Expected.Min)
	require.Greater(t, got.Expected.Max, int64(got.Median))

	// The same request again, after the duplicate window, and a restart:
	// still one anomaly.
	h.waitAcked(h.publishAgain(id, h.conn.ID))
	h.start(testConfig())
	require.Equal(t, 1, h.queued(events.TypeSyncAnomaly))
	require.Eventually(t, func() bool { return len(h.FactsAbout(events.TypeSyncAnomaly, h.conn.ID)) == 1 },
		10*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{job.ID}, h.openJobs())

	// The health view shows it until a normal job of the stream closes it.
	next := h.syncEnd(events.TypeSyncSucceeded)
	require.Empty(t, h.openJobs())
	require.Equal(t, 1, h.queued(events.TypeSyncAnomaly))

	stats, err := h.Store.StatsList(h.Ctx, h.conn.ID, 20)
	require.NoError(t, err)
	require.Len(t, stats, 12)
	require.Equal(t, h.jobOf(h.source(), next).ID, stats[0].JobID, "newest first")
	require.Equal(t, []string{"Account", "Contact"}, []string{stats[0].Streams[0].Stream, stats[0].Streams[1].Stream})
	for _, s := range stats {
		require.Len(t, s.Streams, 2)
		require.Equal(t, s.RowsSynced, s.Streams[0].Records+s.Streams[1].Records, "the streams add up to the job's rows")
		require.Positive(t, s.Streams[0].Bytes)
	}
}

func TestNoVolumeAnomalyBeforeHistoryOrWithinThresholds(t *testing.T) {
	t.Parallel()
	h := setupVolume(t, 1)
	h.steady(4)
	h.next("zero", nil) // the fifth job: too little history to judge by
	h.steady(6)
	require.Zero(t, h.queued(events.TypeSyncAnomaly), "no anomaly before 10 jobs of history")

	twice := 2.0
	h.next("", &twice) // a one-off spike within the thresholds (3x)
	h.steady(1)
	require.Zero(t, h.queued(events.TypeSyncAnomaly), "a spike within the thresholds")

	id := h.next("zero", nil)
	got := testenv.Data[events.SyncAnomaly](t, h.WaitFact(id, events.TypeSyncAnomaly))
	require.Equal(t, events.AnomalyZero, got.Kind)
	require.Equal(t, "Account", got.Stream)
	require.Zero(t, got.Observed)
	require.Equal(t, 1, h.queued(events.TypeSyncAnomaly))
}
