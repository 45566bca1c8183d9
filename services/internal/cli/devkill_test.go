package cli_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/emulator"
)

// TestDevCarriesOnAfterKill kills `aam dev` (SIGKILL) while it onboards a
// batch of connections, starts it again on the same data folder, and shows
// that every accepted request is answered exactly once, with one Airbyte
// source and connection each. Airbyte (the emulator) runs outside the
// killed process, as a real Airbyte would.
func TestDevCarriesOnAfterKill(t *testing.T) {
	t.Parallel()
	const requests = 24
	emu := emulator.New(emulator.Config{Seed: 7})
	emu.SetFaults(emulator.Faults{Latency: 40 * time.Millisecond})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)

	schema := dbtest.NewSchema(t, dbtest.Options{NoMigrate: true})
	ports := freePorts(t, 3)
	natsAddr, httpAddr, gwAddr := ports[0], ports[1], ports[2]
	dataDir := t.TempDir()
	env := append(os.Environ(), childEnv+"=1",
		"DATABASE_URL="+schema.URL, "LOG_LEVEL=warn",
		"AIRBYTE_API_URL="+srv.URL+"/api/public/v1",
		"AIRBYTE_CLIENT_ID="+emulator.DefaultClientID, "AIRBYTE_CLIENT_SECRET="+emulator.DefaultClientSecret,
		"AIRBYTE_WORKSPACE_ID="+emu.WorkspaceID(), "AIRBYTE_DESTINATION_ID="+emu.DestinationID(),
		"AIRBYTE_RATE_LIMIT=-1",
		"SALESFORCE_CLIENT_ID=kill-test-app", "SALESFORCE_CLIENT_SECRET=kill-test-secret",
		"SALESFORCE_REFRESH_TOKEN=kill-test-token",
		// A killed worker's requests come back after AckWait.
		"ONBOARDING_ACK_WAIT=2s")
	start := func() (*exec.Cmd, *syncBuffer) {
		return runDev(t, env, httpAddr, 60*time.Second, "--data-dir", dataDir,
			"--nats-addr", natsAddr, "--http-addr", httpAddr, "--gateway-addr", gwAddr)
	}

	first, _ := start()
	nc, err := nats.Connect("nats://"+natsAddr, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// count reads the number of onboarded facts from the replayable
	// stream, which a reconnecting subscriber cannot miss.
	count := func() int {
		s, err := js.Stream(ctx, bus.StreamEvents)
		if err != nil {
			return -1
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.SubjectOnboarded))
		if err != nil {
			return -1
		}
		return int(info.State.Subjects[events.SubjectOnboarded])
	}
	var ids []string
	for i := range requests {
		e, err := events.New(events.TypeOnboardRequested, "/test/kill", events.OnboardRequested{
			SourceType: "Salesforce", ConnectionName: fmt.Sprintf("Kill %02d", i), CredentialID: "salesforce-prod"})
		require.NoError(t, err)
		_, err = bus.NewPublisher(js).Publish(ctx, events.SubjectOnboardRequest, e, events.Binary)
		require.NoError(t, err)
		ids = append(ids, e.ID())
	}
	// Kill it in the middle of the work.
	require.Eventually(t, func() bool { return count() >= 3 }, 30*time.Second, 10*time.Millisecond)
	require.Less(t, count(), requests, "the kill comes before the work is done")
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()

	second, out := start()
	require.Eventually(t, func() bool { return count() >= requests }, 60*time.Second, 20*time.Millisecond,
		"answered %d of %d; aam dev said:\n%s", count(), requests, out.String())
	_ = second

	// Exactly once: one fact per request in the replayable stream, one
	// source and one connection per request in Airbyte.
	c, err := js.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectOnboarded}})
	require.NoError(t, err)
	inStream := map[string]int{}
	for len(inStream) < requests {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		require.NoError(t, err)
		inStream[m.Headers().Get("ce-correlationid")]++
	}
	if m, err := c.Next(jetstream.FetchMaxWait(500 * time.Millisecond)); err == nil {
		t.Fatalf("an extra onboarded fact for %s", m.Headers().Get("ce-correlationid"))
	}
	for _, id := range ids {
		require.Equal(t, 1, inStream[id], "request %s", id)
	}
	require.Len(t, emu.Sources(), requests, "one Airbyte source per request")
	require.Len(t, emu.Connections(), requests, "one Airbyte connection per request")
}
