package onboarding

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// BenchmarkOnboardConcurrent publishes many onboard requests at once with
// every Airbyte call delayed (the target: 1,000 onboardings with 200 ms per
// call complete in at most 15 s with the default concurrency), and reports
// the time until the last connection.onboarded fact and the latency
// percentiles from publish to fact. Run it with
//
//	go test -run '^$' -bench OnboardConcurrent -benchtime 1x ./internal/onboarding/
//
// ONBOARD_BENCH_REQUESTS (default 1000), ONBOARD_BENCH_LATENCY (default
// 200ms) and ONBOARD_BENCH_CONCURRENCY (default: Config's) tune it.
func BenchmarkOnboardConcurrent(b *testing.B) {
	n := testenv.EnvInt("ONBOARD_BENCH_REQUESTS", 1000)
	latency := 200 * time.Millisecond
	if s := os.Getenv("ONBOARD_BENCH_LATENCY"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(b, err)
		latency = d
	}
	for range b.N {
		runOnboardings(b, n, latency, testenv.EnvInt("ONBOARD_BENCH_CONCURRENCY", 0))
	}
}

func runOnboardings(b *testing.B, n int, latency time.Duration, concurrency int) {
	b.StopTimer()
	env := testenv.New(b, testenv.Options{NoRelay: true})
	env.StartRelay()
	broker := env.StartBroker()
	env.Emulator.SetFaults(emulator.Faults{Latency: latency})

	deps, ab := env.QuietWorkerDeps()
	w, err := New(deps, ab, broker.Client, Config{WorkspaceID: env.Emulator.WorkspaceID(),
		DestinationID: env.Emulator.DestinationID(), Delivery: app.Delivery{Concurrency: concurrency}})
	require.NoError(b, err)
	env.Go(w.Run)

	load := env.NewLoad(events.TypeOnboardRequested, n, func(i int) any {
		return events.OnboardRequested{SourceType: "Salesforce", ConnectionName: fmt.Sprintf("Bench %d", i),
			CredentialID: testenv.SalesforceCredentialID}
	}, "aam.events.connection.>", nil)
	b.StartTimer()
	start := load.Send(0)
	load.Wait(5 * time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	require.Equal(b, n, load.Answered(events.SubjectOnboarded), "onboardings failed")
	require.Len(b, env.Emulator.Sources(), n)
	require.Len(b, env.Emulator.Connections(), n)

	pct := func(p float64) float64 { return float64(load.Percentile(p).Milliseconds()) / 1000 }
	b.ReportMetric(elapsed.Seconds(), "total_s")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "onboardings/s")
	b.ReportMetric(pct(0.50), "p50_s")
	b.ReportMetric(pct(0.99), "p99_s")
}
