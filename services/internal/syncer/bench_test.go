package syncer

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
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
	n := testenv.EnvInt("SYNC_BENCH_REQUESTS", 10000)
	conns := testenv.EnvInt("SYNC_BENCH_CONNECTIONS", 500)
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
	deps, ab := h.QuietWorkerDeps()
	w, err := New(deps, ab, Config{})
	require.NoError(b, err)
	h.Go(w.Run)

	load := h.NewLoad(events.TypeSyncRequested, n, func(i int) any {
		return events.SyncRequested{ConnectionID: conns[i%numConns].ID}
	}, "aam.events.sync.>", func(subject string) bool { return subject == events.SubjectSyncStarted })
	var interval time.Duration
	if rate > 0 {
		interval = time.Second / time.Duration(rate)
	}
	b.StartTimer()
	start := load.Send(interval)
	load.Wait(5 * time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()

	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(load.Percentile(0.50)), "p50_ms")
	b.ReportMetric(ms(load.Percentile(0.99)), "p99_ms")
	b.ReportMetric(ms(load.Percentile(1)), "max_ms")
	require.Equal(b, n, len(h.Emulator.Jobs()), "one job per request")
}
