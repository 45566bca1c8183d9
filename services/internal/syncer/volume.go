package syncer

import (
	"context"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/drift"
)

// Volume anomalies: each successful job's per-stream records and bytes are
// kept (one job_volumes row) in the transaction that records its end, and
// each stream's records, and the job's duration, are judged against the
// median of the connection's last successful jobs by the health policy's
// anomalies block. That transaction runs once per job (its end is recorded
// under the job's row lock, once), an open anomaly is a conditional insert
// (one per connection, stream and kind while open) and the fact's id
// derives from the job, the stream and the kind: one sync.anomaly.detected
// per job and stream however often the end is seen. An open anomaly closes
// at the next successful job that judges its stream otherwise (normal
// again, or another kind). A job whose volume is as usual costs one
// pipelined round trip, which also ends the connection's run of failures.

// streamStats are the per-stream records and bytes of a job's info.
func streamStats(info *airbyte.JobInfoRead) []registry.StreamStat {
	vs := info.StreamVolumes()
	out := make([]registry.StreamStat, len(vs))
	for i, v := range vs {
		out[i] = registry.StreamStat{Stream: v.Stream, Records: v.Records, Bytes: v.Bytes}
	}
	return out
}

// historyDepth is how many earlier jobs SuccessRecord reads by default (it
// reads more when the policy's window or minimum history asks for it).
const historyDepth = max(drift.DefaultAnomalyWindow, drift.DefaultAnomalyMinJobs)

// recordSuccess ends the connection's run of failures and keeps a
// successful job's per-stream volume (streams, nil when unknown: then only
// its duration is judged), judges it and queues sync.anomaly.detected for
// each new anomaly, inside the transaction that records the job's end. The
// facts' correlation id is corr.
func recordSuccess(ctx context.Context, q *registry.Queries, job registry.Job, streams []registry.StreamStat, corr string) error {
	hist, err := q.SuccessRecord(ctx, job, streams, historyDepth)
	if err != nil {
		return err
	}
	pol, err := healthOf(hist.Policy)
	if err != nil {
		// A stored policy was valid when it was set; a job's end is never
		// refused over it: the default thresholds judge instead.
		pol, _ = healthOf(nil)
	}
	judged, found := judgeVolume(*pol.Anomalies, job, streams, hist)
	var closed []string
	for _, a := range hist.Open {
		if kind, ok := judged[a.Stream]; ok && kind != a.Kind {
			closed = append(closed, a.ID)
		}
	}
	if len(closed) > 0 {
		if err := q.AnomalyClose(ctx, job.ID, closed); err != nil {
			return err
		}
	}
	for _, an := range found {
		if _, opened, err := q.AnomalyOpen(ctx, an); err != nil || !opened {
			if err != nil {
				return err
			}
			continue // the stream's anomaly of this kind is still open
		}
		if err := outbox.EmitKeyed(ctx, q, events.TypeSyncAnomaly, Source, job.ID+"/anomaly/"+an.Stream+"/"+an.Kind,
			job.ConnectionID, corr, events.SyncAnomaly{ConnectionID: job.ConnectionID, JobID: job.AirbyteJobID,
				Stream: an.Stream, Kind: an.Kind, Metric: an.Metric, Observed: an.Observed,
				Expected: events.ExpectedRange{Min: an.ExpectedMin, Max: an.ExpectedMax}, Median: an.Median,
				HistoryJobs: an.HistoryJobs}); err != nil {
			return err
		}
	}
	return nil
}

// judgeVolume judges each stream's records, and the job's duration (stream
// ""), against their history, each cut to the policy's depth. It returns
// the kind of everything judged ("" for normal) and the anomalies found.
func judgeVolume(a drift.Anomalies, job registry.Job, streams []registry.StreamStat,
	hist registry.VolumeHistory) (map[string]string, []registry.Anomaly) {
	depth := max(a.Window, a.MinJobs)
	cut := func(vs []int64) []int64 { return vs[:min(len(vs), depth)] }
	judged := map[string]string{}
	var found []registry.Anomaly
	note := func(stream, metric, kind string, observed int64, e drift.Expectation) {
		judged[stream] = kind
		if kind != "" {
			found = append(found, registry.Anomaly{ConnectionID: job.ConnectionID, JobID: job.ID, AirbyteJobID: job.AirbyteJobID,
				Stream: stream, Kind: kind, Metric: metric, Observed: observed, ExpectedMin: e.Min, ExpectedMax: e.Max,
				Median: e.Median, HistoryJobs: e.History})
		}
	}
	for _, s := range streams {
		if e, ok := a.Records(cut(hist.Records[s.Stream])); ok {
			note(s.Stream, events.MetricRecords, e.Judge(s.Records), s.Records, e)
		}
	}
	if job.StartedAt != nil && job.CompletedAt != nil {
		if e, ok := a.Duration(cut(hist.Durations)); ok {
			// Only a long job is an anomaly (a quick one, or a clock that went
			// back, is not).
			kind, d := "", job.CompletedAt.Sub(*job.StartedAt).Milliseconds()
			if d > e.Max {
				kind = events.AnomalyDuration
			}
			note("", events.MetricDurationMS, kind, d, e)
		}
	}
	return judged, found
}
