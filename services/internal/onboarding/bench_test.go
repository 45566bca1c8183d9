package onboarding

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
	"github.com/aam-mesh/aam/pkg/emulator"
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
	n := envInt("ONBOARD_BENCH_REQUESTS", 1000)
	latency := 200 * time.Millisecond
	if s := os.Getenv("ONBOARD_BENCH_LATENCY"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(b, err)
		latency = d
	}
	for range b.N {
		runOnboardings(b, n, latency, envInt("ONBOARD_BENCH_CONCURRENCY", 0))
	}
}

func runOnboardings(b *testing.B, n int, latency time.Duration, concurrency int) {
	b.StopTimer()
	env := testenv.New(b, testenv.Options{NoRelay: true})
	env.StartRelay()
	broker := env.StartBroker()
	env.Emulator.SetFaults(emulator.Faults{Latency: latency})

	deps := *env.Deps
	deps.Log = zap.NewNop()
	ab, err := airbyte.New(airbyte.Config{BaseURL: env.AirbyteURL, ClientID: env.Emulator.Config().ClientID,
		ClientSecret: airbyte.NewSecret(env.Emulator.Config().ClientSecret), RateLimit: -1})
	require.NoError(b, err)
	w, err := New(&deps, ab, broker.Client, Config{WorkspaceID: env.Emulator.WorkspaceID(),
		DestinationID: env.Emulator.DestinationID(), Concurrency: concurrency})
	require.NoError(b, err)
	env.Go(w.Run)

	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	latencies := make([]time.Duration, 0, n)
	failed := 0
	done := make(chan struct{})
	sub, err := env.NC.Subscribe("aam.events.connection.>", func(m *nats.Msg) {
		id := m.Header.Get("ce-" + events.ExtCorrelationID)
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		t, ok := sent[id]
		if !ok {
			return
		}
		delete(sent, id)
		if m.Subject != events.SubjectOnboarded {
			failed++
		}
		latencies = append(latencies, now.Sub(t))
		if len(latencies) == n {
			close(done)
		}
	})
	require.NoError(b, err)
	b.Cleanup(func() { _ = sub.Unsubscribe() })

	msgs := make([]*nats.Msg, n)
	ids := make([]string, n)
	for i := range msgs {
		ev, err := events.New(events.TypeOnboardRequested, "/bench", events.OnboardRequested{
			SourceType: "Salesforce", ConnectionName: fmt.Sprintf("Bench %d", i), CredentialID: testenv.SalesforceCredentialID})
		require.NoError(b, err)
		msgs[i], err = events.ToMsg(events.SubjectOnboardRequest, ev, events.Binary)
		require.NoError(b, err)
		ids[i] = ev.ID()
	}
	b.StartTimer()
	start := time.Now()
	for i, m := range msgs {
		mu.Lock()
		sent[ids[i]] = time.Now()
		mu.Unlock()
		for {
			_, err := env.JS.PublishMsgAsync(m, jetstream.WithMsgID(ids[i]))
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				require.NoError(b, err)
				break
			}
			<-env.JS.PublishAsyncComplete()
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d onboardings answered", len(latencies), n)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	require.Zero(b, failed, "onboardings failed")
	require.Len(b, env.Emulator.Sources(), n)
	require.Len(b, env.Emulator.Connections(), n)

	slices.Sort(latencies)
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(latencies)))) - 1
		return float64(latencies[max(i, 0)].Milliseconds()) / 1000
	}
	b.ReportMetric(elapsed.Seconds(), "total_s")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "onboardings/s")
	b.ReportMetric(pct(0.50), "p50_s")
	b.ReportMetric(pct(0.99), "p99_s")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
