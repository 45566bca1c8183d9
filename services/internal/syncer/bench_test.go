package syncer

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// BenchmarkSyncPipeline drives sync requests through the whole pipeline:
// publish → worker → emulator (zero latency) → registry → outbox relay →
// terminal fact on JetStream, and reports throughput and the latency from
// publish to the terminal fact. Run it with
//
//	go test -run '^$' -bench SyncPipeline -benchtime 1x ./internal/syncer/
//
// SYNC_BENCH_REQUESTS (default 10000) sets the number of requests,
// SYNC_BENCH_CONNECTIONS (default 500) the number of connections they are
// spread over.
func BenchmarkSyncPipeline(b *testing.B) {
	n := envInt("SYNC_BENCH_REQUESTS", 10000)
	conns := envInt("SYNC_BENCH_CONNECTIONS", 500)
	for _, rate := range []int{0, 1000} {
		name := "max"
		if rate > 0 {
			name = fmt.Sprintf("%drps", rate)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				runPipeline(b, n, conns, rate)
			}
		})
	}
}

func runPipeline(b *testing.B, n, numConns, rate int) {
	b.StopTimer()
	h := setup(b, envOptions{})
	conns := make([]testenv.Seeded, numConns)
	for i := range conns {
		conns[i] = h.SeedConnection()
	}
	// The test environment logs everything; the worker under measurement
	// logs nothing and calls Airbyte without the recording transport.
	deps := *h.Deps
	deps.Log = zap.NewNop()
	ab, err := airbyte.New(airbyte.Config{BaseURL: h.AirbyteURL, ClientID: h.Emulator.Config().ClientID,
		ClientSecret: airbyte.NewSecret(h.Emulator.Config().ClientSecret), RateLimit: -1,
	})
	require.NoError(b, err)
	w, err := New(&deps, ab, Config{})
	require.NoError(b, err)
	h.Go(w.Run)

	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	latencies := make([]time.Duration, 0, n)
	done := make(chan struct{})
	sub, err := h.NC.Subscribe("aam.events.sync.>", func(m *nats.Msg) {
		if m.Subject == events.SubjectSyncStarted {
			return
		}
		id := m.Header.Get("ce-" + events.ExtCorrelationID)
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if t, ok := sent[id]; ok {
			latencies = append(latencies, now.Sub(t))
			delete(sent, id)
			if len(latencies) == n {
				close(done)
			}
		}
	})
	require.NoError(b, err)
	b.Cleanup(func() { _ = sub.Unsubscribe() })

	msgs := make([]*nats.Msg, n)
	ids := make([]string, n)
	for i := range msgs {
		ev, err := events.New(events.TypeSyncRequested, "/bench", events.SyncRequested{ConnectionID: conns[i%numConns].ID})
		require.NoError(b, err)
		msgs[i], err = events.ToMsg(events.SubjectSyncRequest, ev, events.Binary)
		require.NoError(b, err)
		ids[i] = ev.ID()
	}
	b.StartTimer()
	start := time.Now()
	var interval time.Duration
	if rate > 0 {
		interval = time.Second / time.Duration(rate)
	}
	for i, m := range msgs {
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
		}
		mu.Lock()
		sent[ids[i]] = time.Now()
		mu.Unlock()
		for {
			_, err := h.JS.PublishMsgAsync(m, jetstream.WithMsgID(ids[i]))
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				require.NoError(b, err)
				break
			}
			<-h.JS.PublishAsyncComplete()
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d requests answered", len(latencies), n)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	slices.Sort(latencies)
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(latencies)))) - 1
		return float64(latencies[max(i, 0)].Microseconds()) / 1000
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "max_ms")
	require.Equal(b, n, len(h.Emulator.Jobs()), "one job per request")

}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
