package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// newRequest builds a request event from source.
func newRequest(t *testing.T, eventType, source string, data any, opts ...events.Option) event.Event {
	t.Helper()
	ev, err := events.New(eventType, source, data, opts...)
	require.NoError(t, err)
	return ev
}

// publishStored publishes a request until JetStream stores it, as a
// careful client does: each attempt has a short deadline, and a failed
// attempt is sent again with the same Nats-Msg-Id (the CloudEvent id), so
// that a copy the stream did store before its answer was lost is dropped
// as a duplicate. It returns the number of failed attempts.
func publishStored(ctx context.Context, t *testing.T, js jetstream.JetStream, ev event.Event) int {
	t.Helper()
	d, ok := events.Lookup(ev.Type())
	require.True(t, ok, "unknown type %s", ev.Type())
	msg, err := events.ToMsg(d.Subject, ev, events.Binary)
	require.NoError(t, err)
	for failed := 0; ; failed++ {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.PublishMsg(actx, msg, jetstream.WithMsgID(ev.ID()))
		cancel()
		if err == nil {
			return failed
		}
		require.NoError(t, ctx.Err(), "request %s never stored; last error: %v", ev.ID(), err)
		select { // back off a little before the next attempt
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readStream reads every message of a stream with an ordered consumer.
func readStream(ctx context.Context, t *testing.T, js jetstream.JetStream, name string) []*nats.Msg {
	t.Helper()
	s, err := js.Stream(ctx, name)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	if info.State.Msgs == 0 {
		return nil
	}
	last := info.State.LastSeq
	oc, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	out := make([]*nats.Msg, 0, info.State.Msgs)
	// Each batch waits at most 5 s, and is cancelled when the stream's end
	// is read in the middle of it, so that no fetch outlives the call.
	fetch := func() bool {
		bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		batch, err := oc.Fetch(1000, jetstream.FetchContext(bctx))
		require.NoError(t, err)
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			require.NoError(t, err)
			out = append(out, &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
			if meta.Sequence.Stream >= last {
				return true
			}
		}
		if err := batch.Error(); err != nil && !strings.Contains(err.Error(), "timeout") && !errors.Is(err, context.DeadlineExceeded) {
			require.NoError(t, err)
		}
		return false
	}
	for ctx.Err() == nil {
		if fetch() {
			return out
		}
	}
	t.Fatalf("stream %s not read to its end (sequence %d): %v", name, last, ctx.Err())
	return nil
}

// streamFacts decodes the facts of AAM_EVENTS and checks that no fact id
// (CloudEvent id and Nats-Msg-Id alike) occurs twice. It returns the facts
// by the request they answer (correlationid).
func streamFacts(t *testing.T, msgs []*nats.Msg) map[string][]event.Event {
	t.Helper()
	byRequest := map[string][]event.Event{}
	ids := map[string]int{}
	msgIDs := map[string]int{}
	for _, m := range msgs {
		ev, _, err := events.FromMsg(m)
		require.NoError(t, err, "fact on %s", m.Subject)
		require.Equal(t, ev.ID(), m.Header.Get(events.HeaderMsgID), "Nats-Msg-Id of fact %s", ev.ID())
		ids[ev.ID()]++
		msgIDs[m.Header.Get(events.HeaderMsgID)]++
		byRequest[events.CorrelationID(ev)] = append(byRequest[events.CorrelationID(ev)], ev)
	}
	for id, n := range ids {
		require.Equal(t, 1, n, "fact id %s occurs %d times in %s", id, n, "AAM_EVENTS")
	}
	for id, n := range msgIDs {
		require.Equal(t, 1, n, "Nats-Msg-Id %s occurs %d times", id, n)
	}
	return byRequest
}

// types lists the types of facts.
func types(fs []event.Event) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Type())
	}
	return out
}

// jobHistory returns the registry's job_history rows per Airbyte job id.
func jobHistory(t *testing.T, env *testenv.Env) map[string]int {
	t.Helper()
	rows, err := env.Schema.Pool.Query(context.Background(), `SELECT airbyte_job_id, count(*) FROM job_history GROUP BY 1`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		require.NoError(t, rows.Scan(&id, &n))
		out[id] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// jobLinks returns, per sync request id, the Airbyte job it is linked to
// and whether it is attached to a job another request started.
func jobLinks(t *testing.T, env *testenv.Env) map[string]jobLink {
	t.Helper()
	rows, err := env.Schema.Pool.Query(context.Background(), `SELECT r.request_id, h.airbyte_job_id, r.attached
		FROM job_requests r JOIN job_history h ON h.id = r.job_id`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]jobLink{}
	for rows.Next() {
		var id string
		var l jobLink
		require.NoError(t, rows.Scan(&id, &l.job, &l.attached))
		out[id] = l
	}
	require.NoError(t, rows.Err())
	return out
}

type jobLink struct {
	job      string
	attached bool
}

// checkAirbyteJobs checks that every sync job in Airbyte is recorded once
// in the registry's job history (a job no request recorded would be a
// second job started for one request), that every request is linked to a
// job, and that of the requests a job answers all but at most one (the one
// that started it) are flagged attached. It returns the links by request.
func checkAirbyteJobs(t *testing.T, env *testenv.Env, requests []string) map[string]jobLink {
	t.Helper()
	history := jobHistory(t, env)
	var abJobs []emulator.JobSnapshot
	for _, j := range env.Emulator.Jobs() {
		if j.JobType == "sync" {
			abJobs = append(abJobs, j)
		}
	}
	for _, j := range abJobs {
		id := fmt.Sprint(j.ID)
		require.Equal(t, 1, history[id], "job_history rows of Airbyte job %s", id)
		delete(history, id)
	}
	require.Empty(t, history, "job_history rows without an Airbyte job")
	links := jobLinks(t, env)
	require.Len(t, links, len(requests), "sync requests linked to a job")
	starters := map[string]int{}
	for _, id := range requests {
		l, ok := links[id]
		require.True(t, ok, "request %s is linked to no job", id)
		if !l.attached {
			starters[l.job]++
		}
	}
	for job, n := range starters {
		require.Equal(t, 1, n, "requests not attached to job %s", job)
	}
	require.LessOrEqual(t, len(abJobs), len(requests))
	return links
}

// traceID returns the trace id of a W3C traceparent.
func traceID(tp string) string {
	parts := strings.Split(tp, "-")
	if len(parts) != 4 {
		return ""
	}
	return parts[1]
}

// metric finds the series of family name whose labels include want.
func metric(fams map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	fam := fams[name]
	if fam == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range fam.GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
					break
				}
			}
			if !found {
				match = false
				break
			}
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

// value sums the values of series: counters, gauges, and the sample
// counts of histograms.
func value(ms []*dto.Metric) float64 {
	var v float64
	for _, m := range ms {
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v
}
